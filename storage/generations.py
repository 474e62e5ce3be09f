"""Where an index lives on disk, its generations, and how a new one replaces the old atomically.

Layout of an index directory:

    INDEX/current -> builds/g000007-20261123-101500-4242   (a relative symlink)
    INDEX/previous -> builds/g000006-…                      (the generation it replaced)
    INDEX/builds/<name>/                                    (Whoosh files + manifest.json)
    INDEX/builds/.incoming-<name>-<pid>/                    (a replica's copy, until verified)
    INDEX/writer.lock                                       (held by whoever writes)
    INDEX/last-run.json                                     (the last run's outcome)

Every run that changes the index publishes a new generation folder: a full build
writes all of its files, an incremental reindex hard-links the unchanged segment
files of the current generation (once their checksums are verified) and adds its
own (Whoosh never rewrites a file: deletions live in the table of contents, which
each commit writes anew). The folder is fsynced and then `current` is swapped to it
with one rename, so a reader sees either the old generation or the new one and no
file ever changes under it; `finsearch rollback` is the same swap back.

Like Lucene's commit points and deletion policy: the last KEEP_GENERATIONS published
generations are kept (rollback has somewhere to go), and an older one is removed only
when no reader holds it. A reader holds a generation by a shared lock (flock) on its
manifest for as long as it reads it (`Generation`): released by the kernel when the
reader's process ends, so no reader can leave a generation held forever.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import fcntl
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index

from finsearch.storage.manifest import (
    MANIFEST,
    WHOOSH_LOCK,
    Damage,
    FileEntry,
    IndexDamaged,
    IndexIncompatible,
    IndexMissing,
    checksum_damage,
    damaged,
    listed_files,
    manifest_problem,
    quick_damage,
    read_manifest,
    size_damage,
)

log = logging.getLogger(__name__)

CURRENT = "current"
PREVIOUS = "previous"
BUILDS = "builds"
LOCK = "writer.lock"
OUTCOME = "last-run.json"
PUBLISHED = ".published"  # in a build folder: it was made current once (epoch seconds)
DEFAULT_INDEX = Path.home() / ".local" / "share" / "finsearch" / "index"
KEEP_GENERATIONS = 3  # published generations kept for rollback, the current one included
# last-run.json is written at least this long (padded with spaces, which JSON ignores), so
# that on a full disk the outcome can still be written over it in place, needing no new block.
OUTCOME_BYTES = 4096

# FINSEARCH_CRASH_AT=<point> makes the writer exit hard (os._exit) at that step,
# so tests can prove that a crash at any step loses nothing.
CRASH_ENV = "FINSEARCH_CRASH_AT"
CRASH_POINTS = ("after-segments", "before-fsync", "before-swap", "after-swap", "during-cleanup")
CRASH_EXIT_CODE = 86


class IndexBusy(Exception):
    """Another process is writing this index."""


class NothingToRollBack(Exception):
    """There is no generation to go back to (or not the one asked for)."""


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
    """The Whoosh index the `current` link points to, and the link's target (for the writer).

    With `check`, raises IndexIncompatible unless its manifest says this finsearch reads it
    correctly. Raises IndexDamaged if a file its manifest lists is missing or short (mapping it
    would fault).
    """
    build = current_build(root)
    if not whoosh_index.exists_in(build):
        raise IndexMissing(f"the index at {root} is incomplete; rebuild it with: finsearch index ARCHIVE")
    manifest = read_manifest(build)
    if check:
        problem = manifest_problem(manifest)
        if problem:
            raise IndexIncompatible(f"the index at {root} {problem}; rebuild it with: "
                                    f"finsearch reindex ARCHIVE --full --index {root}")
    listed = listed_files(manifest)
    if listed is not None and (damage := size_damage(build, listed)):
        raise damaged(build, damage)
    return whoosh_index.open_dir(str(build)), build


def generation_number(build: Path) -> int:
    match = _GENERATION.match(build.name)
    return int(match.group(1)) if match else 0


_GENERATION = re.compile(r"g(\d+)-")


def current_generation(root: Path) -> int:
    try:
        manifest = read_manifest(current_build(root))
    except IndexMissing:
        return 0
    return int(manifest.get("generation", 0)) if manifest else 0


# -- reading a generation ---------------------------------------------------------


class Generation:
    """The current generation, opened for reading and held until `close()`.

    While held it is not removed, whatever the writer publishes meanwhile: a long export
    reads one generation from its first row to its last. Opening checks the manifest
    (IndexIncompatible), that every file it lists is there at its size and that a file
    written again since holds the bytes it was written with (IndexDamaged), before Whoosh
    maps any of them; `verify()` checks every byte against the checksums.
    """

    def __init__(self, root: Path):
        """Opens `current`: raises IndexMissing, IndexIncompatible or IndexDamaged."""
        for attempt in range(3):
            build = current_build(root)
            try:
                self._lease: int | None = _hold(build)
                break
            except FileNotFoundError:  # replaced and removed between reading the link and holding it
                if build.is_dir():  # there, but without a manifest: written by an older finsearch
                    raise IndexIncompatible(f"the index at {root} {manifest_problem(None)}; rebuild it with: "
                                            f"finsearch reindex ARCHIVE --full --index {root}") from None
                if attempt == 2:
                    raise IndexMissing(f"the index at {root} keeps changing under the reader; try again") from None
        self.build = build
        try:
            self.manifest = read_manifest(build) or {}
            problem = manifest_problem(self.manifest or None)
            if problem:
                raise IndexIncompatible(f"the index at {root} {problem}; rebuild it with: "
                                        f"finsearch reindex ARCHIVE --full --index {root}")
            self.files = listed_files(self.manifest) or {}
            if damage := quick_damage(build, self.files):
                raise damaged(build, damage)
            self.index = whoosh_index.open_dir(str(build))
        except BaseException:
            self.close()
            raise

    @property
    def name(self) -> str:
        return self.build.name

    @property
    def number(self) -> int:
        return int(self.manifest.get("generation", 0))

    @property
    def created(self) -> float | None:
        created = self.manifest.get("created")
        return created if isinstance(created, (int, float)) else None

    @property
    def size_bytes(self) -> int:
        return sum(entry.size for entry in self.files.values())

    def verify(self, between_files: Callable[[], None] | None = None) -> list[Damage]:
        """Every file against its checksum; the damaged ones (empty: whole)."""
        return checksum_damage(self.build, self.files, between_files)

    def close(self) -> None:
        if self._lease is not None:
            os.close(self._lease)
            self._lease = None


def _hold(build: Path) -> int:
    """A shared lock on the generation's manifest: remove_stale_builds leaves it while held."""
    fd = os.open(build / MANIFEST, os.O_RDONLY | os.O_CLOEXEC)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def _held(build: Path) -> bool:
    """Whether a reader (of any process) holds the generation."""
    try:
        fd = os.open(build / MANIFEST, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def verify_generation(build: Path, checksums: bool = True) -> None:
    """Raises IndexIncompatible or IndexDamaged unless `build` is a whole generation this finsearch
    reads correctly: its manifest matches, every file it lists is there at its size and (with
    `checksums`) holds the bytes it was written with, and Whoosh opens it."""
    manifest = read_manifest(build)
    problem = manifest_problem(manifest)
    if problem:
        raise IndexIncompatible(f"the generation {build.name} {problem}")
    listed = listed_files(manifest)
    if listed is not None:
        damage = checksum_damage(build, listed) if checksums else size_damage(build, listed)
        if damage:
            raise damaged(build, damage)
    try:
        with whoosh_index.open_dir(str(build)).searcher() as searcher:
            searcher.doc_count()
    except Exception as error:  # Whoosh raises many kinds for a missing or damaged file
        raise IndexDamaged(f"the generation {build.name} cannot be opened ({type(error).__name__}: {error})") from None


def verified_files(build: Path) -> tuple[dict[str, FileEntry], list[Damage]]:
    """The generation's listed files and, of those, the damaged ones (every byte read)."""
    listed = listed_files(read_manifest(build)) or {}
    return listed, checksum_damage(build, listed)


# -- the generations of an index ----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GenerationInfo:
    number: int
    name: str
    created: float | None
    documents: int | None
    size_bytes: int
    current: bool
    previous: bool
    held: bool  # a reader holds it now


def list_generations(root: Path) -> list[GenerationInfo]:
    """The published generations kept in `root`, newest first."""
    current, previous = _linked(root, CURRENT), _linked(root, PREVIOUS)
    builds = root / BUILDS
    found = []
    for build in sorted(builds.iterdir()) if builds.is_dir() else []:
        if not (build / PUBLISHED).exists() and build.resolve() != current:
            continue
        manifest = read_manifest(build) or {}
        listed = listed_files(manifest) or {}
        created = manifest.get("created")
        found.append(GenerationInfo(
            number=int(manifest.get("generation", generation_number(build))), name=build.name,
            created=created if isinstance(created, (int, float)) else None,
            documents=manifest.get("documents") if isinstance(manifest.get("documents"), int) else None,
            size_bytes=sum(entry.size for entry in listed.values()), current=build.resolve() == current,
            previous=build.resolve() == previous, held=_held(build)))
    return sorted(found, key=lambda info: -info.number)


def _linked(root: Path, name: str) -> Path | None:
    try:
        return (root / os.readlink(root / name)).resolve()
    except OSError:
        return None


def new_build_dir(root: Path) -> tuple[Path, int]:
    """A new, empty generation folder and its generation number (one more than any before)."""
    builds = root / BUILDS
    builds.mkdir(parents=True, exist_ok=True)
    numbers = [generation_number(p) for p in builds.iterdir()]
    generation = max([current_generation(root), *numbers]) + 1
    path = builds / f"g{generation:06d}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    path.mkdir()
    return path, generation


def incoming_dir(root: Path, name: str) -> Path:
    """Where a replica copies the generation `name` before verifying it; a name no reader follows
    and that remove_stale_builds() removes at once if a killed copy leaves it behind."""
    (root / BUILDS).mkdir(parents=True, exist_ok=True)
    return root / BUILDS / f".incoming-{name}-{os.getpid()}"


def link_generation(source: Path, build: Path, leave_out: Callable[[str], bool] = lambda name: False) -> None:
    """Hard-link the Whoosh files of `source` into the empty `build` (they are never rewritten),
    but those `leave_out` names and the per-document table, which each generation writes anew."""
    from finsearch.storage.doc_table import is_table_file
    for path in source.iterdir():
        if path.is_file() and path.name not in (WHOOSH_LOCK, MANIFEST) and not path.name.startswith("."):
            if not leave_out(path.name) and not is_table_file(path.name):
                os.link(path, build / path.name)


def link_healthy(source: Path, build: Path, damage: list[Damage]) -> int:
    """Link `source`'s files into the empty `build`, but not the damaged ones: a segment with a
    damaged file is left out whole (its posts are then absent, and the caller adds them again
    from the archive), a damaged derived file (stock_names.json, the per-document table) is left to
    be written anew.
    Returns the documents left out. Raises IndexDamaged when the damage cannot be cut out (the
    table of contents: only a full build repairs that)."""
    from finsearch.storage.doc_table import is_table_file
    from finsearch.storage.stock_names import FILE as STOCK_NAMES
    from finsearch.storage.whoosh_format import segment_of, write_toc_without
    bad = {d.file for d in damage}
    segments = {segment for name in bad if (segment := segment_of(name)) is not None}
    beyond_repair = [d for d in damage
                     if segment_of(d.file) is None and d.file != STOCK_NAMES and not is_table_file(d.file)]
    if beyond_repair:
        raise damaged(source, beyond_repair)
    link_generation(source, build, leave_out=lambda name: (name in bad or segment_of(name) in segments
                                                             or _TOC_FILE.fullmatch(name) is not None))
    return write_toc_without(source, build, segments)


_TOC_FILE = re.compile(r"_MAIN_\d+\.toc")


def publish(root: Path, build: Path) -> None:
    """Make `build` durable, point `current` at it in one atomic rename, then drop stale builds.

    The build it replaces stays as `previous` (for `rollback`, and for a reader still on it).
    """
    crash_point("before-fsync")
    _fsync_tree(build)
    crash_point("before-swap")
    try:
        replaced: Path | None = current_build(root)
    except IndexMissing:
        replaced = None
    if replaced is not None:
        _link(root, PREVIOUS, replaced)
    _link(root, CURRENT, build)
    _fsync(root)
    # Marked once current: a run killed before the swap leaves a build never published, removed
    # by the next run; one killed between the swap and here is current, and kept as such.
    (build / PUBLISHED).write_text(f"{time.time()}\n")
    log.info("published %s", build.name)
    crash_point("after-swap")
    remove_stale_builds(root)


def rollback(root: Path, to: int | None = None) -> tuple[Path, Path]:
    """Point `current` back at `previous`, or at the kept generation numbered `to`, in one atomic
    rename; returns (left, now current). The caller holds the writer lock.

    The target must be whole: every file is checked against its checksum first (IndexDamaged).
    `previous` is dropped, so a second plain rollback is refused rather than swapping back and forth.
    """
    current = current_build(root)
    if to is None:
        try:
            target = root / os.readlink(root / PREVIOUS)
        except OSError:
            raise NothingToRollBack(f"no previous generation to roll back to at {root}") from None
    else:
        kept = {info.number: info for info in list_generations(root)}
        if to not in kept:
            raise NothingToRollBack(f"no generation {to} at {root} (kept: "
                                    f"{', '.join(str(n) for n in sorted(kept)) or 'none'}; see finsearch generations)")
        target = root / BUILDS / kept[to].name
    if target.resolve() == current.resolve() or not (target / MANIFEST).exists():
        raise NothingToRollBack(f"no previous generation to roll back to at {root}")
    verify_generation(target)  # every byte, before Whoosh reads any
    _link(root, CURRENT, target)
    if (root / PREVIOUS).is_symlink():
        (root / PREVIOUS).unlink()
    _fsync(root)
    log.info("rolled back from %s to %s", current.name, target.name)
    return current, target


def rollback_index(root: Path, to: int | None = None) -> tuple[Path, Path]:
    """`finsearch rollback`: rollback() under the writer lock, its outcome recorded."""
    current_build(root)  # no index: say so without creating anything
    try:
        with writer_lock(root):
            left, now = rollback(root, to)
    except (NothingToRollBack, IndexMissing) as error:
        record_outcome(root, {"command": "rollback", "ok": False, "code": "refused", "error": str(error)})
        raise
    record_outcome(root, {"command": "rollback", "ok": True, "generation": current_generation(root),
                          "from": left.name, "to": now.name})
    return left, now


def discard(build: Path) -> None:
    """Remove a generation that was never published (a refused or failed run)."""
    shutil.rmtree(build, ignore_errors=True)


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


def remove_stale_builds(root: Path, keep: int = KEEP_GENERATIONS) -> list[str]:
    """Delete the builds no one needs; returns their names.

    Kept: current, previous, the `keep` newest published generations, and any generation a
    reader holds. Removed: the rest, and builds never published (what a killed or refused run
    left, which no reader ever followed).
    """
    kept = {path for path in (_linked(root, CURRENT), _linked(root, PREVIOUS)) if path is not None}
    for leftover in root.glob(".*.*"):  # temporary links of a killed swap, outcome files of a full disk
        if leftover.is_symlink() or leftover.name.startswith(f".{OUTCOME}."):
            leftover.unlink()
    removed: list[str] = []
    builds = root / BUILDS
    if not builds.is_dir():
        return removed
    published = sorted((b for b in builds.iterdir() if (b / PUBLISHED).exists()), key=generation_number)
    kept.update(b.resolve() for b in published[-keep:])
    for build in sorted(builds.iterdir()):
        if build.resolve() in kept or _held(build):
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
    """Write INDEX/last-run.json for monitoring (/healthz shows it): atomically when the disk has
    room, else over the old file in place (it is kept OUTCOME_BYTES long for that), so a run that
    failed for want of space still says so."""
    text = json.dumps({"finished": now_iso(), **outcome}, ensure_ascii=False)
    data = text.encode("utf-8")
    data += b" " * max(0, OUTCOME_BYTES - len(data))
    tmp = root / f".{OUTCOME}.{os.getpid()}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, root / OUTCOME)
        return
    except OSError as error:
        tmp.unlink(missing_ok=True)
        if error.errno != errno.ENOSPC:  # monitoring must never turn a good run into a failed one
            log.warning("could not record the run's outcome in %s: %s", root, error)
            return
    try:
        fd = os.open(root / OUTCOME, os.O_WRONLY)
        try:
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
        finally:
            os.close(fd)
    except OSError as error:
        log.warning("could not record the run's outcome in %s (the disk is full): %s", root, error)


def read_outcome(root: Path) -> dict[str, Any] | None:
    try:
        outcome = json.loads((root / OUTCOME).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return outcome if isinstance(outcome, dict) else None
