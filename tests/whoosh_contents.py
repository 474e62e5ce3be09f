"""What an index holds, as Whoosh's public reader API gives it: for comparing two writers."""
from __future__ import annotations

from typing import Any

from finsearch.storage.schema import BODY, BODY_GRAM, DATE, ID_FIELD, PATH, STORY, TITLE, TITLE_GRAM


def index_contents(ix: Any) -> tuple:
    """Every posting, stored field, field length and column value of `ix`, by docnum."""
    with ix.reader() as reader:
        # Segment by segment: a multi-segment reader looks every term up in every segment.
        # A posting kept in the term table reports an empty value as '', one in a block as None.
        # Positions are compared decoded: the bulk writer pickles them in fewer bytes.
        postings = sorted((f, t, base + d, w, decoded_value(reader.schema[f].format, v)) for segment, base
                          in reader.leaf_readers() for f, t, d, w, v in segment.iter_postings())
        stored = [reader.stored_fields(d) for d in range(reader.doc_count_all())]
        lengths = [(d, name, reader.doc_field_length(d, name)) for d in range(reader.doc_count_all())
                   for name in (TITLE, BODY, TITLE_GRAM, BODY_GRAM)]
        columns = [list(reader.column_reader(name)) for name in (ID_FIELD, PATH, DATE, STORY)]
        deleted = [d for d in range(reader.doc_count_all()) if reader.is_deleted(d)]
        return postings, stored, lengths, columns, deleted


def decoded_value(fmt: Any, value: bytes | None) -> Any:
    """A posting value as compared: positions decoded, an empty value as None."""
    if not value:
        return None
    return tuple(fmt.decode_positions(value)) if fmt.supports("positions") else value


def positions_at(postings: Any, row: int) -> list[int]:
    """The positions of one posting of a search.postings.Postings read with positions."""
    starts = postings.position_starts
    return postings.positions[starts[row]:starts[row + 1]].tolist()
