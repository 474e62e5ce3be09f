"""The index on disk: every byte of it is written and read here.

    schema          the fields of a document; dates stored in the site's time (SITE_TZ)
    generations     INDEX/current → builds/gNNNNNN-…: publish, rollback, which generations
                    are kept (the last few, and any a reader holds), the writer lock, last-run.json
    manifest        what a generation was made with, its files with their sizes and checksums
    writer, merge   segments: the bulk writer (postings in flat arrays, out through FS1)
                    and the merge policy of a commit
    fs1             finsearch's own postings format (a Whoosh codec)
    documents       a reader's documents by docnum: stored fields, or the id alone from its column
    stored          stored fields in compressed blocks of documents (.fsd), and the codecs
                    that write them with FS1's postings (FS2) or Whoosh's (the fallback)
    whoosh_format   the fence around Whoosh's private names and W3 files: a version gate,
                    a self-check when an index is opened, a fallback to Whoosh's own code
    postings        a term's postings and a field's lengths as numpy arrays
    doc_table       a generation's per-document arrays (dates, stories, title keys, facets),
                    written once by the writer that publishes it, memory-mapped by readers
    stock_names     stock_names.json, the (name, code) pairs a generation's posts write

Ingest and build (`finsearch.indexer`) and search (`finsearch.search`) use only what this
module exports; the import contract in pyproject.toml fails `make lint` otherwise.
"""
from finsearch.storage.doc_table import DocColumns, TitleKeys
from finsearch.storage.doc_table import load as doc_columns
from finsearch.storage.doc_table import write as write_doc_table
from finsearch.storage.documents import Documents
from finsearch.storage.fs1 import POSTINGS_FORMAT
from finsearch.storage.generations import (
    BUILDS,
    CRASH_POINTS,
    KEEP_GENERATIONS,
    Generation,
    GenerationInfo,
    IndexBusy,
    NothingToRollBack,
    crash_point,
    current_build,
    current_generation,
    discard,
    incoming_dir,
    link_generation,
    link_healthy,
    list_generations,
    new_build_dir,
    now_iso,
    open_current,
    publish,
    read_outcome,
    record_outcome,
    remove_stale_builds,
    resolve_root,
    rollback_index,
    verified_files,
    verify_generation,
    writer_lock,
)
from finsearch.storage.manifest import (
    MANIFEST,
    Damage,
    FileEntry,
    IndexDamaged,
    IndexIncompatible,
    IndexMissing,
    generation_files,
    manifest_problem,
    read_manifest,
    write_manifest,
)
from finsearch.storage.merge import MAX_SEGMENT_DOCS, MERGE_BUDGET_DOCS, purge_and_merge_small
from finsearch.storage.postings import (
    Postings,
    TermEntry,
    doc_frequencies,
    field_lengths,
    field_terms,
    find_term,
    read_postings,
)
from finsearch.storage.schema import (
    BODY,
    BODY_GRAM,
    CATEGORY,
    CHECKSUM,
    CHECKSUM_BYTES,
    DATE,
    FILE_STAT,
    FILE_STAT_FORMAT,
    ID_FIELD,
    PAPER,
    PATH,
    REINDEX_ONLY_FIELDS,
    SIGNATURE,
    SITE_TZ,
    STORY,
    TAGS,
    TITLE,
    TITLE_BOOST,
    TITLE_GRAM,
    TITLE_KEY,
    UNKNOWN_FILE_STAT,
    URL,
    file_stats,
    from_local_naive,
    local_naive,
    make_schema,
)
from finsearch.storage.stock_names import Mentions
from finsearch.storage.stock_names import current as stock_names_of_index
from finsearch.storage.stock_names import pairs as stock_name_pairs
from finsearch.storage.stock_names import write as write_stock_names
from finsearch.storage.whoosh_format import (
    SegmentWriterBase,
    bytes_column,
    fast_paths,
    fixed_bytes_column,
    numeric_column,
    reader_live_docs,
    verify_reader,
)
from finsearch.storage.writer import delete_paths, grouping_disagreement, open_writer

__all__ = [
    "grouping_disagreement",
    "BODY", "BODY_GRAM", "BUILDS", "CATEGORY", "CHECKSUM", "CHECKSUM_BYTES", "CRASH_POINTS", "DATE", "FILE_STAT",
    "FILE_STAT_FORMAT", "ID_FIELD", "KEEP_GENERATIONS", "MANIFEST", "MAX_SEGMENT_DOCS", "MERGE_BUDGET_DOCS",
    "PAPER", "PATH", "POSTINGS_FORMAT", "REINDEX_ONLY_FIELDS", "SIGNATURE", "SITE_TZ", "STORY", "TAGS", "TITLE",
    "TITLE_BOOST", "TITLE_GRAM", "TITLE_KEY", "UNKNOWN_FILE_STAT", "URL",
    "Damage", "DocColumns", "Documents", "FileEntry", "Generation", "GenerationInfo", "IndexBusy", "IndexDamaged",
    "IndexIncompatible", "IndexMissing", "Mentions", "NothingToRollBack", "Postings", "SegmentWriterBase",
    "TermEntry", "TitleKeys",
    "bytes_column", "crash_point", "current_build", "current_generation", "discard", "doc_columns",
    "doc_frequencies",
    "fast_paths", "field_lengths", "field_terms", "file_stats", "find_term", "fixed_bytes_column",
    "from_local_naive", "generation_files", "incoming_dir", "link_generation", "link_healthy", "list_generations",
    "local_naive", "make_schema", "manifest_problem", "new_build_dir", "now_iso", "numeric_column", "open_current",
    "delete_paths", "open_writer", "publish", "purge_and_merge_small", "read_manifest", "read_outcome", "read_postings",
    "reader_live_docs", "record_outcome", "remove_stale_builds", "resolve_root", "rollback_index",
    "stock_name_pairs", "stock_names_of_index", "verified_files", "verify_generation", "verify_reader",
    "write_doc_table", "write_manifest", "write_stock_names", "writer_lock",
]
