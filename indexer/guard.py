"""The delete guard: a run that would empty or gut the live index refuses and changes nothing.

An unmounted share, a wrong path or an archive whose posts all fail to parse look,
to a reindex, like "every post was deleted". So a run refuses (RunRefused, exit
code 3 in the CLI) when the archive is missing, not a folder, holds no post file
or yields no readable post, and a reindex refuses when it would remove more than
`max_delete` percent of the index's documents, unless the operator says it is meant.
"""
from __future__ import annotations

from pathlib import Path

from finsearch.storage import IndexBusy

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


def failure(command: str, error: BaseException) -> dict[str, object]:
    """A failed run as recorded in INDEX/last-run.json and printed by `--json`."""
    if isinstance(error, RunRefused):
        code = error.code
    elif isinstance(error, IndexBusy):
        code = "busy"
    else:
        code = "failed"
    outcome: dict[str, object] = {"command": command, "ok": False, "code": code,
                                  "error": str(error) or type(error).__name__}
    step = getattr(error, "step", None)  # a build that failed says where (build.BuildFailed)
    if step:
        outcome["step"] = step
    return outcome
