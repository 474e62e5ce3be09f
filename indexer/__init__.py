"""Read a Jekyll news archive and write the Whoosh index.

ingest (files -> Post) -> clean (body -> paragraphs) -> schema (Post -> document)
-> build (write a new index) / store (where it lives, atomic swap).
"""
from indexer.build import BuildReport, build_index
from indexer.ingest import Post, Problem, read_archive
from indexer.store import IndexBusy, IndexMissing, resolve_root

__all__ = ["BuildReport", "IndexBusy", "IndexMissing", "Post", "Problem", "build_index",
           "read_archive", "resolve_root"]
