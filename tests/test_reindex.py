"""The nightly reindex on a copy of real posts: changes applied, nothing else touched, never broken."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from finsearch.indexer import build_index, reindex
from finsearch.search import SearchEngine, SearchRequest
from tests.conftest import FINEWS_POSTS, SAMPLE_POSTS

JIEFANG = "2022-05-02-202205022367563116.md"
# Real wire posts of data/posts, copied into each test's archive: the 1,500 of three days (500 a day).
WIRE_DAYS = ("2026-06-12", "2026-06-30", "2026-07-15")


def finsearch_process(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "finsearch", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def snapshot(engine: SearchEngine) -> dict[str, tuple]:
    """Every document as (title, date, body), by id."""
    hits = {}
    page = 1
    while True:
        result = engine.search(SearchRequest(query="", page=page, page_size=100))
        for hit in result.hits:
            article = engine.article(hit.id)
            hits[hit.id] = (article.title, article.date, article.paragraphs, article.path)
        if page >= result.pages:
            return hits
        page += 1


@pytest.fixture(scope="module")
def wire_pool() -> list[Path]:
    pool = sorted(path for day in WIRE_DAYS for path in SAMPLE_POSTS.glob(f"{day[:7]}/{day}-*.md"))
    assert len(pool) == 1500
    return pool


def make_archive(root: Path, wire_pool: list[Path], wire_files: int) -> Path:
    """The finews posts and the first `wire_files` of the pool, in one flat folder as the site has it."""
    archive = root / "_posts"
    shutil.copytree(FINEWS_POSTS, archive)
    for path in wire_pool[:wire_files]:
        shutil.copy(path, archive / path.name)
    return archive


def test_changes_are_applied_and_nothing_else_changes(tmp_path, wire_pool):
    archive = make_archive(tmp_path, wire_pool, 200)
    index = tmp_path / "index"
    build_index(archive, index, progress=False)
    engine = SearchEngine(index)
    before = snapshot(engine)

    wire = sorted(archive.glob(f"{WIRE_DAYS[0]}-*.md"))
    modified_body, modified_title, renamed, deleted = wire[0], wire[1], wire[2], wire[3]
    body = modified_body.read_text("utf-8")
    modified_body.write_text(body.replace("\n---\n", "\n---\n独角兽测试词开头。", 1), "utf-8")
    text = modified_title.read_text("utf-8")
    modified_title.write_text(text.replace('title: "', 'title: "标题改过了', 1), "utf-8")
    (archive / "moved").mkdir()
    renamed.rename(archive / "moved" / renamed.name)
    deleted.unlink()
    added = wire_pool[-1]
    shutil.copy(added, archive / added.name)
    os.utime(archive / JIEFANG)  # touched, not changed: not reindexed

    report = reindex(archive, index, progress=False)
    assert (report.added, report.updated, report.deleted) == (2, 2, 2)  # renamed = deleted + added
    assert report.unchanged == 205 - 4

    after = snapshot(engine)  # the same engine object sees the new state
    code = lambda path: path.stem.rsplit("-", 1)[-1]
    assert code(deleted) not in after
    assert code(added) in after
    assert after[code(renamed)][3] == f"moved/{renamed.name}"
    assert after[code(modified_title)][0].startswith("标题改过了")
    assert [h.id for h in engine.search(SearchRequest(query="独角兽测试词")).hits] == [code(modified_body)]
    assert engine.search(SearchRequest(query="标题改过了")).total == 1
    untouched = set(before) - {code(p) for p in (modified_body, modified_title, renamed, deleted)}
    assert all(after[i] == before[i] for i in untouched)

    again = reindex(archive, index, progress=False)
    assert (again.added, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 205)


def test_a_killed_reindex_leaves_the_old_index_and_the_next_run_completes(tmp_path, wire_pool):
    archive = make_archive(tmp_path, wire_pool, 0)
    index = tmp_path / "index"
    build_index(archive, index, progress=False)
    for path in wire_pool:
        shutil.copy(path, archive / path.name)
    expected = len(list(archive.glob("*.md")))

    process = finsearch_process("reindex", archive, "--index", index)
    _wait_until_writing(index, process)
    time.sleep(1.0)
    process.send_signal(signal.SIGKILL)
    process.wait()

    engine = SearchEngine(index)
    assert engine.stats().documents == 5  # the previous state, whole
    assert engine.search(SearchRequest(query="供应链金融")).total == 1

    done = finsearch_process("reindex", archive, "--index", index, "--json")
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err
    assert json.loads(out)["added"] == expected - 5
    assert engine.stats().documents == expected


def test_a_killed_full_build_leaves_the_old_index(tmp_path, wire_pool):
    archive = make_archive(tmp_path, wire_pool, 1500)
    index = tmp_path / "index"
    small = make_archive(tmp_path / "small", wire_pool, 0)
    build_index(small, index, progress=False)
    old_build = os.readlink(index / "current")

    process = finsearch_process("reindex", archive, "--index", index, "--full", "--procs", "2")
    _wait_until_writing(index, process)
    time.sleep(1.5)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert os.readlink(index / "current") == old_build
    assert SearchEngine(index).stats().documents == 5

    report = reindex(archive, index, full=True, progress=False)
    assert SearchEngine(index).stats().documents == report.added == 1505
    # The killed run's build is gone; the one just replaced stays until the next publish.
    assert sorted(p.name for p in (index / "builds").iterdir()) == sorted(
        Path(os.readlink(index / name)).name for name in ("current", "previous"))
    assert Path(os.readlink(index / "previous")).name == Path(old_build).name


def test_searches_never_fail_during_a_reindex(tmp_path, wire_pool):
    archive = make_archive(tmp_path, wire_pool, 300)
    index = tmp_path / "index"
    build_index(archive, index, progress=False)
    for path in wire_pool[300:]:
        shutil.copy(path, archive / path.name)

    searcher = subprocess.Popen([sys.executable, "-c", SEARCH_LOOP, str(index)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    reindex(archive, index, progress=False)
    full = reindex(archive, index, full=True, progress=False)
    out, err = searcher.communicate(timeout=120)
    assert searcher.returncode == 0, err
    totals = json.loads(out)
    assert len(totals) >= 20
    assert set(totals) <= {305, 1505}  # the old state or the new one, never a half-written one
    assert totals[-1] == full.added == 1505


SEARCH_LOOP = """
import json, sys, time
from finsearch.search import SearchEngine, SearchRequest
engine = SearchEngine(sys.argv[1])
totals = []
deadline = time.time() + 40
while time.time() < deadline:
    result = engine.search(SearchRequest(query="", page_size=5))
    totals.append(result.articles)
    engine.search(SearchRequest(query="银行 OR 基金", sort="newest"))
    if len(totals) > 30 and totals[-1] == 1505 and totals[-30] == 1505:
        break
    time.sleep(0.05)
print(json.dumps(totals))
"""


def test_two_reindex_runs_at_once(tmp_path, wire_pool):
    archive = make_archive(tmp_path, wire_pool, 1500)
    index = tmp_path / "index"
    first = finsearch_process("reindex", archive, "--index", index)
    _wait_until_writing(index, first)
    started = time.monotonic()
    second = subprocess.run([sys.executable, "-m", "finsearch", "reindex", str(archive), "--index", str(index)],
                            capture_output=True, text=True, timeout=60)
    assert time.monotonic() - started < 15  # at once, not after the first one
    assert second.returncode == 1
    assert "another process is writing" in second.stderr
    assert first.wait(timeout=300) == 0
    assert SearchEngine(index).stats().documents == 1505


def _wait_until_writing(index: Path, process: subprocess.Popen) -> None:
    """Until the process holds the writer lock (its pid is in writer.lock)."""
    lock = index / "writer.lock"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        if lock.exists() and lock.read_text().strip() == str(process.pid):
            return
        time.sleep(0.05)
    raise AssertionError("the reindex never started writing")
