"""A reader's documents by docnum: their stored fields, their id alone from its column, their
title alone from its block's titles (storage.stored).

A result lists, for each hit, the other posts of its story (its reprints) by id, paper and date.
Paper and date are in the generation's per-document table (search.doctable); the id is a
column of its own (schema: id is sortable), read in a few microseconds, where the stored
fields would decompress the post's block of documents as far as the post.
"""
from __future__ import annotations

import bisect
import copy
import functools
from typing import Any

from finsearch.storage.schema import ID_FIELD, TITLE
from finsearch.storage.whoosh_format import leaf_readers, stored_title


class Documents:
    """The documents of one Whoosh reader or searcher (not thread-safe: as the reader)."""

    def __init__(self, reader: Any):
        self._reader = reader
        self._read: dict[int, dict[str, Any]] | None = None  # a request's posts read whole (`remembering`)

    def remembering(self) -> Documents:
        """These documents for one request, which keeps the posts it reads whole: re-scoring reads
        the first stories, then the page shows ten of them, and each read decompresses its block
        again. Shares the reader and the columns (opened here, once for every request)."""
        self._segments, self._ids  # noqa: B018 -- opened before the copy, so that it shares them
        view = copy.copy(self)
        view._read = {}
        return view

    @functools.cached_property
    def _ids(self) -> Any:
        """The id column, opened on the first id asked for (tens of milliseconds at a million
        posts, which opening a generation or an export that asks for none does not pay). A segment
        written before id was a column has none (Whoosh would read "" for its documents): then
        None, and every id is read from the stored fields."""
        segments = self._segments[0]
        with_column = bool(segments) and all(segment.has_column(ID_FIELD) for segment in segments)
        return self._reader.column_reader(ID_FIELD) if with_column else None

    @functools.cached_property
    def _segments(self) -> tuple[list[Any], list[int]]:
        """The segment readers and their first docnums."""
        leaves = leaf_readers(self._reader)
        return [segment for segment, _ in leaves], [base for _, base in leaves]

    def title(self, docnum: int) -> str:
        """The document's title: read alone where its segment keeps titles apart, a small part
        of what its stored fields cost; else from those."""
        if self._read is not None and docnum in self._read:
            return self._read[docnum].get(TITLE, "")
        segments, bases = self._segments
        at = bisect.bisect_right(bases, docnum) - 1
        title = stored_title(segments[at], docnum - bases[at]) if at >= 0 else None
        return title if title is not None else self.stored(docnum).get(TITLE, "")

    def stored(self, docnum: int) -> dict[str, Any]:
        """The document's stored fields (not to be changed: a request's view hands them out again)."""
        if self._read is None:
            return self._reader.stored_fields(docnum)
        fields = self._read.get(docnum)
        if fields is None:
            fields = self._read[docnum] = self._reader.stored_fields(docnum)
        return fields

    def id(self, docnum: int) -> str:
        """The document's id."""
        if self._ids is None:
            return self._reader.stored_fields(docnum)[ID_FIELD]
        return self._ids[docnum]
