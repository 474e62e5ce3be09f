"""The index's lifecycle on real posts: the delete guard, generations and rollback, the manifest,
and the operator's view (/healthz, the real server before the first index, its error pages)."""
from __future__ import annotations

import json
import os
import shutil
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from finsearch.indexer import build_index
from finsearch.search import SearchEngine, SearchRequest
from finsearch.webui import CONTENT_SECURITY_POLICY, SECURITY_HEADERS, create_app
from tests.conftest import REPO, SAMPLE_POSTS
from tests.servers import serving

# Most tests here write, refuse, roll back or rebuild generations of a real 300-post index: seconds each.
pytestmark = pytest.mark.slow

EXIT_REFUSED = 3
QUERIES = ("银行", "基金", "供应链金融", "人工智能", "上海 银行", "股份 OR 证券", "title:公司", "回滚测试标题")


def message_lines(stderr: str) -> list[str]:
    """What the command said, less the one warning a forced Whoosh fallback logs
    (FINSEARCH_WHOOSH_FAST=0 runs this suite on the stock paths)."""
    return [line for line in stderr.splitlines() if "Whoosh fast paths off" not in line]


def state(index: Path) -> tuple[str, int, tuple[str, ...]]:
    """What a reader sees: the current generation, its document count, every id in order."""
    engine = SearchEngine(index)
    try:
        result = engine.search(SearchRequest(query="", page_size=100))
        ids: list[str] = []
        for page in range(1, result.pages + 1):
            ids += [hit.id for hit in engine.search(SearchRequest(query="", page=page, page_size=100)).hits]
        return os.readlink(index / "current"), engine.stats().documents, tuple(ids)
    finally:
        engine.close()


def results(index: Path) -> dict[str, list[tuple[str, str]]]:
    """The first page of hits (id, title) of every query in QUERIES."""
    engine = SearchEngine(index)
    try:
        return {q: [(h.id, h.title) for h in engine.search(SearchRequest(query=q, page_size=20)).hits]
                for q in QUERIES}
    finally:
        engine.close()




# -- 1. the delete guard ------------------------------------------------------------------


def _unmounted(archive: Path) -> Path:
    for path in archive.iterdir():
        path.unlink()
    return archive


def _missing(archive: Path) -> Path:
    return archive.parent / "not-mounted"


def _a_file(archive: Path) -> Path:
    return min(archive.iterdir())


def _unreadable(archive: Path) -> Path:
    for path in archive.iterdir():
        path.write_bytes(b"\x00\x01binary\x00" * 10)  # every post changed, none readable
    return archive


def _sixty_percent_gone(archive: Path) -> Path:
    for path in sorted(archive.iterdir())[:180]:
        path.unlink()
    return archive


@pytest.mark.parametrize("damage, code", [
    (_unmounted, "archive-empty"), (_missing, "archive-missing"), (_a_file, "archive-not-folder"),
    (_unreadable, "no-readable-post"), (_sixty_percent_gone, "too-many-deletes")])
def test_a_wrong_archive_leaves_the_index_untouched(cli, site, damage, code):
    archive, index = site
    before = state(index)
    target = damage(archive)
    done = cli("reindex", target, "--index", index, "--json")
    assert done.returncode == EXIT_REFUSED, done.stderr
    out = json.loads(done.stdout)
    assert out["ok"] is False and out["code"] == code and out["error"] and out["timestamp"].startswith("20")
    assert len(message_lines(done.stderr)) == 1 and "nothing changed" in done.stderr and "Traceback" not in done.stderr
    assert state(index) == before
    assert sorted(p.name for p in (index / "builds").iterdir()) == [Path(before[0]).name]
    last = json.loads((index / "last-run.json").read_text())
    assert (last["command"], last["ok"], last["code"]) == ("reindex", False, code)
    if code != "too-many-deletes":  # a full rebuild and a first build refuse an empty index too
        for command in (("reindex", "--full"), ("index",)):
            again = cli(command[0], target, "--index", index, *command[1:])
            assert again.returncode == EXIT_REFUSED, (command, again.stderr)
        assert state(index) == before
        fresh = cli("index", target, "--index", index.parent / "fresh")
        assert fresh.returncode == EXIT_REFUSED
        assert not (index.parent / "fresh" / "current").exists()


