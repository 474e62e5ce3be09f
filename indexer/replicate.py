"""Read replicas: publish the writer's current generation in another index root (a web node's).

A published generation is an immutable folder, so a replica is a copy of it: the
copy goes to a name no reader follows (storage.incoming_dir), is verified against
the file list of its manifest and opened, then takes the generation's own name
and is published with the store's atomic swap. The node's `finsearch serve`
follows `current` by itself, as it does after a reindex; the generation it
replaced stays as `previous` (`finsearch rollback` works on a replica too).

Files the replica's current generation already holds (same name, size and
modification time: the segments an incremental reindex hard-linked) are
hard-linked, not copied, so the nightly replica costs what the night changed.
The source may be the writer's index root itself (a shared mount) or an rsync
copy of it (`rsync -aH`: `current` stays a relative link); a copy caught in the
middle of a publish is incomplete, refused, and fine on the next run.
"""
from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from finsearch import storage
from finsearch.indexer import guard

log = logging.getLogger(__name__)


@dataclass
class ReplicaReport:
    source: Path
    index: Path
    build: str  # the generation's folder name, the same on the writer and every replica
    generation: int
    published: bool  # False: the replica already served this generation
    copied: int = 0
    linked: int = 0
    bytes_copied: int = 0
    seconds: float = 0.0

    def counts(self) -> dict[str, object]:
        return {"source": str(self.source), "build": self.build, "generation": self.generation,
                "published": self.published, "copied": self.copied, "linked": self.linked,
                "bytes_copied": self.bytes_copied}


def replicate(source_root: Path, dest_root: Path) -> ReplicaReport:
    """Publish the current generation of `source_root` in `dest_root`.

    Raises storage.IndexMissing if the source has no index, storage.IndexBusy if
    something writes the destination, and guard.RunRefused (changing nothing
    the destination serves) if the source generation or its copy is incomplete
    or was built by a finsearch that analyses differently. The outcome, either
    way, is recorded in DEST/last-run.json.
    """
    started = time.perf_counter()
    if source_root.resolve() == dest_root.resolve():  # before recording anything in the writer's index
        raise guard.RunRefused("same-index", f"{source_root} is the source and the destination; nothing changed")
    try:
        try:
            source = storage.current_build(source_root)
        except storage.IndexMissing:
            raise storage.IndexMissing(f"the source {source_root} has no index to replicate") from None
        _verified(source, "source-incomplete", f"the current generation of {source_root}")
        with storage.writer_lock(dest_root):
            report = _replicate_locked(source_root, source, dest_root)
    except Exception as error:
        storage.record_outcome(dest_root, guard.failure("replicate", error))
        raise
    report.seconds = time.perf_counter() - started
    storage.record_outcome(dest_root, {"command": "replicate", "ok": True, **report.counts(),
                                     "seconds": round(report.seconds, 2)})
    return report


def _replicate_locked(source_root: Path, source: Path, dest_root: Path) -> ReplicaReport:
    report = ReplicaReport(source=source_root, index=dest_root, build=source.name,
                           generation=_generation(source), published=True)
    storage.remove_stale_builds(dest_root)  # what a killed run left behind
    try:
        current: Path | None = storage.current_build(dest_root)
    except storage.IndexMissing:
        current = None
    if current is not None and current.name == source.name:
        report.published = False
        log.info("%s already serves %s", dest_root, source.name)
        return report
    target = dest_root / storage.BUILDS / source.name
    if target.is_dir() and _whole(target):
        # Published here before: the writer rolled back to it, or published it again after a rollback.
        log.info("publishing %s again (it is still in %s)", source.name, dest_root)
    else:
        storage.discard(target)  # a cleanup killed half-way leaves part of a folder
        incoming = storage.incoming_dir(dest_root, source.name)
        try:
            _copy(source, incoming, current, report)
            _verified(incoming, "copy-incomplete", f"the copy of {source}")
            os.rename(incoming, target)
        except BaseException:
            storage.discard(incoming)
            raise
    storage.publish(dest_root, target)
    log.info("replicated %s into %s: %d files copied (%d bytes), %d linked", source.name, dest_root,
             report.copied, report.bytes_copied, report.linked)
    return report


def _copy(source: Path, incoming: Path, current: Path | None, report: ReplicaReport) -> None:
    incoming.mkdir()
    for name in [*storage.generation_files(source), storage.MANIFEST]:
        original, copy = source / name, incoming / name
        try:
            status = original.stat()
            if current is not None and _same_file(status, current / name):
                os.link(current / name, copy)
                report.linked += 1
            else:
                shutil.copy2(original, copy)  # keeps the modification time: the next run can link it
                report.copied += 1
                report.bytes_copied += status.st_size
        except OSError as error:  # e.g. the writer replaced and removed the generation meanwhile
            raise guard.RunRefused("copy-incomplete", f"copying {original} failed ({error.strerror}); "
                                                      "nothing changed, run again") from None


def _same_file(status: os.stat_result, candidate: Path) -> bool:
    """rsync's quick check: a generation's files never change, and segment names are random."""
    try:
        other = candidate.stat()
    except OSError:
        return False
    return other.st_size == status.st_size and other.st_mtime_ns == status.st_mtime_ns


def _verified(build: Path, code: str, what: str) -> None:
    """Raises guard.RunRefused (`code`, or "incompatible") unless `build` is a whole generation
    this finsearch reads correctly."""
    try:
        storage.verify_generation(build)
    except storage.IndexIncompatible as error:
        raise guard.RunRefused("incompatible", f"{what} cannot be served by this finsearch: {error} "
                                               "(install the writer's finsearch here); nothing changed") from None
    except storage.GenerationIncomplete as error:
        raise guard.RunRefused(code, f"{what} is incomplete: {error}; nothing changed") from None


def _whole(build: Path) -> bool:
    try:
        storage.verify_generation(build)
    except (storage.IndexIncompatible, storage.GenerationIncomplete):
        return False
    return True


def _generation(build: Path) -> int:
    manifest = storage.read_manifest(build) or {}
    return int(manifest.get("generation", 0))
