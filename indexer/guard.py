"""The delete guard: a run that would empty or gut the live index refuses and changes nothing.

An unmounted share, a wrong path or an archive whose posts all fail to parse look,
to a reindex, like "every post was deleted". So a run refuses (RunRefused, exit
code 3 in the CLI) when the archive is missing, not a folder, holds no post file
or yields no readable post, and a reindex refuses when it would remove more than
`max_delete` percent of the index's documents, unless the operator says it is meant.
"""
from __future__ import annotations

import errno
import shutil
from pathlib import Path

from finsearch.storage import IndexBusy

MIB = 2**20

DEFAULT_MAX_DELETE_PERCENT = 5.0


class RunRefused(Exception):
    """The run would empty or gut the index; nothing was changed. `code` is machine-readable."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def check_archive(archive: Path) -> None:
    if not archive.exists():
        raise RunRefused("archive-missing", f"the archive {archive} does not exist (not mounted?); nothing changed")
    if not archive.is_dir():
        raise RunRefused("archive-not-folder", f"the archive {archive} is not a folder; nothing changed")


def check_has_posts(archive: Path, files: int) -> None:
    if files == 0:
        raise RunRefused("archive-empty", f"the archive {archive} holds no post file (not mounted?); nothing changed")


def check_posts(archive: Path, files: int, readable: int) -> None:
    """Refuse an archive with no post file, or none that could be read."""
    check_has_posts(archive, files)
    if readable == 0:
        raise RunRefused("no-readable-post",
                         f"none of the {files} post files of {archive} could be read; nothing changed")


def check_deletions(removed: int, total: int, max_delete: float) -> None:
    """Refuse to remove more than `max_delete` percent of `total` documents."""
    if total and removed * 100 > max_delete * total:
        raise RunRefused("too-many-deletes",
                         f"this run would delete {removed} of {total} documents ({removed * 100 / total:.1f}%, "
                         f"more than {max_delete:g}%); nothing changed. If that is meant, rerun with "
                         f"--allow-deletes or --max-delete PERCENT")


class DiskFull(Exception):
    """A run stopped for want of disk space; nothing was published. The message names the disk."""


def check_free_space(root: Path, needed: int, what: str) -> None:
    """Refuse a run that would need more than the free space of the disk holding `root`."""
    free = shutil.disk_usage(root).free
    if free < needed:
        raise RunRefused("disk-full", f"the disk holding {root} has {free / MIB:.0f} MiB free and {what} needs about "
                                      f"{needed / MIB:.0f} MiB; nothing changed")


def disk_full(error: OSError, root: Path) -> DiskFull:
    """What to raise for an ENOSPC met while writing the index at `root`."""
    try:
        free = f"{shutil.disk_usage(root).free / MIB:.0f} MiB free"
    except OSError:
        free = "free space unknown"
    return DiskFull(f"the disk holding {root} is full ({free}) while writing "
                    f"{error.filename or 'the index'}: {error.strerror}; nothing was published")


def is_disk_full(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)


def failure(command: str, error: BaseException) -> dict[str, object]:
    """A failed run as recorded in INDEX/last-run.json and printed by `--json`."""
    if isinstance(error, RunRefused):
        code = error.code
    elif isinstance(error, IndexBusy):
        code = "busy"
    elif isinstance(error, DiskFull) or is_disk_full(error.__cause__ or error):
        code = "disk-full"
    elif isinstance(error, KeyboardInterrupt):
        code = "interrupted"
    else:
        code = "failed"
    outcome: dict[str, object] = {"command": command, "ok": False, "code": code,
                                  "error": str(error) or type(error).__name__}
    step = getattr(error, "step", None)  # a build that failed says where (build.BuildFailed)
    if step:
        outcome["step"] = step
    return outcome