def test_deletions_over_the_limit_need_to_be_meant(cli, site):
    archive, index = site
    before = state(index)
    gone = sorted(archive.glob("2026-06-*.md"))[:30]  # 10% of the index
    for path in gone:
        path.unlink()
    assert cli("reindex", archive, "--index", index).returncode == EXIT_REFUSED
    assert cli("reindex", archive, "--index", index, "--full").returncode == EXIT_REFUSED
    assert cli("reindex", archive, "--index", index, "--max-delete", "9").returncode == EXIT_REFUSED
    assert state(index) == before

    done = cli("reindex", archive, "--index", index, "--max-delete", "10", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["deleted"] == 30
    _, documents, ids = state(index)
    assert documents == 270 and not {p.stem.rsplit("-", 1)[-1] for p in gone} & set(ids)

    for path in sorted(archive.glob("2026-06-*.md"))[:100]:
        path.unlink()
    done = cli("reindex", archive, "--index", index, "--allow-deletes", "--json")
    assert done.returncode == 0, done.stderr
    assert state(index)[1] == 170


def test_a_rename_or_a_small_deletion_is_not_refused(cli, site):
    archive, index = site
    posts = sorted(archive.glob("2026-06-*.md"))
    (archive / "moved").mkdir()
    for path in posts[:40]:  # 40 renamed: no document lost
        path.rename(archive / "moved" / path.name)
    for path in posts[40:50]:  # 10 deleted: 3.3%
        path.unlink()
    done = cli("reindex", archive, "--index", index, "--json")
    assert done.returncode == 0, done.stderr
    assert state(index)[1] == 290


def test_help_documents_the_refusal_exit_code(cli):
    done = cli("reindex", "--help")
    assert "--allow-deletes" in done.stdout and "--max-delete" in done.stdout
    assert "3" in done.stdout and "refused" in cli("--help").stdout
    assert "exit code 3" in (REPO / "docs" / "cli.md").read_text()


# -- 2. generations and rollback -------------------------------------------------------------


def _change(archive: Path) -> None:
    posts = sorted(archive.glob("2026-06-*.md"))
    posts[0].unlink()
    text = posts[1].read_text("utf-8")
    posts[1].write_text(text.replace('title: "', 'title: "回滚测试标题', 1), "utf-8")
    extra = sorted((SAMPLE_POSTS / "2026-07").glob("*.md"))[:5]
    for path in extra:
        shutil.copy(path, archive / path.name)


def test_rollback_restores_the_previous_results_exactly(cli, site):
    archive, index = site
    before_state, before_results = state(index), results(index)
    old_build = index / os.readlink(index / "current")
    old_files = {p.name: (p.stat().st_ino, p.read_bytes()) for p in old_build.iterdir() if p.is_file()}
    engine = SearchEngine(index)  # a reader open throughout

    _change(archive)
    done = cli("reindex", archive, "--index", index, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["generation"] == 2
    new_build = index / os.readlink(index / "current")
    assert new_build != old_build and os.readlink(index / "previous") == str(old_build.relative_to(index))
    # The new generation shares the unchanged segment files (hard links); the old one is as it was.
    shared = [p for p in new_build.iterdir() if p.name in old_files and p.suffix in (".ftd", ".fpo", ".col")]
    assert shared and all(p.stat().st_ino == old_files[p.name][0] for p in shared)
    assert {p.name: (p.stat().st_ino, p.read_bytes()) for p in old_build.iterdir()
            if p.is_file()} == old_files
    assert engine.search(SearchRequest(query="回滚测试标题")).total == 1  # the open reader follows
    changed = results(index)
    assert changed != before_results and state(index)[1] == 304

    done = cli("rollback", "--index", index)
    assert done.returncode == 0, done.stderr
    assert results(index) == before_results
    assert state(index) == before_state
    assert engine.search(SearchRequest(query="回滚测试标题")).total == 0
    engine.close()

    again = cli("rollback", "--index", index)
    assert again.returncode == 1 and "no previous generation" in again.stderr
    assert len(message_lines(again.stderr)) == 1
    assert state(index) == before_state
    # The next reindex starts from the rolled-back state and applies the changes again.
    done = cli("reindex", archive, "--index", index, "--json")
    assert done.returncode == 0 and results(index) == changed


def test_rollback_without_a_previous_generation(cli, built, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(built[1], index, symlinks=True)  # one generation, as its build left it
    done = cli("rollback", "--index", index)
    assert done.returncode == 1 and "no previous generation" in done.stderr
    nothing = cli("rollback", "--index", tmp_path / "nowhere")
    assert nothing.returncode == 1 and "no index" in nothing.stderr and not (tmp_path / "nowhere").exists()
    assert "rollback" in cli("--help").stdout and "finsearch rollback" in (REPO / "README.md").read_text()


def test_the_last_generations_are_kept_and_a_held_one_is_never_removed(cli, site):
    from finsearch.storage import Generation
    archive, index = site
    posts = sorted(archive.glob("2026-06-*.md"))
    held = Generation(index)  # a reader on generation 1 (a long export, say)
    try:
        for run in range(4):
            posts[run].unlink()
            assert cli("reindex", archive, "--index", index).returncode == 0
        listed = json.loads(cli("generations", "--index", index, "--json").stdout)["generations"]
        assert [g["generation"] for g in listed] == [5, 4, 3, 1]  # the last three, and the one held
        assert [g["current"] for g in listed] == [True, False, False, False]
        assert listed[-1]["in_use"] and listed[0]["documents"] == 296
        assert held.index.doc_count() == 300  # still readable, whole
    finally:
        held.close()
    posts[4].unlink()
    assert cli("reindex", archive, "--index", index).returncode == 0
    listed = json.loads(cli("generations", "--index", index, "--json").stdout)["generations"]
    assert [g["generation"] for g in listed] == [6, 5, 4]  # released: gone with the next publish
    assert len(list((index / "builds").iterdir())) == 3


def test_rollback_to_any_kept_generation_and_never_to_a_damaged_one(cli, site):
    archive, index = site
    posts = sorted(archive.glob("2026-06-*.md"))
    for run in range(2):
        posts[run].unlink()
        assert cli("reindex", archive, "--index", index).returncode == 0
    done = cli("rollback", "--index", index, "--to", "1")
    assert done.returncode == 0, done.stderr
    assert state(index)[1] == 300
    assert cli("rollback", "--index", index, "--to", "7").returncode == 1
    # A file of generation 3 alone (not hard-linked into another) gets a flipped bit: rolling
    # forward onto it is refused and names the file.
    build = index / "builds" / next(p.name for p in (index / "builds").iterdir() if p.name.startswith("g000003"))
    damaged = next(p for p in build.iterdir() if p.name.endswith(".toc") and p.stat().st_nlink == 1)
    with open(damaged, "r+b") as handle:
        handle.seek(damaged.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0x10]))
    refused = cli("rollback", "--index", index, "--to", "3")
    assert refused.returncode == 1 and damaged.name in refused.stderr and "damaged" in refused.stderr
    assert state(index)[1] == 300


# -- 3. the manifest --------------------------------------------------------------------------


def _tamper(index: Path, change) -> None:
    manifest_path = index / os.readlink(index / "current") / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    change(manifest)
    manifest_path.write_text(json.dumps(manifest))


def test_each_build_records_what_it_was_made_with(site):
    from importlib import metadata

    from finsearch.analysis import fingerprint, near_duplicates
    _, index = site
    manifest = json.loads((index / os.readlink(index / "current") / "manifest.json").read_text())
    assert manifest["finsearch_version"] == metadata.version("finsearch")
    assert manifest["analysis"] == {**fingerprint(), "signatures": near_duplicates.fingerprint()}
    assert manifest["schema"]["body_gram"] == "TEXT" and manifest["schema"]["date"] == "DATETIME"
    assert manifest["generation"] == 1


def test_an_index_analysed_differently_is_rebuilt_and_not_served(cli, site):
    archive, index = site
    _tamper(index, lambda m: m["analysis"].update(dictionary="0" * 32))
    done = cli("search", "银行", "--index", index)
    assert done.returncode == 1
    assert len(message_lines(done.stderr)) == 1 and "analysed differently (changed: dictionary)" in done.stderr

    app = create_app(index, TESTING=True)
    try:
        client = app.test_client()
        response = client.get("/api/search?q=银行")
        assert response.status_code == 503 and "重建索引" in response.get_json()["error"]
        page = client.get("/?q=银行")
        assert page.status_code == 503 and "重建索引" in page.get_data(as_text=True)
        assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert client.get("/healthz").status_code == 503

        done = cli("reindex", archive, "--index", index, "--json")
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout)
        assert out["full"] is True and "dictionary" in out["full_reason"]
        assert client.get("/api/search?q=银行").status_code == 200  # the app picks up the rebuilt index
    finally:
        app.extensions["finsearch"].close()
    assert cli("search", "银行", "--index", index).returncode == 0


