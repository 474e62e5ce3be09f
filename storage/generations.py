"""Where an index lives on disk, its generations, and how a new one replaces the old atomically.

Layout of an index directory:

    INDEX/current -> builds/g000007-20261123-101500-4242   (a relative symlink)
    INDEX/previous -> builds/g000006-…                      (the generation it replaced)
    INDEX/builds/<name>/                                    (Whoosh files + manifest.json)
    INDEX/builds/.incoming-<name>-<pid>/                    (a replica's copy, until verified)
    INDEX/writer.lock                                       (held by whoever writes)
    INDEX/last-run.json                                     (the last index/reindex's outcome)

Every run that changes the index publishes a new generation folder: a full build
writes all of its files, an incremental reindex hard-links the unchanged segment
files of the current generation and adds its own (Whoosh never rewrites a file:
deletions live in the table of contents, which each commit writes anew). The
folder is fsynced and then `current` is swapped to it with one rename, so a
reader sees either the old generation or the new one and no file ever changes
under it; `finsearch rollback` is the same swap back to `previous`. A published
generation never changes, so a read replica is a copy of the folder, verified
against the file list its manifest keeps, then published with the same swap
(indexer/replicate.py).
"""
from __future__ import annotations

import datetime as dt
import fcntl
import functools
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index

log = logging.getLogger(__name__)

CURRENT = "current"
PREVIOUS = "previous"
BUILDS = "builds"
LOCK = "writer.lock"
MANIFEST = "manifest.json"
OUTCOME = "last-run.json"
RETIRED = ".retired"  # in a build folder: when it stopped being current (epoch seconds)
WHOOSH_LOCK = "MAIN_WRITELOCK"
DEFAULT_INDEX = Path.home() / ".local" / "share" / "finsearch" / "index"

# A generation that is neither current nor previous is removed once it has been
# retired this long. Readers never hold a generation longer than one request or
# one CLI search (the engine rereads `current` before each one, and the web app
# answers within its time budget), so ten minutes is far past the last reader;
# a lease per reader would cost a file per request for no extra safety. A
# generation that was never published had no reader and goes at once.
RETIRED_GRACE_SECONDS = 600

# FINSEARCH_CRASH_AT=<point> makes the writer exit hard (os._exit) at that step,
# so tests can prove that a crash at any step loses nothing.
CRASH_ENV = "FINSEARCH_CRASH_AT"
CRASH_POINTS = ("after-segments", "before-fsync", "before-swap", "after-swap", "during-cleanup")
CRASH_EXIT_CODE = 86


class IndexMissing(Exception):
    """There is no index at that location yet."""


class IndexIncompatible(IndexMissing):
    """The index was built by a finsearch that analyses or stores text differently."""


class IndexBusy(Exception):
    """Another process is writing this index."""


class NothingToRollBack(Exception):
    """There is no previous generation to go back to."""


class GenerationIncomplete(Exception):
    """A generation folder lacks a file its manifest lists (or has it at another size), or won't open."""


def crash_point(name: str) -> None:
    assert name in CRASH_POINTS, name
    if os.environ.get(CRASH_ENV) == name:
        log.warning("crashing at %s (%s)", name, CRASH_ENV)
        os._exit(CRASH_EXIT_CODE)


def resolve_root(index_dir: str | os.PathLike | None) -> Path:
    """--index, else $FINSEARCH_INDEX, else ~/.local/share/finsearch/index."""
    return Path(index_dir or os.environ.get("FINSEARCH_INDEX") or DEFAULT_INDEX).expanduser()


def current_build(root: Path) -> Path:
    link = root / CURRENT
    try:
        target = os.readlink(link)
    except OSError:
        raise IndexMissing(f"no index at {root} (build one with: finsearch index ARCHIVE --index {root})") from None
    return root / target


