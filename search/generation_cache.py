"""Arrays worked out from one index generation (its company mentions, its suggestion vocabulary),
kept on disk for the next process.

A published generation never changes, so what is computed from it holds as long as it does: a
CLI call or a new server worker loads the file (milliseconds) instead of computing it again (seconds
on a large index). The files are in the cache folder (FINSEARCH_CACHE, where jieba keeps its
dictionary), named by what they hold and a digest of the generation's manifest (the checksum of
every file of it) and of the inputs; one process computes while the others wait for its file, and
only the newest few are kept.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from finsearch.analysis.segmenter import cache_dir, write_cache_file

log = logging.getLogger(__name__)

FOLDER = "generations"
KEEP_FILES = 8  # of each kind: a few indexes (or tests) side by side, each file of a few MB at most


def digest(*parts: Any) -> str:
    """A short name for what a file depends on (JSON-able parts: a manifest, a version, inputs)."""
    return hashlib.blake2b(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode(),
                           digest_size=12).hexdigest()


SEPARATOR = "\x1f"  # between the strings of a list kept as one array (no word holds a control character)


def packed(strings: list[str]) -> np.ndarray:
    """A list of strings as one array of a cache file (`unpacked` reads it back)."""
    assert not any(SEPARATOR in string for string in strings), "a string to pack holds the separator"
    return np.frombuffer(SEPARATOR.join(strings).encode("utf-8"), dtype=np.uint8)


def unpacked(array: np.ndarray) -> list[str]:
    text = array.tobytes().decode("utf-8")
    return text.split(SEPARATOR) if text else []


def cached_arrays(kind: str, key: str, make: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays of `kind` for `key` (see `digest`): read from the cache, else made and written
    there. A cache that cannot be read or written only costs the making."""
    try:
        folder = cache_dir() / FOLDER
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        log.warning("no cache folder (%s): %s made in this process only", error, kind)
        return make()
    path = folder / f"{kind}-{key}.npz"
    found = _read(path)
    if found is not None:
        return found
    with _locked(folder / f"{kind}-{key}.lock"):  # another process making the same file: wait for it
        found = _read(path)
        if found is not None:
            return found
        arrays = make()
        write_cache_file(path, lambda out: np.savez(out, allow_pickle=False, **arrays))
    _prune(folder, kind)
    return arrays


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    try:
        handle = open(path, "a+b")
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released by the kernel if this process dies
        yield


def _read(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {name: stored[name] for name in stored.files}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, EOFError):  # cut short or damaged: made again
        log.warning("unreadable cache file %s: made again", path, exc_info=True)
        return None


def _prune(folder: Path, kind: str) -> None:
    """Only the KEEP_FILES newest files of `kind`, and their lock files."""
    try:
        files = sorted(folder.glob(f"{kind}-*.npz"), key=lambda f: f.stat().st_mtime, reverse=True)
        for old in files[KEEP_FILES:]:
            old.unlink(missing_ok=True)
            old.with_suffix(".lock").unlink(missing_ok=True)
    except OSError:  # another process pruning at the same time
        pass
