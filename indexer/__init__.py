"""Read a Jekyll news archive and write the Whoosh index.

ingest (files -> Post) -> clean (body -> paragraphs) -> schema (Post -> document)
-> build (a new index from scratch) / update (the nightly reindex of what changed)
-> store (where it lives, the atomic swap, the writer lock).
"""
from finsearch.indexer.build import BuildFailed, BuildReport, build_index
from finsearch.indexer.guard import DEFAULT_MAX_DELETE_PERCENT, RunRefused, failure
from finsearch.indexer.ingest import Post, Problem, read_archive
from finsearch.indexer.replicate import ReplicaReport, replicate
from finsearch.indexer.update import ReindexReport, reindex
from finsearch.storage import IndexBusy, IndexIncompatible, IndexMissing, NothingToRollBack, now_iso, resolve_root
from finsearch.storage import rollback_index as rollback

__all__ = ["DEFAULT_MAX_DELETE_PERCENT", "BuildFailed", "BuildReport", "IndexBusy", "IndexIncompatible", "IndexMissing",
           "NothingToRollBack", "Post", "Problem", "ReindexReport", "ReplicaReport", "RunRefused", "build_index",
           "failure", "now_iso", "read_archive", "reindex", "replicate", "resolve_root", "rollback"]
