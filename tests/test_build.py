"""The bulk writer writes what Whoosh's own writer would, and a parallel build loses nothing."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from whoosh import index as whoosh_index

from finsearch.indexer import build_index
from finsearch.indexer.document import to_document
from finsearch.storage.generations import open_current
from finsearch.storage.schema import make_schema
from finsearch.storage.writer import BulkWriter, TermPool
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


@pytest.mark.slow  # Whoosh's own writer on 206 posts
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


def test_two_workers_index_every_post_once(messy_archive, tmp_path):
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


# -- writers side by side (issue 29): no writer may delete another writer's temporary files ------


@pytest.fixture()
def forty_posts(tmp_path):
    """40 real wire posts of data/posts, in an archive of their own."""
    from tests.conftest import SAMPLE_POSTS
    archive = tmp_path / "posts"
    archive.mkdir()
    for path in sorted((SAMPLE_POSTS / "2026-07").glob("*.md"))[:40]:
        (archive / path.name).write_bytes(path.read_bytes())
    return archive


@pytest.fixture()
def second_share_slow(monkeypatch, forty_posts):
    """The second worker's posts read slowly (paths[1::2]), so the first worker finishes all its
    segments while the second is still writing one: the moment an old build's first worker
    cancelled an empty writer and took the shared temporary folder with it."""
    from finsearch.indexer import build as build_module
    slow = {path.name for path in sorted(forty_posts.glob("*.md"))[1::2]}
    read_post = build_module.read_post

    def read_slowly(path, archive):
        if Path(path).name in slow:
            time.sleep(0.05)
        return read_post(path, archive)
    monkeypatch.setattr(build_module, "read_post", read_slowly)


def _indexed_ids(root) -> list[str]:
    ix, _ = open_current(root)
    with ix.searcher() as searcher:
        return sorted(fields["id"] for fields in searcher.all_stored_fields())


@pytest.mark.slow  # a worker reads slowly on purpose; up to 40 segments
@pytest.mark.parametrize("boundary", ["documents", "postings"])
def test_two_workers_whose_shares_end_on_a_segment_boundary(boundary, forty_posts, second_share_slow,
                                                            monkeypatch, tmp_path):
    from finsearch.indexer import build as build_module
    if boundary == "documents":
        # 20 posts a worker: the first writes 2 segments of 10, ending exactly on a boundary; the second
        # starts with half a segment (the workers take turns at their segments' peak): 5 + 10 + 5
        monkeypatch.setattr(build_module, "MAX_SEGMENT_DOCS", 10)
    else:
        monkeypatch.setattr(build_module, "MAX_SEGMENT_POSTINGS", 1)  # every post ends its segment
    report = build_index(forty_posts, tmp_path / "index", procs=2, progress=False)
    assert report.indexed == 40
    assert len(_indexed_ids(tmp_path / "index")) == 40
    ix, build = open_current(tmp_path / "index")
    assert len(ix._segments()) == (5 if boundary == "documents" else 40)
    assert [p.name for p in build.iterdir() if p.is_dir()] == []  # no writer's temporary folder is left


@pytest.mark.slow  # a worker reads slowly on purpose
def test_a_full_reindex_whose_shares_end_on_a_segment_boundary(forty_posts, second_share_slow, monkeypatch,
                                                               tmp_path):
    from finsearch.indexer import build as build_module
    from finsearch.indexer import reindex
    build_index(forty_posts, tmp_path / "index", procs=1, progress=False)
    monkeypatch.setattr(build_module, "MAX_SEGMENT_DOCS", 10)
    report = reindex(forty_posts, tmp_path / "index", full=True, procs=2, progress=False)
    assert report.full and report.added == 40
    assert len(_indexed_ids(tmp_path / "index")) == 40


def test_a_writer_cancelled_mid_way_leaves_the_other_writing(sample_posts, tmp_path):
    from finsearch.storage.writer import open_writer
    ix = whoosh_index.create_in(str(tmp_path), make_schema())
    first, second = open_writer(ix, locked=False), open_writer(ix, locked=False)
    for post in sample_posts[:20]:
        first.add_document(**to_document(post))
        second.add_document(**to_document(post))
    first.cancel()
    for post in sample_posts[20:40]:
        second.add_document(**to_document(post))
    segment = second.finish_segment()
    assert segment.doc_count() == 40
    writer = open_writer(ix)
    writer.segments.append(segment)
    writer.commit(merge=False)
    assert whoosh_index.open_dir(str(tmp_path)).doc_count() == 40
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == []


def test_a_build_that_fails_names_its_step_and_leaves_only_the_report(forty_posts, monkeypatch, tmp_path):
    from finsearch import storage
    from finsearch.indexer import BuildFailed
    from finsearch.storage.generations import read_outcome
    root = tmp_path / "index"
    build_index(forty_posts, root, procs=1, progress=False)
    before = sorted(p.name for p in (root / "builds").iterdir())

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(storage, "write_stock_names", disk_full)
    with pytest.raises(BuildFailed) as failed:
        build_index(forty_posts, root, procs=2, progress=False)
    assert failed.value.step == "writing the stock names"
    assert "while writing the stock names" in str(failed.value) and "No space left" in str(failed.value)
    assert sorted(p.name for p in (root / "builds").iterdir()) == before
    outcome = read_outcome(root)
    assert outcome is not None and not outcome["ok"] and outcome["step"] == "writing the stock names"
    assert len(_indexed_ids(root)) == 40  # the previous generation still serves


def _shares_stall(monkeypatch, archive, first_share_fails: bool) -> None:
    """Every post a worker reads takes long to read, but the first: it fails with a full disk
    (first_share_fails) or reads slowly too."""
    import multiprocessing

    from finsearch.indexer import build as build_module
    failing = sorted(archive.glob("*.md"))[0].name
    read_post = build_module.read_post

    def read_stalling(path, root):
        if multiprocessing.parent_process() is None:  # the build's own sample, read before the workers
            return read_post(path, root)
        if first_share_fails and Path(path).name == failing:
            raise OSError(28, "No space left on device")
        time.sleep(2)
        return read_post(path, root)
    monkeypatch.setattr(build_module, "read_post", read_stalling)


def test_a_worker_that_fails_stops_the_build_at_once(forty_posts, monkeypatch, tmp_path):
    import multiprocessing

    from finsearch.indexer import BuildFailed
    from finsearch.storage.generations import read_outcome
    root = tmp_path / "index"
    build_index(forty_posts, root, procs=1, progress=False)
    _shares_stall(monkeypatch, forty_posts, first_share_fails=True)
    started = time.monotonic()
    with pytest.raises(BuildFailed) as failed:
        build_index(forty_posts, root, procs=2, progress=False)
    # The other worker's share takes 40 s: the build did not wait for it, and it is gone.
    assert time.monotonic() - started < 20
    assert multiprocessing.active_children() == []
    assert "No space left" in str(failed.value)
    outcome = read_outcome(root)
    assert outcome is not None and outcome["code"] == "disk-full"
    assert len(_indexed_ids(root)) == 40  # the previous generation still serves


def test_an_interrupted_build_stops_its_workers_and_says_so(forty_posts, monkeypatch, tmp_path):
    import multiprocessing
    import signal
    import threading

    from finsearch.storage.generations import read_outcome
    root = tmp_path / "index"
    build_index(forty_posts, root, procs=1, progress=False)
    _shares_stall(monkeypatch, forty_posts, first_share_fails=False)
    threading.Timer(3, signal.raise_signal, (signal.SIGINT,)).start()  # Ctrl-C, to this process alone
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        build_index(forty_posts, root, procs=2, progress=False)
    assert time.monotonic() - started < 20  # each share takes 40 s
    assert multiprocessing.active_children() == []
    outcome = read_outcome(root)
    assert outcome is not None and not outcome["ok"] and outcome["code"] == "interrupted"
    assert len(_indexed_ids(root)) == 40
    assert [p.name for p in (root / "builds").iterdir()] == [open_current(root)[1].name]