def test_an_index_without_a_manifest_says_so(cli, site):
    archive, index = site
    (index / os.readlink(index / "current") / "manifest.json").unlink()
    done = cli("search", "银行", "--index", index)
    assert done.returncode == 1 and "has no manifest" in done.stderr and len(message_lines(done.stderr)) == 1
    done = cli("reindex", archive, "--index", index)
    assert done.returncode == 0 and "full rebuild (the index has no manifest" in done.stdout


# -- 4. the operator's view ---------------------------------------------------------------------


def test_healthz_reports_the_index_and_the_last_run(cli, site):
    archive, index = site
    app = create_app(index, TESTING=True)
    try:
        client = app.test_client()
        health = client.get("/healthz")
        assert health.status_code == 200, health.get_json()
        data = health.get_json()
        assert (data["status"], data["generation"], data["documents"]) == ("ok", 1, 300)
        assert 0 <= data["age_seconds"] < 600
        assert data["last_run"]["command"] == "index" and data["last_run"]["ok"] is True
        assert health.headers["Cache-Control"] == "no-store"

        min(archive.glob("2026-06-*.md")).unlink()
        assert cli("reindex", archive, "--index", index).returncode == 0
        data = client.get("/healthz").get_json()
        assert (data["generation"], data["documents"], data["last_run"]["deleted"]) == (2, 299, 1)

        assert cli("reindex", archive / "nope", "--index", index).returncode == EXIT_REFUSED
        data = client.get("/healthz").get_json()
        assert data["documents"] == 299
        assert (data["last_run"]["ok"], data["last_run"]["code"]) == (False, "archive-missing")
    finally:
        app.extensions["finsearch"].close()

    empty = create_app(index.parent / "no-index", TESTING=True)
    response = empty.test_client().get("/healthz")
    assert response.status_code == 503 and response.get_json()["status"] == "unavailable"


