"""Read a Jekyll news archive and write the Whoosh index.

ingest (files -> Post) -> clean (body -> paragraphs) -> schema (Post -> document)
-> build (a new index from scratch) / update (the nightly reindex of what changed)
-> store (where it lives, the atomic swap, the writer lock).
"""
from finsearch.indexer.build import BuildFailed, BuildReport, build_index
from finsearch.indexer.guard import DEFAULT_MAX_DELETE_PERCENT, RunRefused, failure
from finsearch.indexer.ingest import Post, Problem, read_archive
from finsearch.indexer.store import IndexBusy, IndexIncompatible, IndexMissing, NothingToRollBack, resolve_root
from finsearch.indexer.store import rollback_index as rollback
from finsearch.indexer.update import ReindexReport, reindex

__all__ = ["DEFAULT_MAX_DELETE_PERCENT", "BuildFailed", "BuildReport", "IndexBusy", "IndexIncompatible", "IndexMissing",
           "NothingToRollBack", "Post", "Problem", "ReindexReport", "RunRefused", "build_index", "failure",
           "read_archive", "reindex", "resolve_root", "rollback"]
