"""The nightly reindex trusts a file's size and mtime: it reads only the files whose stat changed.

Each test runs on its own copy of the sample archive (data/posts, 3,010 real posts; copied with
their mtimes, as `cp -a` or `rsync -a` would) and of its index, so a test's edits stay its own.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from finsearch.indexer import build_index, reindex
from finsearch.search import SearchEngine, SearchRequest
from finsearch.storage import generations as store
from tests.conftest import FINEWS_POSTS, SAMPLE_POSTS

EDIT_MARK = "夜间核对测试词"  # in no post of the archive


@pytest.fixture()
def site(archive, index_dir, tmp_path) -> tuple[Path, Path]:
    """A copy of the sample archive (mtimes kept) and of its index. A test on it runs the nightly job over
    3,010 files: slow tier."""
    copy = tmp_path / "posts"
    shutil.copytree(archive, copy)  # copy2: the same sizes and mtimes the index recorded
    index = tmp_path / "index"
    shutil.copytree(index_dir, index, symlinks=True)
    return copy, index


def post_files(archive: Path) -> list[Path]:
    return sorted(archive.rglob("*.md"))


def hits(index: Path, query: str) -> int:
    engine = SearchEngine(index)
    try:
        return engine.search(SearchRequest(query=query)).total
    finally:
        engine.close()


def edit_keeping_stat(path: Path) -> None:
    """Change a post's words but not its size, and put its mtime back (what only --verify sees)."""
    before = path.stat()
    text = path.read_text("utf-8")
    body = text.index("\n---\n") + len("\n---\n")
    first_line_end = text.index("\n", body + len(EDIT_MARK.encode()))
    # Replace the start of the body by the mark, padded to the same number of bytes.
    old = text[body:first_line_end]
    old_bytes = len(old.encode("utf-8"))
    new = EDIT_MARK + "x" * (old_bytes - len(EDIT_MARK.encode("utf-8")))
    path.write_text(text[:body] + new + text[first_line_end:], "utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns


@pytest.mark.slow
def test_nothing_changed_reads_no_post(site):
    archive, index = site
    files = post_files(archive)
    # Every post's bytes replaced by zeros of the same length, its mtime put back: a run that
    # read any of them would find a binary file and drop the post from the index.
    for path in files:
        before = path.stat()
        path.write_bytes(b"\x00" * before.st_size)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))

    report = reindex(archive, index, progress=False)
    assert (report.checksummed, report.added, report.updated, report.deleted) == (0, 0, 0, 0)
    assert report.unchanged == len(files) == 3010
    assert report.generation == 1  # nothing published
    assert hits(index, "银行") > 0


@pytest.mark.slow
def test_an_edited_file_is_reindexed(site):
    archive, index = site
    earlier, just_now = post_files(archive)[100], post_files(archive)[101]
    for path in (earlier, just_now):
        path.write_text(path.read_text("utf-8").replace("\n---\n", f"\n---\n{EDIT_MARK}。", 1), "utf-8")
    an_hour_ago = time.time_ns() - 3600 * 10**9  # edited during the day, reindexed at night
    os.utime(earlier, ns=(an_hour_ago, an_hour_ago))

    report = reindex(archive, index, progress=False)
    assert (report.checksummed, report.updated, report.added, report.deleted) == (2, 2, 0, 0)
    assert hits(index, EDIT_MARK) == 2
    # The new stat was recorded with the new document, except for the file written moments
    # before it was read (it may be written again within the same tick of the clock).
    again = reindex(archive, index, progress=False)
    assert (again.checksummed, again.updated) == (1, 0)
    assert abs(time.time_ns() - just_now.stat().st_mtime_ns) < 600 * 10**9


@pytest.mark.slow
def test_an_edit_that_keeps_size_and_mtime_is_seen_by_verify_only(site):
    archive, index = site
    edit_keeping_stat(post_files(archive)[200])

    nightly = reindex(archive, index, progress=False)
    assert (nightly.checksummed, nightly.updated, nightly.verify) == (0, 0, False)
    assert hits(index, EDIT_MARK) == 0  # the documented trade-off

    weekly = reindex(archive, index, progress=False, verify=True)
    assert (weekly.checksummed, weekly.updated, weekly.unchanged, weekly.verify) == (3010, 1, 3009, True)
    assert hits(index, EDIT_MARK) == 1


@pytest.mark.slow
def test_a_touched_file_is_checksummed_not_reindexed(site):
    archive, index = site
    path = post_files(archive)[300]
    before = path.stat()
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))

    report = reindex(archive, index, progress=False)
    assert (report.checksummed, report.updated, report.unchanged) == (1, 0, 3010)
    assert report.generation == 1  # no new generation for a file whose bytes are the same
    # Its document (and so its recorded stat) is not rewritten: each run checksums it again.
    assert reindex(archive, index, progress=False).checksummed == 1


@pytest.mark.slow
def test_cli_verify_reports_what_it_read(cli, site):
    archive, index = site
    done = cli("reindex", archive, "--index", index, "--verify", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["verify"], out["checksummed"], out["unchanged"], out["updated"], out["full"]) == \
        (True, 3010, 3010, 0, False)
    recorded = store.read_outcome(index)
    assert recorded is not None and (recorded["verify"], recorded["checksummed"]) == (True, 3010)

    done = cli("reindex", archive, "--index", index)
    assert done.returncode == 0 and "0 files checksummed;" in done.stdout, done.stdout + done.stderr

    done = cli("reindex", archive, "--index", index, "--verify", "--full")
    assert done.returncode == 2 and "not allowed with" in done.stderr


def test_an_index_without_file_stats_is_served_and_rebuilt_once(tmp_path):
    archive = tmp_path / "posts"
    shutil.copytree(FINEWS_POSTS, archive)
    for path in sorted((SAMPLE_POSTS / "2026-07").glob("*.md"))[:20]:
        shutil.copy2(path, archive / path.name)
    index = tmp_path / "index"
    build_index(archive, index, progress=False)
    # What an index built before the column existed records in its manifest.
    manifest_path = index / os.readlink(index / "current") / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["schema"]["file_stat"]
    manifest_path.write_text(json.dumps(manifest))

    assert hits(index, "银行") > 0  # still served: search never reads the column
    rebuilt = reindex(archive, index, progress=False)
    assert rebuilt.full and "records no file sizes and times" in (rebuilt.full_reason or "")
    assert rebuilt.checksummed == 25
    after = reindex(archive, index, progress=False)
    assert (after.full, after.checksummed, after.unchanged) == (False, 0, 25)


def test_file_stats_read_fast_equal_whooshs_own_reading(index_dir, monkeypatch):
    from finsearch.storage import whoosh_format
    from finsearch.storage.schema import FILE_STAT, file_stats

    def read_all() -> list[bytes]:
        whoosh_format.clear_cache()
        ix, _ = store.open_current(index_dir)
        with ix.reader() as reader:
            return [whoosh_format.fixed_column_bytes(segment, FILE_STAT) for segment, _ in reader.leaf_readers()]

    fast = read_all()
    monkeypatch.setenv(whoosh_format.FAST_ENV, "0")
    try:
        assert read_all() == fast
    finally:
        monkeypatch.undo()
        whoosh_format.clear_cache()
    stats = file_stats(b"".join(fast))
    assert len(stats) == 3010
    sizes = sorted(path.stat().st_size for path in post_files(SAMPLE_POSTS))
    assert sorted(stats[:, 0].tolist()) == sizes  # every post's recorded size is its file's
