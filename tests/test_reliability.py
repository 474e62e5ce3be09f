"""Issue 24: damage on disk, an export through a reindex, quiet nights, odd dates, a full disk.

Each test is what an operator or a reader would notice: a damaged file is named (by `check`,
by opening the index, by `replicate`, by the web server) and never answers wrong; the nightly
run rebuilds what is damaged from the archive; an export reads one generation from its first
row to its last; a night without changes publishes nothing; a full disk is said as such.
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from finsearch.indexer import build_index
from finsearch.search import IndexDamaged, SearchEngine, make_request
from finsearch.storage import generations as store
from finsearch.webui import create_app
from tests.conftest import SAMPLE_POSTS
from tests.servers import finsearch, serving
from tests.test_lifecycle import message_lines

# Each test builds, damages or serves an index of its own, and runs the CLI as the operator would.
pytestmark = pytest.mark.slow

QUERY = "银行"




def ids(index: Path, query: str = QUERY) -> list[str]:
    engine = SearchEngine(index)
    try:
        return [hit.id for hit in engine.iter_hits(make_request(query))]
    finally:
        engine.close()


def largest(index: Path, suffix: str) -> Path:
    build = store.current_build(index)
    return max((p for p in build.iterdir() if p.name.endswith(suffix)), key=lambda p: p.stat().st_size)


def flip_bit(path: Path) -> None:
    """One bit of the file's middle byte, as bit rot would (written in place: the same inode)."""
    with open(path, "r+b") as handle:
        handle.seek(path.stat().st_size // 2)
        byte = handle.read(1)[0]
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte ^ 0x08]))


# -- damage on disk -------------------------------------------------------------------------


def test_a_flipped_bit_is_named_by_check_by_opening_by_the_web_and_by_replicate(site, tmp_path):
    archive, index = site
    postings = largest(index, ".fpo")
    flip_bit(postings)

    checked = finsearch("check", "--index", index)
    assert checked.returncode == 1 and postings.name in checked.stderr and "DAMAGED" in checked.stdout

    searched = finsearch("search", QUERY, "--index", index)  # never an answer from damaged bytes
    assert searched.returncode == 1 and postings.name in searched.stderr
    assert len(message_lines(searched.stderr)) == 1 and "Traceback" not in searched.stderr
    with pytest.raises(IndexDamaged) as opened:
        SearchEngine(index)
    assert postings.name in opened.value.files

    app = create_app(index, TESTING=True)
    client = app.test_client()
    health = client.get("/healthz")
    assert health.status_code == 503 and postings.name in health.get_json()["damaged"]
    page = client.get(f"/?q={QUERY}")
    assert page.status_code == 503 and postings.name in page.get_data(as_text=True)
    assert client.get(f"/api/search?q={QUERY}").status_code == 503

    node = tmp_path / "node"
    copied = finsearch("replicate", index, node)
    assert copied.returncode == 3 and "damaged" in copied.stderr and postings.name in copied.stderr
    assert not (node / "current").exists()


