"""The bulk writer writes what Whoosh's own writer would, and a parallel build loses nothing."""
from __future__ import annotations

import numpy as np
import pytest
from whoosh import index as whoosh_index

from finsearch.indexer import build_index
from finsearch.indexer.schema import make_schema, to_document
from finsearch.indexer.store import open_current
from finsearch.indexer.writer import BulkWriter, TermPool
from tests.test_ingest import messy_archive  # noqa: F401  (a fixture)
from tests.whoosh_contents import index_contents


@pytest.fixture(scope="module")
def sample_posts(archive_posts):
    """Real finews posts and real wire posts, long and short: the 5 finews posts and 201 wire posts."""
    finews = [p for p in archive_posts if p.path.startswith("finews/")]
    wire = [p for p in archive_posts if not p.path.startswith("finews/")]
    assert (len(finews), len(wire)) == (5, 3005)
    return finews + wire[::15]


def test_bulk_terms_are_what_whoosh_analysis_gives(sample_posts):
    schema = make_schema()
    for post in sample_posts:
        pool = TermPool(schema)
        for name, value in to_document(post).items():
            field = schema[name]
            if not field.indexed:
                continue
            # The bulk writer keeps frequencies and positions; Whoosh, weights and encoded values.
            fmt = field.format
            positions = fmt.supports("positions")
            expected = [(text, freq, weight, list(fmt.decode_positions(value)) if positions else None)
                        for text, freq, weight, value in sorted(field.index(value))]
            length = pool.add_value(name, 0, value)
            assert length == (sum(freq for _, freq, _, _ in expected) if field.scorable else 0), (post.path, name)
            kept = pool.field_postings(name)
            starts = kept.positions is not None and np.concatenate(([0], np.cumsum(kept.freqs)))
            found = [(text, int(kept.freqs[row]), kept.freqs[row] * fmt.field_boost,
                      kept.positions[starts[row]:starts[row + 1]].tolist() if positions else None)
                     for row, text in enumerate(kept.terms)]
            assert found == expected, (post.path, name)


def test_bulk_writer_writes_the_index_whoosh_writes(sample_posts, tmp_path):
    contents = []
    for name, open_writer in (("whoosh", lambda ix: ix.writer()), ("bulk", BulkWriter)):
        folder = tmp_path / name
        folder.mkdir()
        ix = whoosh_index.create_in(str(folder), make_schema())
        writer = open_writer(ix)
        for post in sample_posts:
            writer.add_document(**to_document(post))
        writer.commit()
        contents.append(index_contents(ix))
    assert contents[0] == contents[1]
    assert len(contents[0][1]) == len(sample_posts)


def test_two_workers_index_every_post_once(messy_archive, tmp_path):  # noqa: F811
    reports = {procs: build_index(messy_archive, tmp_path / f"ix{procs}", procs=procs, progress=False)
               for procs in (1, 2)}
    assert reports[1].indexed == reports[2].indexed
    assert [(p.path, p.reason, p.skipped) for p in reports[1].problems] == \
        [(p.path, p.reason, p.skipped) for p in reports[2].problems]
    kept = {}
    for procs in (1, 2):
        ix, _ = open_current(tmp_path / f"ix{procs}")
        with ix.searcher() as searcher:
            kept[procs] = sorted((f["id"], f["path"], f["title"]) for f in searcher.all_stored_fields())
    assert kept[1] == kept[2]
    assert ("1000008", "2026-07-07-1000008.md", "第一篇") in kept[2]  # the duplicate id keeps its first path
    assert not any(path.startswith("copy/") for _, path, _ in kept[2])
