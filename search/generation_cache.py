"""Arrays worked out from one index generation (its company mentions, its suggestion vocabulary),
kept on disk for the next process.

A published generation never changes, so what is computed from it holds as long as it does: a
CLI call or a new server worker loads the file (milliseconds) instead of computing it again (seconds
on a large index). The files are in the cache folder (FINSEARCH_CACHE, where jieba keeps its
dictionary), named by what they hold, the index they come from and a digest of the generation's
manifest (the checksum of every file of it) and of the inputs; one process computes while the others
wait for its file.

What is kept is pruned per index, so that one index's churn (a day of reindexing, a benchmark's
builds) never pushes out what another still serves: each index keeps its newest few generations'
files, and the folder the files of the indexes used most recently (reading a file counts as use).
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from finsearch.analysis.segmenter import cache_dir, write_cache_file

log = logging.getLogger(__name__)

FOLDER = "generations"
# Of each kind, each file of a few MB at most: per index the generations a server may still
# serve or roll back to, and the indexes used most recently side by side on one machine.
KEEP_GENERATIONS = 3
KEEP_INDEXES = 8


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


class GenerationCache:
    """The cache files of one index (its folder, resolved: two paths to one index share them)."""

    def __init__(self, index_root: Path):
        self.index = digest(str(Path(index_root).resolve()))

    def arrays(self, kind: str, key: str, make: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """The arrays of `kind` for `key` (see `digest`): read from the cache, else made and written
        there. A cache that cannot be read or written only costs the making."""
        try:
            folder = cache_dir() / FOLDER
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            log.warning("no cache folder (%s): %s made in this process only", error, kind)
            return make()
        name = f"{kind}-{self.index}-{key}"
        path = folder / f"{name}.npz"
        found = _read(path)
        if found is not None:
            return found
        with _locked(folder / f"{name}.lock"):  # another process making the same file: wait for it
            found = _read(path, warn=False)  # said once already if it is damaged
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


def _read(path: Path, warn: bool = True) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as stored:
            found = {name: stored[name] for name in stored.files}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:  # cut short or damaged: made again
        if warn:
            log.warning("unreadable cache file %s (%s): made again", path, error)
        return None
    with contextlib.suppress(OSError):  # a read-only cache folder: the file only ages
        os.utime(path)  # used: pruned after the files of indexes nobody reads
    return found


def _prune(folder: Path, kind: str) -> None:
    """Of `kind`, each index's KEEP_GENERATIONS newest files, of the KEEP_INDEXES indexes used most
    recently (and their lock files); a file named otherwise (an older finsearch's) goes too."""
    try:
        files = sorted(folder.glob(f"{kind}-*.npz"), key=lambda f: f.stat().st_mtime, reverse=True)
        by_index: dict[str, list[Path]] = {}
        stale = []
        for file in files:  # newest first, so the indexes too come in order of their latest use
            if file.stem.count("-") == 2:
                by_index.setdefault(file.stem.split("-")[1], []).append(file)
            else:
                stale.append(file)
        for rank, kept in enumerate(by_index.values()):
            stale += kept[KEEP_GENERATIONS if rank < KEEP_INDEXES else 0:]
        for old in stale:
            old.unlink(missing_ok=True)
            old.with_suffix(".lock").unlink(missing_ok=True)
    except OSError:  # another process pruning at the same time
        pass
