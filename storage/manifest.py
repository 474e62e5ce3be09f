"""A generation's manifest: what it was made with, and every file it holds with its size and checksum.

`manifest.json` is written last, once a generation is complete. Its file list lets anyone
prove a copy whole and undamaged, as Lucene's and tantivy's per-file checksums do:

- sizes are checked before a reader maps a file (a short file is an error, never SIGBUS), and
  a file whose modification time is not the one recorded (written again since) is checksummed
  there and then;
- checksums (CRC-32 of the whole file) are checked by a reader once per generation, in
  the background, by `finsearch check`, by every nightly run before it links a file into a
  new generation, and by `replicate` and `rollback` before they publish one.

A manifest written before checksums existed lists sizes only; its files are checked by size.
"""
from __future__ import annotations

import functools
import json
import os
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
WHOOSH_LOCK = "MAIN_WRITELOCK"
CHECKSUM_CHUNK = 4 << 20  # bytes read at a time: zlib releases the GIL while it sums each


class IndexMissing(Exception):
    """There is no index at that location yet."""


class IndexIncompatible(IndexMissing):
    """The index was built by a finsearch that analyses or stores text differently."""


class IndexDamaged(IndexMissing):
    """A file of a generation is missing, has another size than its manifest says, or fails its
    checksum. `files` names them; the archive, the source of truth, rebuilds them."""

    def __init__(self, message: str, files: Iterable[str] = ()):
        super().__init__(message)
        self.files = tuple(files)


@dataclass(frozen=True)
class FileEntry:
    size: int
    checksum: str | None  # CRC-32 as 8 hex digits; None in a manifest older than checksums
    mtime_ns: int | None = None  # when it was written (hard links and copies that keep times keep it)


@dataclass(frozen=True)
class Damage:
    file: str
    problem: str  # for people: "is missing", "has 512 bytes where its manifest says 1024", …

    def __str__(self) -> str:
        return f"{self.file} {self.problem}"


def file_checksum(path: Path) -> str:
    crc = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHECKSUM_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return f"{crc:08x}"


@functools.cache
def expected_manifest() -> dict[str, Any]:
    """What this finsearch writes into an index (and needs to read one correctly); not to be mutated."""
    from finsearch.analysis import fingerprint, near_duplicates
    from finsearch.storage.doc_table import TABLE_VERSION
    from finsearch.storage.fs1 import POSTINGS_FORMAT
    from finsearch.storage.schema import make_schema
    schema = make_schema()
    return {"schema": {name: type(schema[name]).__name__ for name in schema.names()},
            "analysis": {**fingerprint(), "signatures": near_duplicates.fingerprint()},
            "postings": POSTINGS_FORMAT, "doc_table": TABLE_VERSION}


def generation_files(build: Path) -> dict[str, int]:
    """The files that make up a generation, by name, with their sizes (the manifest aside, and
    Whoosh's lock and hidden files such as markers and temporary files, which hold no data)."""
    return {path.name: path.stat().st_size for path in sorted(build.iterdir())
            if path.is_file() and path.name not in (MANIFEST, WHOOSH_LOCK) and not path.name.startswith(".")}


def write_manifest(build: Path, generation: int, documents: int,
                   known: dict[str, FileEntry] | None = None) -> None:
    """Written last, when the generation is complete. `known`: the verified entries of another
    generation's files; a file of the same name, size and modification time (a hard link to it)
    keeps its checksum instead of being read again."""
    files = {}
    for name, size in generation_files(build).items():
        mtime_ns = (build / name).stat().st_mtime_ns
        entry = (known or {}).get(name)
        if entry is None or entry.checksum is None or (entry.size, entry.mtime_ns) != (size, mtime_ns):
            entry = FileEntry(size, file_checksum(build / name))
        files[name] = {"size": entry.size, "crc32": entry.checksum, "mtime_ns": mtime_ns}
    manifest = {"finsearch_version": metadata.version("finsearch"), "generation": generation,
                "created": time.time(), "documents": documents, **expected_manifest(), "files": files}
    tmp = build / f".{MANIFEST}.{os.getpid()}"
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
    os.replace(tmp, build / MANIFEST)


def read_manifest(build: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((build / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def listed_files(manifest: dict[str, Any] | None) -> dict[str, FileEntry] | None:
    """The manifest's files (None: a manifest from before the file list)."""
    listed = (manifest or {}).get("files")
    if not isinstance(listed, dict):
        return None
    entries = {}
    for name, entry in listed.items():
        if isinstance(entry, dict):
            entries[name] = FileEntry(int(entry.get("size", -1)), entry.get("crc32"), entry.get("mtime_ns"))
        else:  # a manifest from before checksums: {name: size}
            entries[name] = FileEntry(int(entry), None)
    return entries


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


def size_damage(build: Path, listed: dict[str, FileEntry]) -> list[Damage]:
    """The listed files that are missing or of another size (a stat each: cheap enough for
    every open)."""
    damage = []
    for name, entry in sorted(listed.items()):
        try:
            size = (build / name).stat().st_size
        except OSError:
            damage.append(Damage(name, "is missing"))
            continue
        if size != entry.size:
            damage.append(Damage(name, f"has {size} bytes where its manifest says {entry.size}"))
    return damage


def quick_damage(build: Path, listed: dict[str, FileEntry]) -> list[Damage]:
    """What a reader checks when it opens a generation: every file's size, and the checksum of
    each file whose modification time differs from the one recorded (it was written again)."""
    damage = size_damage(build, listed)
    broken = {d.file for d in damage}
    rewritten = {}
    for name, entry in listed.items():
        if name in broken or entry.mtime_ns is None:
            continue
        try:
            if (build / name).stat().st_mtime_ns != entry.mtime_ns:
                rewritten[name] = entry
        except OSError:
            continue
    return damage + checksum_damage(build, rewritten)


def checksum_damage(build: Path, listed: dict[str, FileEntry],
                    between_files: Callable[[], None] | None = None) -> list[Damage]:
    """Size damage, then every listed file whose bytes fail its checksum. `between_files` is
    called after each file read (a background check yields there)."""
    damage = size_damage(build, listed)
    broken = {d.file for d in damage}
    for name, entry in sorted(listed.items()):
        if name in broken or entry.checksum is None:
            continue
        try:
            found = file_checksum(build / name)
        except OSError as error:
            damage.append(Damage(name, f"cannot be read ({error.strerror})"))
            continue
        if found != entry.checksum:
            damage.append(Damage(name, f"fails its checksum (crc32 {found}, manifest {entry.checksum})"))
        if between_files is not None:
            between_files()
    return damage


def damaged(build: Path, damage: list[Damage]) -> IndexDamaged:
    shown = "; ".join(str(d) for d in damage[:3]) + (f"; and {len(damage) - 3} more" if len(damage) > 3 else "")
    return IndexDamaged(f"the generation {build.name} is damaged: {shown}", (d.file for d in damage))