def test_a_search_past_its_budget_gets_the_apps_own_503_and_leaves_nothing_half_done(index_dir, monkeypatch):
    from finsearch.search import evaluate
    app = create_app(index_dir, TESTING=True, FINSEARCH_REQUEST_BUDGET=0.3)
    engine = app.extensions["finsearch"].engine()
    expected = engine.search(SearchRequest(query="银行 上海")).hits
    engine.search(SearchRequest(query="warm-up"))
    read = evaluate._Evaluation._postings

    def slow_read(self, *args, **kwargs):  # each posting list read as if from a slow disk
        time.sleep(0.2)
        return read(self, *args, **kwargs)
    monkeypatch.setattr(evaluate._Evaluation, "_postings", slow_read)
    try:
        client = app.test_client()
        for url, kind in (("/?q=银行+证券", "text/html"), ("/api/search?q=银行+基金", "application/json")):
            started = time.monotonic()
            response = client.get(url)
            assert time.monotonic() - started < 2  # stopped at the next step past its budget
            assert response.status_code == 503 and response.mimetype == kind
            assert "耗时过长" in response.get_data(as_text=True)
            for name, value in SECURITY_HEADERS.items():
                assert response.headers[name] == value
        monkeypatch.setattr(evaluate._Evaluation, "_postings", read)
        assert client.get("/api/search?q=银行+证券").status_code == 200  # the budget is per request
        assert engine.search(SearchRequest(query="银行 上海")).hits == expected  # no cache left half filled
        assert client.get("/export.csv?q=银行").status_code == 200  # a stream is not under the budget
    finally:
        app.extensions["finsearch"].close()


