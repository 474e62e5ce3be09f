"""The nightly reindex on a copy of real posts: changes applied, nothing else touched, never broken."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finsearch.indexer import build_index, reindex
from finsearch.search import SearchEngine, SearchRequest
from finsearch.storage import generations as store
from tests import conftest
from tests import test_lifecycle as lifecycle
from tests.conftest import FINEWS_POSTS, SAMPLE_POSTS, first_posts
from tests.servers import finsearch

# Runs over hundreds of real posts, crashes in a process, searches from other processes: minutes in all.
pytestmark = pytest.mark.slow

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
    def code(path):
        return path.stem.rsplit("-", 1)[-1]
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


# -- crash points: a run that dies at any step loses nothing ----------------------------------
# (FINSEARCH_CRASH_AT makes the writer os._exit at a named step; see indexer/store.py.)


def _mutate(archive: Path) -> None:
    """A night's changes, under the delete guard's 5%: 2 deleted, 1 changed, 1 renamed, 5 added."""
    posts = sorted(archive.glob("2026-06-*.md"))
    posts[0].unlink()
    posts[1].unlink()
    text = posts[2].read_text("utf-8")
    posts[2].write_text(text.replace("\n---\n", "\n---\n崩溃测试词开头。", 1), "utf-8")
    (archive / "moved").mkdir()
    posts[3].rename(archive / "moved" / posts[3].name)
    for path in sorted((lifecycle.SAMPLE_POSTS / "2026-07").glob("*.md"))[:5]:
        shutil.copy(path, archive / path.name)


CRASH_QUERIES = lifecycle.QUERIES + ("崩溃测试词",)


def _crash_results(index: Path) -> dict:
    engine = SearchEngine(index)
    try:
        return {q: [h.id for h in engine.search(SearchRequest(query=q, page_size=20)).hits] for q in CRASH_QUERIES}
    finally:
        engine.close()


@pytest.fixture(scope="module")
def crash_site(tmp_path_factory):
    """300 real posts indexed, and the same archive after a night's changes with its fresh full build."""
    root = tmp_path_factory.mktemp("crash")
    archive = conftest.make_archive(root / "posts")
    build_index(archive, root / "index", progress=False)
    changed = root / "changed"
    shutil.copytree(archive, changed)
    _mutate(changed)
    build_index(changed, root / "fresh", progress=False)
    return archive, root / "index", lifecycle.state(root / "fresh")[2], _crash_results(root / "fresh")


@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full"])
@pytest.mark.parametrize("point", store.CRASH_POINTS)
def test_a_crash_at_any_step_loses_nothing(cli, crash_site, tmp_path, point, full):
    original, built, fresh_ids, fresh_results = crash_site
    archive, index = tmp_path / "posts", tmp_path / "index"
    shutil.copytree(original, archive)
    shutil.copytree(built, index, symlinks=True)
    before = lifecycle.state(index)
    _mutate(archive)
    options = ["--full"] if full else []
    if point == "during-cleanup":  # something to clean: what a run killed earlier left
        crashed = finsearch("reindex", archive, "--index", index, *options, env={store.CRASH_ENV: "after-segments"})
        assert crashed.returncode == store.CRASH_EXIT_CODE, crashed.stderr
        assert len(list((index / "builds").iterdir())) == 2

    crashed = finsearch("reindex", archive, "--index", index, *options, env={store.CRASH_ENV: point})
    assert crashed.returncode == store.CRASH_EXIT_CODE, crashed.stderr
    if point == "after-swap":  # the new generation was complete and is serving
        assert lifecycle.state(index)[2] == fresh_ids
    else:  # the previous state serves, whole
        assert lifecycle.state(index) == before

    done = cli("reindex", archive, "--index", index, *options, "--json")
    assert done.returncode == 0, done.stderr
    assert lifecycle.state(index)[2] == fresh_ids
    assert _crash_results(index) == fresh_results
    # Nothing the crashed run left remains: every build is current, previous or was published.
    published = {Path(os.readlink(index / name)).name for name in ("current", "previous")}
    for build in (index / "builds").iterdir():
        assert build.name in published or (build / ".published").exists(), build.name
    assert not list(index.glob(".current.*")) and not list(index.glob(".previous.*"))


# -- a property: any sequence of incremental runs equals a full rebuild --------------------------

