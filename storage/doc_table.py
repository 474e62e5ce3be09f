"""The per-document arrays of one generation that cost seconds to compute: written once by the
writer that publishes the generation, memory-mapped by every reader.

Filters, facets, story grouping and the title tier read, per docnum: the date, the identical-post
number (`exact`), the story (near-duplicates merged: analysis/stories.py), the order (story, date,
docnum), the title key's number, and each category's and paper's membership. Computed by every
worker that opened a generation, at a million posts that was seconds of CPU before its first
search. Now the writer computes them once, before the manifest, into files of the generation:

    doctable.json             version, what they were computed with, the facet values, the counts
    doctable-<name>.npy       one array each (numpy's format: memory-mapped, pages shared by workers)
    doctable-title_keys.npy   the distinct title keys, UTF-8 end to end (with their offsets)

They are listed in the manifest with checksums like every file, and `TABLE_VERSION` is in the
manifest (`doc_table`). A reader checks them as whoosh_format checks its fast paths: the version,
the stories' settings, the counts and the table of contents they describe, then a few documents
against Whoosh's own columns; a generation without them (written before them), or one that fails,
is computed at open as before, with one warning for a failure. A reindex never links them from
the generation it starts from: it writes its own.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import index as whoosh_index

from finsearch.analysis import near_duplicates, stories
from finsearch.storage import whoosh_format
from finsearch.storage.postings import field_terms, find_term, read_postings
from finsearch.storage.schema import CATEGORY, DATE, PAPER, SIGNATURE, STORY, TITLE_KEY

log = logging.getLogger(__name__)

TABLE_VERSION = 2  # 2: the per-document numbers as int32
META = "doctable.json"
PREFIX = "doctable-"
_ARRAYS = ("dates", "exact", "stories", "by_story_rank", "title_ids", "category_masks", "paper_masks",
           "title_key_bytes", "title_key_offsets")
PROBES = 16  # documents compared with Whoosh's columns when a written table is opened
NUMBER = np.int32  # a docnum or a number per document: a generation holds fewer than 2**31 documents


def is_table_file(name: str) -> bool:
    """Whether a file of a generation is one of its table's (derived: never linked into another)."""
    return name == META or name.startswith(PREFIX)


class TitleKeys:
    """The distinct title keys of a generation in byte order (a post's `title_ids` is its key's
    place here), UTF-8 end to end with their offsets: no Python object per key."""

    def __init__(self, data: np.ndarray, offsets: np.ndarray):
        self.data = data  # uint8
        self.offsets = offsets  # int64, len(keys) + 1

    @classmethod
    def of(cls, keys: np.ndarray) -> TitleKeys:
        """From a sorted numpy bytes array (np.unique's values)."""
        encoded = keys.tolist()
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        return cls(data, np.concatenate(([0], np.cumsum(lengths))))

    def __len__(self) -> int:
        return self.offsets.size - 1

    def key(self, number: int) -> bytes:
        return self.data[int(self.offsets[number]):int(self.offsets[number + 1])].tobytes()

    def number(self, key: str) -> int:
        """The number of `key` (-1: no post has it): a binary search."""
        wanted = key.encode("utf-8")
        low, high = 0, len(self)
        while low < high:
            middle = (low + high) // 2
            if self.key(middle) < wanted:
                low = middle + 1
            else:
                high = middle
        return low if low < len(self) and self.key(low) == wanted else -1


@dataclass(frozen=True)
class DocColumns:
    """What a generation's per-document table is made of, by docnum (deleted documents included)."""

    dates: np.ndarray  # int64 Whoosh ticks (µs since datetime.min) of the site's local time
    # Numbers below the document count, as NUMBER (half the bytes of int64, on disk and in memory):
    exact: np.ndarray  # posts with the same title and body share one number
    stories: np.ndarray  # `exact` with near-duplicates merged
    by_story_rank: np.ndarray  # the docnums in (story, date, docnum) order
    title_ids: np.ndarray  # the number of each post's title key in `title_keys` (-1: unknown)
    title_keys: TitleKeys
    category_values: list[str]
    category_masks: np.ndarray  # bool [category, doc]
    paper_values: list[str]
    paper_masks: np.ndarray  # bool [paper, doc]