def _get(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _raw(port: int, request: bytes) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode("latin-1")


@pytest.mark.server  # a server of its own: it starts before its index exists
def test_the_real_server_waits_for_its_first_index(built, tmp_path):
    """`finsearch serve` before any index: no crash (no restart loop), 503 until the index appears,
    one warning in the log and no traceback; gunicorn's own error pages carry the security headers too."""
    archive, _ = built
    index = tmp_path / "index"
    log = tmp_path / "server.log"
    with serving(index, log) as base:
        status, headers, body = _get(f"{base}/healthz")
        assert status == 503 and json.loads(body)["status"] == "unavailable"
        status, headers, body = _get(f"{base}/?q=%E9%93%B6%E8%A1%8C")
        assert status == 503 and headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        logged = log.read_text()
        assert "no index at" in logged and "Traceback" not in logged

        build_index(archive, index, progress=False)
        status, _, body = _get(f"{base}/healthz")
        assert status == 200 and json.loads(body)["documents"] == 300
        status, _, body = _get(f"{base}/api/search?q=%E9%93%B6%E8%A1%8C")
        assert status == 200 and json.loads(body)["total"] > 0

        for request in (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",  # gunicorn's 414
                        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"):  # gunicorn's 400
            answer = _raw(int(base.rsplit(":", 1)[1]), request)
            head = answer.split("\r\n\r\n", 1)[0]
            assert head.startswith(("HTTP/1.1 414", "HTTP/1.1 400")), head
            for name, value in SECURITY_HEADERS.items():
                assert f"\r\n{name}: {value}\r\n" in head + "\r\n", (name, head)
        assert _get(f"{base}/healthz")[0] == 200  # still up


# -- 6. churn: deletions are purged, not kept on disk and in the statistics ----------------------


def test_a_reindex_purges_deleted_documents(cli, site):
    from whoosh import index as whoosh_index
    archive, index = site
    for path in sorted(archive.glob("2026-06-*.md"))[::8]:  # 12% of the only segment
        path.unlink()
    done = cli("reindex", archive, "--index", index, "--max-delete", "15", "--json")
    assert done.returncode == 0, done.stderr
    segments = whoosh_index.open_dir(str(index / os.readlink(index / "current")))._segments()
    assert sum(s.deleted_count() for s in segments) == 0  # rewritten without them
    fresh = index.parent / "fresh"
    build_index(archive, fresh, progress=False)
    assert results(index) == results(fresh)  # same documents, same BM25 statistics, same ranking
    engine, rebuilt = SearchEngine(index), SearchEngine(fresh)
    try:
        for query in QUERIES:
            ours = engine.search(SearchRequest(query=query, page_size=5))
            theirs = rebuilt.search(SearchRequest(query=query, page_size=5))
            assert [h.id for h in ours.hits] == [h.id for h in theirs.hits]
    finally:
        engine.close()
        rebuilt.close()
