"""Read a Jekyll news archive and write the Whoosh index.

ingest (files -> Post) -> clean (body -> paragraphs) -> schema (Post -> document)
-> build (a new index from scratch) / update (the nightly reindex of what changed)
-> replicate (a web node's copy) / check (every byte against its checksum); the bytes on disk
are finsearch.storage's.
"""
from finsearch.indexer.build import BuildFailed, BuildReport, build_index
from finsearch.indexer.check import GenerationCheck, check_index
from finsearch.indexer.guard import DEFAULT_MAX_DELETE_PERCENT, DiskFull, RunRefused, failure
from finsearch.indexer.ingest import Post, Problem, read_archive
from finsearch.indexer.replicate import ReplicaReport, replicate
from finsearch.indexer.update import ReindexReport, reindex
from finsearch.storage import (
    GenerationInfo,
    IndexBusy,
    IndexDamaged,
    IndexIncompatible,
    IndexMissing,
    NothingToRollBack,
    list_generations,
    now_iso,
    resolve_root,
)
from finsearch.storage import rollback_index as rollback

__all__ = ["DEFAULT_MAX_DELETE_PERCENT", "BuildFailed", "BuildReport", "DiskFull", "GenerationCheck",
           "GenerationInfo", "IndexBusy", "IndexDamaged", "IndexIncompatible", "IndexMissing", "NothingToRollBack",
           "Post", "Problem", "ReindexReport", "ReplicaReport", "RunRefused", "build_index", "check_index",
           "failure", "list_generations", "now_iso", "read_archive", "reindex", "replicate", "resolve_root",
           "rollback"]
