"""Where an index lives on disk, and how a new one replaces the old atomically.

Layout of an index directory:

    INDEX/current -> builds/20261123-101500-4242   (a relative symlink)
    INDEX/previous -> builds/…                      (the build it replaced)
    INDEX/builds/<name>/                            (Whoosh segment files)
    INDEX/writer.lock                               (held by whoever writes)

A full build writes a new build directory and then swaps the `current` link
with one rename, so readers see either the old index or the new one, never a
half-written one. Readers notice the swap by reading the link.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

from whoosh import index as whoosh_index

CURRENT = "current"
PREVIOUS = "previous"
BUILDS = "builds"
LOCK = "writer.lock"
DEFAULT_INDEX = Path.home() / ".local" / "share" / "finsearch" / "index"


class IndexMissing(Exception):
    """There is no index at that location yet."""


class IndexBusy(Exception):
    """Another process is writing this index."""


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


def open_current(root: Path):
    """The Whoosh index the `current` link points to, and the link's target."""
    build = current_build(root)
    if not whoosh_index.exists_in(build):
        raise IndexMissing(f"the index at {root} is incomplete; rebuild it with: finsearch index ARCHIVE")
    return whoosh_index.open_dir(str(build)), build


def new_build_dir(root: Path) -> Path:
    builds = root / BUILDS
    builds.mkdir(parents=True, exist_ok=True)
    path = builds / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    path.mkdir()
    return path


def publish(root: Path, build: Path) -> None:
    """Point `current` at `build` in one atomic rename, then drop stale builds.

    The build it replaces stays as `previous` until the next publish, so a
    request that began on it a moment ago can finish there.
    """
    try:
        replaced = current_build(root)
    except IndexMissing:
        replaced = None
    if replaced is not None:
        _link(root, PREVIOUS, replaced)
    _link(root, CURRENT, build)
    remove_stale_builds(root)


def _link(root: Path, name: str, build: Path) -> None:
    tmp_link = root / f".{name}.{os.getpid()}"
    if tmp_link.is_symlink():
        tmp_link.unlink()
    os.symlink(build.relative_to(root), tmp_link)
    os.replace(tmp_link, root / name)


def remove_stale_builds(root: Path) -> None:
    """Delete every build but the current and the previous one (e.g. what a killed build left)."""
    keep = set()
    for name in (CURRENT, PREVIOUS):
        try:
            keep.add((root / os.readlink(root / name)).resolve())
        except OSError:
            continue
    if not keep:
        return
    for build in (root / BUILDS).iterdir():
        if build.resolve() not in keep:
            shutil.rmtree(build, ignore_errors=True)


@contextmanager
def writer_lock(root: Path):
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