def open_current(root: Path, check: bool = True) -> tuple[whoosh_index.Index, Path]:
    """The Whoosh index the `current` link points to, and the link's target.

    With `check`, raises IndexIncompatible unless its manifest says this finsearch reads it correctly.
    """
    build = current_build(root)
    if not whoosh_index.exists_in(build):
        raise IndexMissing(f"the index at {root} is incomplete; rebuild it with: finsearch index ARCHIVE")
    if check:
        problem = manifest_problem(read_manifest(build))
        if problem:
            raise IndexIncompatible(f"the index at {root} {problem}; rebuild it with: "
                                    f"finsearch reindex ARCHIVE --full --index {root}")
    return whoosh_index.open_dir(str(build)), build


# -- the manifest: what a build was made with ------------------------------------


@functools.cache
def expected_manifest() -> dict[str, Any]:
    """What this finsearch writes into an index (and needs to read one correctly); not to be mutated."""
    from finsearch.analysis import fingerprint, near_duplicates
    from finsearch.storage.fs1 import POSTINGS_FORMAT
    from finsearch.storage.schema import make_schema
    schema = make_schema()
    return {"schema": {name: type(schema[name]).__name__ for name in schema.names()},
            "analysis": {**fingerprint(), "signatures": near_duplicates.fingerprint()},
            "postings": POSTINGS_FORMAT}