def compute(reader: Any) -> DocColumns:
    """The table of the index `reader` reads, from its columns and postings."""
    size = reader.doc_count_all()
    live = whoosh_format.reader_live_docs(reader)
    is_live = np.zeros(size, dtype=bool)
    is_live[live] = True
    dates = whoosh_format.numeric_column(reader, DATE)  # an empty index has no columns at all
    keys = whoosh_format.fixed_bytes_column(reader, STORY)
    stories = np.frombuffer(keys, dtype=f"V{near_duplicates.STORY_KEY_BYTES}")
    exact = np.unique(stories, return_inverse=True)[1].astype(NUMBER)  # noqa: TID251 (return_inverse: sorts)
    categories, category_masks = _masks(reader, CATEGORY, size, is_live)
    papers, paper_masks = _masks(reader, PAPER, size, is_live)
    title_ids, title_keys = _title_ids(reader, size)
    story_of = _stories(reader, exact, dates, paper_masks, live, title_ids if len(title_keys) else None)
    by_story_rank = np.lexsort((np.arange(size), dates, story_of)).astype(NUMBER)
    return DocColumns(dates, exact, story_of.astype(NUMBER), by_story_rank, title_ids, title_keys, categories,
                      category_masks, papers, paper_masks)


def _masks(reader: Any, field: str, size: int, is_live: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Each value of a keyword field, and which live documents have it."""
    values = sorted({key for keys, _ in field_terms(reader, field) for key in keys})
    masks = np.zeros((len(values), size), dtype=bool)
    for row, value in enumerate(values):
        term = find_term(reader, field, value)
        if term is not None:
            docs = read_postings(term).docs
            masks[row, docs[is_live[docs]]] = True
    return [value.decode("utf-8") for value in values], masks


def _stories(reader: Any, exact: np.ndarray, dates: np.ndarray, paper_masks: np.ndarray,
             live: np.ndarray, title_ids: np.ndarray | None) -> np.ndarray:
    size = exact.size
    if not size or SIGNATURE not in reader.schema or not reader.has_column(SIGNATURE):
        log.info("index has no near-duplicate signatures: only identical posts are one story")
        return exact
    sizes, numbers, minima = near_duplicates.decode(whoosh_format.fixed_bytes_column(reader, SIGNATURE), size)
    papers = (np.where(paper_masks.any(axis=0), paper_masks.argmax(axis=0), -1) if paper_masks.size
              else np.full(size, -1))
    return stories.near_stories(exact, dates, papers, live, sizes, numbers, minima, title_ids)


def _title_ids(reader: Any, size: int) -> tuple[np.ndarray, TitleKeys]:
    if not size or TITLE_KEY not in reader.schema or not reader.has_column(TITLE_KEY):
        return np.full(size, -1, dtype=NUMBER), TitleKeys.of(np.empty(0, dtype="S1"))
    values, ids = np.unique(whoosh_format.bytes_column(reader, TITLE_KEY), return_inverse=True)  # noqa: TID251 (return_inverse: sorts)
    return ids.astype(NUMBER), TitleKeys.of(values)


# -- the files ---------------------------------------------------------------------


def _meta(reader: Any, toc: int) -> dict[str, Any]:
    """What a table describes and was computed with: a reader compares it with its own."""
    return {"version": TABLE_VERSION, "stories": stories.fingerprint(), "toc": toc,
            "documents": reader.doc_count_all(), "live": reader.doc_count()}


def write(build: Path) -> None:
    """Compute the table of the index in `build` (committed, its manifest not yet written) and
    write its files there, each in one rename."""
    ix = whoosh_index.open_dir(str(build))
    with ix.reader() as reader:
        columns = compute(reader)
        meta = {**_meta(reader, ix.latest_generation()), "category_values": columns.category_values,
                "paper_values": columns.paper_values}
    arrays = {"dates": columns.dates, "exact": columns.exact, "stories": columns.stories,
              "by_story_rank": columns.by_story_rank, "title_ids": columns.title_ids,
              "category_masks": columns.category_masks, "paper_masks": columns.paper_masks,
              "title_key_bytes": columns.title_keys.data, "title_key_offsets": columns.title_keys.offsets}
    for name, array in arrays.items():
        tmp = build / f".{PREFIX}{name}.{os.getpid()}.npy"
        np.save(tmp, np.ascontiguousarray(array), allow_pickle=False)
        os.replace(tmp, build / f"{PREFIX}{name}.npy")
    tmp = build / f".{META}.{os.getpid()}"
    tmp.write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
    os.replace(tmp, build / META)  # last: a table without its meta is no table


def read(build: Path, reader: Any, toc: int) -> DocColumns | None:
    """The table written with the generation in `build`, memory-mapped, if it describes what
    `reader` reads and passes the self-check; else None (computed at open instead)."""
    try:
        meta = json.loads((build / META).read_text("utf-8"))
    except FileNotFoundError:
        return None  # a generation written before the table, or without one
    except (OSError, ValueError) as error:
        _fall_back(build, f"{META} is unreadable ({error})")
        return None
    expected = _meta(reader, toc)
    differing = sorted(key for key in expected if meta.get(key) != expected[key])
    if differing:
        log.info("%s: the table was written for other %s; computing it", build.name, ", ".join(differing))
        return None
    try:
        # Plain arrays over the mapped pages: numpy.memmap's own indexing is Python code, paid on
        # every access a search makes.
        arrays = {name: np.asarray(np.load(build / f"{PREFIX}{name}.npy", mmap_mode="r", allow_pickle=False))
                  for name in _ARRAYS}
        columns = DocColumns(arrays["dates"], arrays["exact"], arrays["stories"], arrays["by_story_rank"],
                             arrays["title_ids"], TitleKeys(arrays["title_key_bytes"], arrays["title_key_offsets"]),
                             list(meta["category_values"]), arrays["category_masks"], list(meta["paper_values"]),
                             arrays["paper_masks"])
        disagreement = _first_disagreement(columns, reader)
    except Exception as error:  # noqa: BLE001  a missing or malformed array: what the check is for
        disagreement = f"{type(error).__name__}: {error}"
    if disagreement is not None:
        _fall_back(build, disagreement)
        return None
    return columns


def load(build: Path, reader: Any, toc: int) -> DocColumns:
    """The generation's table: as written with it (`read`), else computed now."""
    return read(build, reader, toc) or compute(reader)


def _fall_back(build: Path, why: str) -> None:
    log.warning("the per-document table of %s does not read as written (%s): computing it at open, "
                "which is slower", build.name, why)


def _first_disagreement(columns: DocColumns, reader: Any) -> str | None:
    """How the table differs from Whoosh's own columns on a few documents, or None."""
    size = reader.doc_count_all()
    per_doc = ("dates", "exact", "stories", "by_story_rank", "title_ids")
    for name in per_doc:
        if getattr(columns, name).shape != (size,):
            return f"{name} has shape {getattr(columns, name).shape} for {size} documents"
    for name, values in (("category_masks", columns.category_values), ("paper_masks", columns.paper_values)):
        if getattr(columns, name).shape != (len(values), size):
            return f"{name} has shape {getattr(columns, name).shape}"
    if not size:
        return None
    dates = reader.column_reader(DATE, translate=False)
    for docnum in whoosh_format.probes(size, PROBES):
        if int(columns.dates[docnum]) != dates[docnum]:
            return f"the date of document {docnum}"
    if not (TITLE_KEY in reader.schema and reader.has_column(TITLE_KEY)):
        return None
    # Whoosh's reader of a bytes column first reads every offset of its segment, a Python step per
    # document: the title keys are compared in the smallest segment only, the dates having placed
    # documents across all of them.
    segment, first = min(whoosh_format.leaf_readers(reader), key=lambda leaf: leaf[0].doc_count_all())
    title_keys = segment.column_reader(TITLE_KEY, translate=False)
    for row in whoosh_format.probes(segment.doc_count_all(), PROBES):
        if columns.title_keys.key(int(columns.title_ids[first + row])) != title_keys[row]:
            return f"the title key of document {first + row}"
    return None
