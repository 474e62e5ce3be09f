"""Read a Jekyll news archive and write the Whoosh index.

ingest (files -> Post) -> clean (body -> paragraphs) -> schema (Post -> document)
-> build (a new index from scratch) / update (the nightly reindex of what changed)
-> store (where it lives, the atomic swap, the writer lock).
"""
from finsearch.indexer.build import BuildReport, build_index
from finsearch.indexer.update import ReindexReport, reindex
from finsearch.indexer.ingest import Post, Problem, read_archive
from finsearch.indexer.store import IndexBusy, IndexMissing, resolve_root

__all__ = ["BuildReport", "IndexBusy", "IndexMissing", "Post", "Problem", "ReindexReport", "build_index",
           "read_archive", "reindex", "resolve_root"]