def write_manifest(build: Path, generation: int) -> None:
    """Written last, when the generation is complete: its file list lets a copy prove it is whole."""
    manifest = {"finsearch_version": metadata.version("finsearch"), "generation": generation,
                "created": time.time(), **expected_manifest(), "files": generation_files(build)}
    (build / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")


def read_manifest(build: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((build / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def manifest_problem(manifest: dict[str, Any] | None, reindexing: bool = False) -> str | None:
    """Why an index with this manifest can't be read correctly (None: it can).

    An index that lacks only the fields the nightly reindex alone reads, or whose postings
    are in an older format, is served as it is; `reindexing` (the reindex asking) says it
    needs rebuilding, which the reindex does in full by itself, once.
    """
    from finsearch.storage.schema import REINDEX_ONLY_FIELDS
    if manifest is None:
        return "has no manifest (it was built by an older finsearch)"
    expected = expected_manifest()
    schema = manifest.get("schema")
    built_by = f"built by finsearch {manifest.get('finsearch_version', '?')}"
    lacking = [name for name in REINDEX_ONLY_FIELDS if isinstance(schema, dict) and name not in schema]
    if lacking:
        schema = {**schema, **{name: expected["schema"][name] for name in lacking}}  # type: ignore[dict-item]
    if schema != expected["schema"]:
        return f"has other fields ({built_by})"
    if lacking and reindexing:
        return f"records no file sizes and times ({built_by})"
    analysis = manifest.get("analysis")
    if analysis != expected["analysis"]:
        changed = sorted(k for k in expected["analysis"] if not isinstance(analysis, dict)
                         or analysis.get(k) != expected["analysis"][k])
        return f"was analysed differently (changed: {', '.join(changed)})"
    # Any postings format is read (a segment records its codec); an older one is rewritten once.
    if reindexing and manifest.get("postings") != expected["postings"]:
        return f"has its postings in Whoosh's W3 format, not {expected['postings']} ({built_by})"
    return None


def generation_files(build: Path) -> dict[str, int]:
    """The files that make up a generation, by name, with their sizes (the manifest and the
    retirement marker aside, and Whoosh's lock and temporary files, which hold no data)."""
    return {path.name: path.stat().st_size for path in sorted(build.iterdir())
            if path.is_file() and path.name not in (MANIFEST, RETIRED, WHOOSH_LOCK) and not path.name.startswith(".")}


def verify_generation(build: Path) -> None:
    """Raises IndexIncompatible or GenerationIncomplete unless `build` is a whole generation this
    finsearch reads correctly: its manifest matches, every file it lists is there at its size, and
    Whoosh opens it. A manifest written before the file list existed is checked by opening only."""
    manifest = read_manifest(build)
    problem = manifest_problem(manifest)
    if problem:
        raise IndexIncompatible(f"the generation {build.name} {problem}")
    assert manifest is not None  # manifest_problem said so
    listed = manifest.get("files")
    if isinstance(listed, dict):
        present = generation_files(build)
        for name, size in sorted(listed.items()):
            if name not in present:
                raise GenerationIncomplete(f"the generation {build.name} lacks {name}")
            if present[name] != size:
                raise GenerationIncomplete(f"in the generation {build.name}, {name} has {present[name]} bytes "
                                           f"where its manifest says {size}")
    try:
        with whoosh_index.open_dir(str(build)).searcher() as searcher:
            searcher.doc_count()
    except Exception as error:  # Whoosh raises many kinds for a missing or damaged file
        raise GenerationIncomplete(f"the generation {build.name} cannot be opened "
                                   f"({type(error).__name__}: {error})") from None


def current_generation(root: Path) -> int:
    try:
        manifest = read_manifest(current_build(root))
    except IndexMissing:
        return 0
    return int(manifest.get("generation", 0)) if manifest else 0


# -- generations ------------------------------------------------------------------


def new_build_dir(root: Path) -> tuple[Path, int]:
    """A new, empty generation folder and its generation number (one more than any before)."""
    builds = root / BUILDS
    builds.mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group(1)) for p in builds.iterdir() if (m := _GENERATION.match(p.name))]
    generation = max([current_generation(root), *numbers]) + 1
    path = builds / f"g{generation:06d}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    path.mkdir()
    return path, generation


_GENERATION = re.compile(r"g(\d+)-")


def incoming_dir(root: Path, name: str) -> Path:
    """Where a replica copies the generation `name` before verifying it; a name no reader follows
    and that remove_stale_builds() removes at once if a killed copy leaves it behind."""
    (root / BUILDS).mkdir(parents=True, exist_ok=True)
    return root / BUILDS / f".incoming-{name}-{os.getpid()}"


def link_generation(source: Path, build: Path) -> None:
    """Hard-link the Whoosh files of `source` into the empty `build` (they are never rewritten)."""
    for path in source.iterdir():
        if path.is_file() and path.name not in (WHOOSH_LOCK, MANIFEST, RETIRED):
            os.link(path, build / path.name)


def publish(root: Path, build: Path) -> None:
    """Make `build` durable, point `current` at it in one atomic rename, then drop stale builds.

    The build it replaces stays as `previous` (for `rollback`, and for a request
    that began on it a moment ago).
    """
    crash_point("before-fsync")
    _fsync_tree(build)
    crash_point("before-swap")
    try:
        replaced: Path | None = current_build(root)
    except IndexMissing:
        replaced = None
    if replaced is not None:
        _mark_retired(replaced)
        _link(root, PREVIOUS, replaced)
    _link(root, CURRENT, build)
    _fsync(root)
    log.info("published %s", build.name)
    crash_point("after-swap")
    remove_stale_builds(root)


def rollback(root: Path) -> tuple[Path, Path]:
    """Point `current` back at `previous` in one atomic rename; returns (left, now current).

    The caller holds the writer lock. `previous` is dropped, so a second rollback
    is refused rather than swapping back and forth.
    """
    current = current_build(root)
    try:
        previous = root / os.readlink(root / PREVIOUS)
    except OSError:
        raise NothingToRollBack(f"no previous generation to roll back to at {root}") from None
    if previous.resolve() == current.resolve() or not whoosh_index.exists_in(previous):
        raise NothingToRollBack(f"no previous generation to roll back to at {root}")
    _mark_retired(current)
    _link(root, CURRENT, previous)
    (root / PREVIOUS).unlink()
    _fsync(root)
    log.info("rolled back from %s to %s", current.name, previous.name)
    return current, previous


def rollback_index(root: Path) -> tuple[Path, Path]:
    """`finsearch rollback`: rollback() under the writer lock, its outcome recorded."""
    current_build(root)  # no index: say so without creating anything
    with writer_lock(root):
        left, now = rollback(root)
    record_outcome(root, {"command": "rollback", "ok": True, "generation": current_generation(root),
                          "from": left.name, "to": now.name})
    return left, now


def discard(build: Path) -> None:
    """Remove a generation that was never published (a refused or failed run)."""
    shutil.rmtree(build, ignore_errors=True)


def _mark_retired(build: Path) -> None:
    (build / RETIRED).write_text(f"{time.time()}\n")


def _retired_for(build: Path, now: float) -> float | None:
    """Seconds since `build` stopped being current; None if it never was."""
    try:
        return now - float((build / RETIRED).read_text())
    except (OSError, ValueError):
        return None


def _link(root: Path, name: str, build: Path) -> None:
    tmp_link = root / f".{name}.{os.getpid()}"
    if tmp_link.is_symlink():
        tmp_link.unlink()
    os.symlink(build.relative_to(root), tmp_link)
    os.replace(tmp_link, root / name)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(build: Path) -> None:
    for path in build.iterdir():
        if path.is_file():
            _fsync(path)
    _fsync(build)
    _fsync(build.parent)


def remove_stale_builds(root: Path, now: float | None = None) -> list[str]:
    """Delete the builds no reader can still use; returns their names.

    Kept: current, previous, and any build retired less than RETIRED_GRACE_SECONDS
    ago. Removed: older retired builds, and builds never published (what a killed
    or refused run left).
    """
    now = time.time() if now is None else now
    keep = set()
    for name in (CURRENT, PREVIOUS):
        try:
            keep.add((root / os.readlink(root / name)).resolve())
        except OSError:
            continue
    for leftover in root.glob(".*.*"):  # temporary links of a killed swap
        if leftover.is_symlink():
            leftover.unlink()
    removed: list[str] = []
    builds = root / BUILDS
    if not builds.is_dir():
        return removed
    for build in sorted(builds.iterdir()):
        if build.resolve() in keep:
            continue
        retired = _retired_for(build, now)
        if retired is not None and retired < RETIRED_GRACE_SECONDS:
            continue
        _remove_build(build)
        removed.append(build.name)
    if removed:
        log.info("removed stale builds: %s", ", ".join(removed))
    return removed


def _remove_build(build: Path) -> None:
    files = sorted(build.iterdir()) if build.is_dir() else []
    for number, path in enumerate(files):
        if path.is_file() or path.is_symlink():
            path.unlink()
        if number == 0:
            crash_point("during-cleanup")
    shutil.rmtree(build, ignore_errors=True)


# -- the writer lock and the outcome of the last run ----------------------------


@contextmanager
def writer_lock(root: Path) -> Iterator[None]:
    """Exclusive right to write the index at `root`; raises IndexBusy at once if taken.

    A POSIX record lock, not flock(): forked writer workers don't inherit it, so
    a killed run can't leave the lock held by its orphans.
    """
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK, "a+") as handle:
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise IndexBusy(f"another process is writing the index at {root}") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def record_outcome(root: Path, outcome: dict[str, Any]) -> None:
    """Write INDEX/last-run.json (atomically) for monitoring: /healthz shows it."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f".{OUTCOME}.{os.getpid()}"
        tmp.write_text(json.dumps({"finished": now_iso(), **outcome}, ensure_ascii=False), "utf-8")
        os.replace(tmp, root / OUTCOME)
    except OSError as error:  # monitoring must never turn a good run into a failed one
        log.warning("could not record the run's outcome in %s: %s", root, error)


def read_outcome(root: Path) -> dict[str, Any] | None:
    try:
        outcome = json.loads((root / OUTCOME).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return outcome if isinstance(outcome, dict) else None