def test_a_truncated_postings_file_is_an_error_never_a_crash(site, tmp_path):
    archive, index = site
    postings = largest(index, ".fpo")
    size = postings.stat().st_size
    os.truncate(postings, size // 2)
    searched = finsearch("search", QUERY, "--index", index)
    assert searched.returncode == 1 and f"has {size // 2} bytes where its manifest says {size}" in searched.stderr
    # A real server: its workers check sizes before mapping anything, so they boot and say 503.
    with serving(index, tmp_path / "server.log", workers=2) as base:
        status, body = _get(f"{base}/healthz")
        assert status == 503 and postings.name in json.loads(body)["damaged"]
        status, body = _get(f"{base}/api/search?q={quote(QUERY)}")
        assert status == 503 and postings.name in json.loads(body)["error"]
        time.sleep(1.5)  # the watcher looks again; nothing dies
        assert _get(f"{base}/healthz")[0] == 503
    assert "Booting worker" in (tmp_path / "server.log").read_text() and "SIGBUS" not in (tmp_path / "server.log").read_text()


def test_the_nightly_run_rebuilds_a_damaged_segment_from_the_archive(site, tmp_path):
    archive, index = site
    before = ids(index)
    damaged = largest(index, ".fpo")
    flip_bit(damaged)
    repaired = finsearch("reindex", archive, "--index", index, "--json")
    assert repaired.returncode == 4, repaired.stderr  # repaired, and said loudly: check the disk
    assert damaged.name in repaired.stderr and damaged.name in json.loads(repaired.stdout)["repaired"][0]
    new_build = store.current_build(index)
    assert new_build != damaged.parent
    bad_inode = damaged.stat().st_ino
    assert all(p.stat().st_ino != bad_inode for p in new_build.iterdir())  # never linked again
    assert sorted(ids(index)) == sorted(before)  # every post back, from the archive
    build_index(archive, tmp_path / "fresh", progress=False)
    assert sorted(ids(index, "")) == sorted(ids(tmp_path / "fresh", ""))
    checked = json.loads(finsearch("check", "--index", index, "--json").stdout)
    by_generation = {g["generation"]: g["damaged"] for g in checked["generations"]}
    assert by_generation[2] == [] and by_generation[1]  # the new one whole; the old one as it was
    assert finsearch("rollback", "--index", index).returncode == 1  # never back onto damage
    assert finsearch("reindex", archive, "--index", index).returncode == 0  # the next night is quiet


# -- an export through a nightly reindex -----------------------------------------------------


def test_an_export_reads_the_generation_it_started_on_to_its_last_row(site):
    archive, index = site
    expected = ids(index, "")
    engine = SearchEngine(index)
    try:
        export = engine.iter_hits(make_request(""))
        rows = iter(export)
        first = [next(rows).id for _ in range(50)]
        posts = sorted(archive.glob("2026-06-*.md"))
        for night in range(4):  # enough publishes that the generation would be gone, were it not held
            posts[night].unlink()
            assert finsearch("reindex", archive, "--index", index).returncode == 0
        assert first + [hit.id for hit in rows] == expected
        assert export.articles == len(expected) == 300
        assert engine.search(make_request("")).articles == 296  # the next request sees the new one
    finally:
        engine.close()
    assert finsearch("reindex", archive, "--index", index).returncode == 0  # released: now it can go
    assert len(list((index / "builds").iterdir())) == 3


def test_a_web_export_through_a_reindex_is_whole_and_a_cut_one_looks_cut(site, tmp_path):
    archive, index = site
    expected = len(ids(index, ""))
    posts = sorted(archive.glob("2026-06-*.md"))
    with serving(index, tmp_path / "server.log", workers=1) as base:
        host, port = urlsplit(base).hostname, urlsplit(base).port
        # HTTP/1.1: chunked; a reindex publishes while the client reads slowly.
        connection = http.client.HTTPConnection(host, port, timeout=60)
        connection.request("GET", "/export.csv?q=")
        response = connection.getresponse()
        assert response.status == 200 and int(response.getheader("X-Export-Rows")) == expected
        head = response.read(4096)
        for night in range(2):
            posts[night].unlink()
            assert finsearch("reindex", archive, "--index", index).returncode == 0
        body = (head + response.read()).decode("utf-8-sig")
        assert len(body.splitlines()) == expected + 1  # the header row, then one row per post
        # HTTP/1.0 has no chunks: the server says the length, so a short body is a cut one.
        raw = _raw_get(host, port, "/export.csv?q=", "HTTP/1.0")
        head_end = raw.index(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in raw[:head_end].split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        assert len(raw) - head_end - 4 == length


def test_an_export_cut_by_a_dying_worker_looks_cut(index_dir, tmp_path):
    with serving(index_dir, tmp_path / "server.log", workers=1) as base:
        host, port = urlsplit(base).hostname, urlsplit(base).port
        connection = http.client.HTTPConnection(host, port, timeout=60)
        connection.request("GET", "/export.jsonl?q=")  # every post of the sample: more than a socket holds
        response = connection.getresponse()
        assert response.getheader("Transfer-Encoding") == "chunked"
        response.read(1024)
        _kill_workers(index_dir)
        with pytest.raises(http.client.IncompleteRead):  # the body ends without its last chunk
            response.read()


def _get(url: str) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _raw_get(host: str, port: int, path: str, protocol: str) -> bytes:
    import socket
    with socket.create_connection((host, port), timeout=60) as sock:
        sock.sendall(f"GET {path} {protocol}\r\nHost: {host}\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _kill_workers(index: Path) -> None:
    """SIGKILL the gunicorn workers serving `index` (its master's children), not the master."""
    found = subprocess.run(["pgrep", "-f", f"finsearch serve --index {index}"], capture_output=True, text=True,
                           check=False).stdout.split()
    for pid in map(int, found):
        try:
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if parent != os.getpid():
            os.kill(pid, 9)


# -- quiet nights ----------------------------------------------------------------------------


def test_a_night_without_changes_publishes_nothing_even_with_duplicate_ids(site):
    archive, index = site
    post = sorted(archive.glob("2026-06-*.md"))[0]
    (archive / "copy").mkdir()
    shutil.copy(post, archive / "copy" / post.name)  # the same id again, later in path order: skipped every night
    first = finsearch("reindex", archive, "--index", index, "--json")
    assert first.returncode == 0 and json.loads(first.stdout)["added"] == 0
    builds = sorted(p.name for p in (index / "builds").iterdir())
    for _ in range(2):
        quiet = finsearch("reindex", archive, "--index", index, "--json")
        report = json.loads(quiet.stdout)
        assert quiet.returncode == 0 and report["generation"] == 1 and report["added"] == 0
        assert any(problem["path"].startswith("copy/") for problem in report["problems"])  # still reported
    assert sorted(p.name for p in (index / "builds").iterdir()) == builds
    assert not (index / "previous").exists()


# -- dates no calendar holds ---------------------------------------------------------------


@pytest.mark.parametrize("bound", ["to=9999-12-31T23:59Z", "from=0001-01-01T00:00%2B14:00"])
def test_a_date_at_the_end_of_the_calendar_is_a_bad_date_everywhere(index_dir, bound):
    app = create_app(index_dir, TESTING=True)
    client = app.test_client()
    try:
        api = client.get(f"/api/search?q={QUERY}&{bound}")
        assert api.status_code == 400 and api.get_json()["code"] == "bad_date"
        for path in (f"/?q={QUERY}&{bound}", f"/trends?q={QUERY}&{bound}", f"/feed.atom?q={QUERY}&{bound}",
                     f"/export.csv?q={QUERY}&{bound}", f"/api/trends?q={QUERY}&{bound}"):
            assert client.get(path).status_code == 400, path
    finally:
        app.extensions["finsearch"].close()
    name, value = bound.replace("%2B", "+").split("=", 1)
    done = finsearch("search", QUERY, "--index", index_dir, f"--{name}", value)
    assert done.returncode == 2 and "Traceback" not in done.stderr and len(message_lines(done.stderr)) == 1


# -- a full disk -----------------------------------------------------------------------------


@pytest.fixture()
def small_disk(tmp_path):
    """A tmpfs of a few MiB (CI runs as root; elsewhere the test is skipped, saying why)."""
    mounted = []

    def mount(size: str) -> Path:
        folder = tmp_path / f"disk-{size}"
        folder.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
        mounted.append(folder)
        return folder
    try:
        yield mount
    finally:
        for folder in mounted:
            subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill(disk: Path, leave: int = 0) -> None:
    """Take the disk's free space, all of it or all but `leave` bytes."""
    with open(disk / "filler", "wb") as handle:
        try:
            while shutil.disk_usage(disk).free > leave:
                handle.write(b"\0" * min(65536, max(4096, shutil.disk_usage(disk).free - leave)))
                handle.flush()
        except OSError:
            pass


def _no_strays(index: Path) -> None:
    assert not list(index.glob(".last-run.json.*")) and not list(index.glob(".current.*"))


def test_a_build_that_fills_the_disk_names_it_records_it_and_leaves_nothing(small_disk, built):
    archive, _ = built
    index = small_disk("300k") / "index"  # too small for the index of 300 posts
    done = finsearch("index", archive, "--index", index)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"the disk holding {index} is full" in done.stderr and "nothing was published" in done.stderr
    outcome = store.read_outcome(index)
    assert outcome is not None and (outcome["ok"], outcome["code"]) == (False, "disk-full")
    assert "is full" in outcome["error"] and outcome["step"]
    assert not any((index / "builds").iterdir()) and not (index / "current").exists()
    _no_strays(index)


def test_on_a_disk_with_no_byte_free_a_run_is_refused_and_still_recorded(small_disk, built):
    archive, _ = built
    disk = small_disk("6m")
    index = disk / "index"
    build_index(archive, index, progress=False)
    extra = sorted((SAMPLE_POSTS / "2026-07").glob("*.md"))[0]
    shutil.copy(extra, archive / extra.name)
    try:
        _fill(disk)
        assert shutil.disk_usage(disk).free == 0
        for command in (("reindex", archive), ("reindex", archive, "--full"), ("index", archive)):
            done = finsearch(*command, "--index", index)
            assert done.returncode == 3 and f"the disk holding {index} has 0 MiB free" in done.stderr
            outcome = store.read_outcome(index)  # written over the last one in place: no byte needed
            assert outcome is not None and (outcome["ok"], outcome["code"]) == (False, "disk-full"), command
            _no_strays(index)
    finally:
        (archive / extra.name).unlink()
    assert len(ids(index, "")) == 300  # the index still serves what it served
    assert [p.name for p in (index / "builds").iterdir()] == [store.current_build(index).name]


# -- zero-width characters -----------------------------------------------------------------


def test_a_zero_width_space_typed_inside_a_word_is_ignored(engine):
    plain = engine.search(make_request("银行"))
    for invisible in ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"):
        typed = engine.search(make_request(f"银{invisible}行"))
        assert (typed.articles, [h.id for h in typed.hits]) == (plain.articles, [h.id for h in plain.hits])
    assert plain.articles > 0


# -- one page, one generation -------------------------------------------------------------


def test_a_reindex_between_the_parts_of_one_page_cannot_mix_generations(site, monkeypatch):
    from finsearch.indexer import reindex
    from finsearch.search import present
    archive, index = site
    engine = SearchEngine(index)
    request = make_request("银行", size="20")
    before = engine.search(request, timeline=True)
    gone = sorted(archive.glob("2026-06-*.md"))
    real_hit = present.hit
    published = []

    def hit_then_publish(*args, **kwargs):  # the page is half made when the nightly run publishes
        made = real_hit(*args, **kwargs)
        if not published:
            for path in gone[:5]:
                path.unlink()
            published.append(reindex(archive, index, progress=False).generation)
        return made
    monkeypatch.setattr(present, "hit", hit_then_publish)
    try:
        during = engine.search(request, timeline=True)
        assert published == [2]
        assert during.stats is not None and during.stats.generation == 1
        assert ([h.id for h in during.hits], during.facets, during.timeline, during.articles) == \
               ([h.id for h in before.hits], before.facets, before.timeline, before.articles)
        monkeypatch.setattr(present, "hit", real_hit)
        after = engine.search(request, timeline=True)  # the next page is the new generation's, whole
        assert after.stats is not None and after.stats.generation == 2 and after.stats.documents == 295
    finally:
        engine.close()


def test_a_cli_export_that_fails_leaves_no_file_that_looks_whole(small_disk, index_dir):
    disk = small_disk("64k")  # far smaller than an export of every post of the sample
    target = disk / "all.csv"
    done = finsearch("export", "", "--index", index_dir, "--output", target)
    assert done.returncode == 1 and f"cannot write {target}: No space left" in done.stderr
    assert len(message_lines(done.stderr)) == 1 and "Traceback" not in done.stderr
    assert not target.exists() and not list(disk.iterdir())  # nor a partial file beside it
    whole = finsearch("export", "供应链金融", "--index", index_dir, "--output", target)  # a small one fits
    assert whole.returncode == 0 and target.read_text("utf-8-sig").count("\n") > 1