POOL = first_posts(60)
OPERATIONS = st.lists(st.tuples(st.sampled_from(["add", "change", "rename", "delete", "duplicate", "garbage"]),
                                st.integers(0, 59)), min_size=1, max_size=4)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          derandomize=True)
@given(steps=OPERATIONS)
def test_incremental_runs_equal_a_full_rebuild(tmp_path_factory, steps):
    root = tmp_path_factory.mktemp("property")
    archive = root / "posts"
    archive.mkdir()
    for path in POOL[:30]:
        shutil.copy(path, archive / path.name)
    index = root / "index"
    build_index(archive, index, progress=False)
    for number, (operation, pick) in enumerate(steps):
        present = sorted(p for p in archive.rglob("*.md"))
        target = present[pick % len(present)]
        if operation == "add":
            source = POOL[pick]
            shutil.copy(source, archive / source.name)
        elif operation == "change":
            target.write_text(target.read_text("utf-8").replace("\n---\n", f"\n---\n性质测试{number}。", 1), "utf-8")
        elif operation == "rename":
            (archive / f"dir{number}").mkdir()
            target.rename(archive / f"dir{number}" / target.name)
        elif operation == "delete" and len(present) > 1:
            target.unlink()
        elif operation == "duplicate":  # the same id under another path (sorts before or after)
            for folder in (f"0dup{number}", f"zdup{number}"):
                (archive / folder).mkdir()
                shutil.copy(target, archive / folder / target.name)
        elif operation == "garbage":
            (archive / f"2026-06-30-99{number}{pick}.md").write_bytes(b"\x00\xff" * 64)
        reindex(archive, index, progress=False, max_delete=100)
        fresh = root / f"fresh{number}"
        build_index(archive, fresh, progress=False)
        assert lifecycle.state(index)[1:] == lifecycle.state(fresh)[1:], (steps, number)
        assert _crash_results(index) == _crash_results(fresh), (steps, number)


# -- searches from other processes never fail during a series of runs ---------------------------

LIVE_SEARCHES = """
import json, select, sys, time
from finsearch.search import SearchEngine, SearchRequest
engine = SearchEngine(sys.argv[1])
engine.search(SearchRequest(query="银行 OR 基金", sort="newest"))  # warm (jieba, OpenCC): ready means searching
print("ready", flush=True)
searches, failures, totals = 0, [], set()
stop = time.time() + 120
while time.time() < stop:
    try:
        totals.add(engine.search(SearchRequest(query="", page_size=5)).articles)
        engine.search(SearchRequest(query="银行 OR 基金", sort="newest"))
        searches += 2
    except Exception as error:
        failures.append(repr(error))
    if select.select([sys.stdin], [], [], 0)[0]:  # the test says stop
        break
print(json.dumps({"searches": searches, "failures": failures, "totals": sorted(totals)}))
"""


def test_searches_from_other_processes_never_fail_during_runs(cli, tmp_path):
    archive = conftest.make_archive(tmp_path / "posts")
    index = tmp_path / "index"
    build_index(archive, index, progress=False)
    searchers = [subprocess.Popen([sys.executable, "-c", LIVE_SEARCHES, str(index)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for searcher in searchers:
        assert searcher.stdout.readline().strip() == "ready", searcher.stderr.read()
    expected = {300}
    extra = sorted((lifecycle.SAMPLE_POSTS / "2026-07").glob("*.md"))
    for run in range(6):
        for path in extra[run * 3:run * 3 + 3]:
            shutil.copy(path, archive / path.name)
        min(archive.glob("2026-06-*.md")).unlink()
        expected.add(reindex(archive, index, progress=False).unchanged + 3)
    assert cli("rollback", "--index", index).returncode == 0
    expected.add(reindex(archive, index, full=True, progress=False).added)
    reports = []
    for searcher in searchers:
        out, err = searcher.communicate("stop\n", timeout=60)
        assert searcher.returncode == 0, err
        reports.append(json.loads(out))
    for report in reports:
        assert report["failures"] == []
        assert report["searches"] > 20
        assert set(report["totals"]) <= expected  # always one whole generation, never a half-written one


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


def test_two_reindex_runs_at_once(cli, tmp_path, wire_pool):
    archive = make_archive(tmp_path, wire_pool, 1500)
    index = tmp_path / "index"
    first = finsearch_process("reindex", archive, "--index", index)
    _wait_until_writing(index, first)
    started = time.monotonic()
    second = cli("reindex", archive, "--index", index)
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
