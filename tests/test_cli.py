"""The `finsearch` command: its output and exit codes through finsearch.cli.main in this process (conftest's
`cli`), and as other tools call it, a real process started from a shell command line (the smoke tests at the end)."""
from __future__ import annotations

import datetime as dt
import json
import logging
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import FINEWS_POSTS
from tests.servers import finsearch


def test_index_reports_every_finews_post(cli, tmp_path):
    index = tmp_path / "ix"
    done = cli("index", FINEWS_POSTS, "--index", index, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    files = list(FINEWS_POSTS.rglob("*.md"))
    assert report["indexed"] + report["skipped"] == len(files)
    assert report["indexed"] == len(files)

    text = cli("index", FINEWS_POSTS, "--index", index)
    assert text.returncode == 0
    assert f"indexed {len(files)} posts" in text.stdout


def test_index_reports_bad_posts_by_file_and_reason(cli, tmp_path):
    archive = tmp_path / "_posts"
    archive.mkdir()
    (archive / "2026-07-01-1.md").write_text('---\ntitle: "说"不"的标题"\ndate: 2026-07-01 09:00:00 +0800\n---\n正文。\n',
                                             "utf-8")
    (archive / "2026-07-02-2.md").write_text("---\ntitle: \n---\n", "utf-8")
    (archive / "2026-07-03-3.md").write_bytes("---\ntitle: 国债\ndate: 2026-07-03\n---\n国债期货。\n".encode("gbk"))
    done = cli("index", archive, "--index", tmp_path / "ix")
    assert done.returncode == 0, done.stderr
    assert "recovered: 2026-07-01-1.md: broken YAML" in done.stdout
    assert "skipped: 2026-07-02-2.md: empty post" in done.stdout
    assert "recovered: 2026-07-03-3.md: not UTF-8" in done.stdout
    assert "indexed 2 posts" in done.stdout


@pytest.fixture(scope="module")
def cli_index(index_dir):
    return index_dir


def test_search_json_contract(cli, cli_index):
    done = cli("search", "供应链金融", "--index", cli_index, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["total"] == 1  # only the 解放日报 post says 供应链金融
    hit = result["hits"][0]
    assert hit["id"] == "202205022367563116"
    assert set(hit) >= {"id", "title", "date", "category", "paper", "url", "snippet"}
    assert hit["date"] == "2022-05-02T06:03:23+08:00"
    assert hit["category"] == "jiefangribao" and hit["paper"] == "解放日报"
    assert "<mark>供应链金融</mark>" in hit["snippet"]
    assert {"category", "paper", "month"} <= set(result["facets"])


def test_search_uses_the_environment_index_and_filters(cli, cli_index, monkeypatch):
    monkeypatch.setenv("FINSEARCH_INDEX", str(cli_index))
    # In data/posts, 19 posts of 2026-05-20 mention 银行: 7 of 财联社 (cailianshe), the others of 东方财富 and 同花顺.
    done = cli("search", "银行", "--from", "2026-05-20", "--to", "2026-05-20", "--category", "cailianshe",
               "--sort", "newest", "--limit", "5", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["total"], result["pages"], len(result["hits"])) == (7, 2, 5)
    assert all(h["date"].startswith("2026-05-20") and h["category"] == "cailianshe" for h in result["hits"])
    dates = [h["date"] for h in result["hits"]]
    assert dates == sorted(dates, reverse=True)


def test_search_prints_readable_results(cli, cli_index):
    done = cli("search", "上行e链", "--index", cli_index)
    assert done.returncode == 0
    assert "共 1 条结果" in done.stdout
    assert "上海金融国企保障金融血脉畅通" in done.stdout
    assert "<mark>" not in done.stdout


def test_search_shows_related_coverage_under_a_page_that_is_not_full(cli, cli_index, client):
    query = "特朗普听取对伊朗军事行动方案"  # a real headline of data/posts: one story has every word (tests/test_related.py)
    answer = json.loads(cli("search", query, "--index", cli_index, "--json").stdout)
    related = answer.pop("related")
    api = client.get("/api/related", query_string={"q": query}).get_json()
    assert related["hits"] and {**related, "took_ms": 0} == {**api, "took_ms": 0}  # /api/related's object
    search = client.get("/api/search", query_string={"q": query}).get_json()
    assert {**answer, "took_ms": 0} == {**search, "took_ms": 0}  # the other keys: /api/search's, unchanged

    text = cli("search", query, "--index", cli_index).stdout
    results, heading, section = text.partition("\n相关报道（未包含全部检索词）")
    assert heading and "共 1 条结果" in results and query in results
    posts = section.split("\n\n")[1:]
    assert len(posts) == len(related["hits"])
    for number, (post, hit) in enumerate(zip(posts, related["hits"]), start=1):
        date = dt.datetime.fromisoformat(hit["date"])
        assert post.startswith(f"{number}. {hit['title']}\n   {date:%Y-%m-%d %H:%M}  {hit['paper']}  "), post
        missing = f"未包含：{'、'.join(hit['missing'])}" if hit["missing"] else "各词都有，但不是原样连在一起"
        assert f"\n   {missing}\n" in post + "\n"
    assert "\n   未包含：听取" in section

    full = cli("search", "美联储", "--index", cli_index)  # a full first page: none
    assert "相关报道" not in full.stdout
    assert json.loads(cli("search", "美联储", "--index", cli_index, "--json").stdout)["related"]["hits"] == []


def test_search_says_how_it_read_a_malformed_query(cli, cli_index):
    done = cli("search", '"未闭合 金融', "--index", cli_index)
    assert done.returncode == 0
    assert done.stdout.startswith("注意：引号不成对，已按普通词语搜索\n")
    data = json.loads(cli("search", '"未闭合 金融', "--index", cli_index, "--json").stdout)
    assert (data["notice"], data["notice_code"]) == ("引号不成对，已按普通词语搜索", "unbalanced_quotes")


@pytest.mark.parametrize("args", [
    ["search", "银行", "--from", "2026-02-30"],
    ["search", "银行", "--sort", "best"],
    ["search", "银行", "--limit", "0"],
    ["search", "银" * 5000],
    ["frobnicate"],
])
def test_bad_usage_exits_2_with_one_line(cli, cli_index, args):
    done = cli(*args, "--index", cli_index) if args[0] == "search" and len(args) > 1 else cli(*args)
    assert done.returncode == 2
    assert done.stderr.strip()
    assert "Traceback" not in done.stderr


def test_missing_index_exits_1(cli, tmp_path):
    done = cli("search", "银行", "--index", tmp_path / "nowhere")
    assert done.returncode == 1
    assert "no index" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_missing_archive_is_refused_with_exit_3(cli, tmp_path):
    done = cli("index", tmp_path / "nowhere", "--index", tmp_path / "ix")
    assert done.returncode == 3 and "does not exist" in done.stderr


def test_stats(cli, cli_index):
    done = cli("stats", "--index", cli_index, "--json")
    assert done.returncode == 0
    stats = json.loads(done.stdout)
    assert stats["documents"] == 3010  # every post of data/posts
    assert stats["first_date"] == "2021-12-08T10:46:18+08:00"
    assert stats["last_date"].startswith("2026-08-20")


def test_help_lists_the_commands(cli):
    done = cli("--help")
    assert done.returncode == 0
    for command in ("index", "search", "stats", "serve"):
        assert command in done.stdout


# -- smoke tests: a real process, as a shell, cron or another program starts it ----------------------


@pytest.mark.slow
def test_python_m_finsearch_is_the_cli():
    done = finsearch("--help")
    assert done.returncode == 0 and done.stdout.startswith("usage: finsearch")


@pytest.mark.slow
@pytest.mark.parametrize("args, code, message", [
    (["frobnicate"], 2, "invalid choice"),
    (["search", "银行", "--index", "{tmp}/nowhere"], 1, "no index"),
    (["index", "{tmp}/nowhere", "--index", "{tmp}/ix"], 3, "does not exist"),
], ids=["usage", "failure", "refused"])
def test_a_real_process_exits_with_the_documented_codes(tmp_path, args, code, message):
    done = finsearch(*(arg.format(tmp=tmp_path) for arg in args))
    assert done.returncode == code and message in done.stderr and "Traceback" not in done.stderr
    if code != 2:  # (a usage error shows the usage first)
        assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_shell_command_line_with_a_query_starting_with_a_minus(cli_index):
    """The installed `finsearch` script, its arguments split by a shell: -银行 is a query word."""
    script = Path(sys.executable).with_name("finsearch")
    line = f"{shlex.quote(str(script))} search -银行 --index {shlex.quote(str(cli_index))} --json --limit 3"
    done = subprocess.run(line, shell=True, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["query"] == "-银行" and result["articles"] > 0
    assert not any("银行" in hit["title"] for hit in result["hits"])


def _first_searches(index_dir: Path) -> tuple:
    """What a process's first searches of an index show from its prepared files: the 股票 facet
    (the company mentions) and a spelling correction (the vocabulary)."""
    from finsearch.search import SearchEngine, make_request
    engine = SearchEngine(index_dir)
    try:
        return (engine.search(make_request("公司")).facets.stocks,
                engine.search(make_request("市常")).suggestions)  # a misspelling: corrected by the vocabulary
    finally:
        engine.close()


@pytest.mark.slow  # a build, and searches in a cache folder of their own
def test_a_published_generation_is_ready_for_the_next_process(cli, tmp_path, monkeypatch):
    """`finsearch index` (as reindex, rollback and replicate) works out which post mentions which
    company, the suggestion vocabulary and the alias table as it publishes, so the first search of
    the next process (a CLI query, a new server worker) reads them instead of making them."""
    import re

    from finsearch.analysis.aliases import AliasTable
    from finsearch.search.companies import Mentions
    from finsearch.search.suggest import Vocabulary
    from tests.conftest import SAMPLE_POSTS

    archive = tmp_path / "_posts"
    archive.mkdir()
    for post in SAMPLE_POSTS.rglob("*.md"):  # the posts that write a listed company's code
        if re.search(r"（(?:00|30|60|68)\d{4}）", post.read_text("utf-8")):
            (archive / post.name).write_bytes(post.read_bytes())
    assert cli("index", archive, "--index", tmp_path / "ix").returncode == 0

    def again(*args, **kwargs):
        raise AssertionError("a search made what the index run had made")
    made = Mentions.build, Vocabulary.build, AliasTable.build
    monkeypatch.setattr(Mentions, "build", again)
    monkeypatch.setattr(Vocabulary, "build", again)
    monkeypatch.setattr(AliasTable, "build", again)
    ready = _first_searches(tmp_path / "ix")
    monkeypatch.setattr(Mentions, "build", made[0])
    monkeypatch.setattr(Vocabulary, "build", made[1])
    monkeypatch.setattr(AliasTable, "build", made[2])
    monkeypatch.setenv("FINSEARCH_CACHE", str(tmp_path / "empty-cache"))  # a process that finds nothing made
    stocks, suggestions = ready
    assert stocks and suggestions[0].query == "市场"
    assert ready == _first_searches(tmp_path / "ix")


def test_an_index_keeps_its_prepared_files_while_other_indexes_come_and_go(index_dir, tmp_path, monkeypatch):
    """A server's index reads what its generation needs from the cache folder, however many other
    indexes (a benchmark's, a replica's) and generations of them the machine makes meanwhile; the
    folder keeps only the files of the indexes used most recently, a few generations each."""
    from finsearch.analysis.aliases import AliasTable
    from finsearch.search import generation_cache as cache
    from finsearch.search.companies import Mentions
    from finsearch.search.suggest import Vocabulary

    monkeypatch.setenv("FINSEARCH_CACHE", str(tmp_path / "cache"))

    ready = _first_searches(index_dir)  # made, and kept
    folder = tmp_path / "cache" / cache.FOLDER
    kinds = sorted({path.name.split("-")[0] for path in folder.glob("*.npz")})
    assert kinds == ["aliases", "mentions", "vocabulary"]
    older = folder / "mentions-0123456789abcdef01234567.npz"  # an older finsearch's name: no index in it
    older.write_bytes(b"")

    def churn(index: Path, generations: int) -> None:
        for generation in range(generations):
            for kind in kinds:
                cache.GenerationCache(index).arrays(kind, f"g{generation}", lambda: {"a": np.arange(3)})
            time.sleep(0.01)  # file times a clock tick apart

    churn(tmp_path / "nightly", generations=3 * cache.KEEP_GENERATIONS)  # another index, reindexed often
    for other in range(cache.KEEP_INDEXES - 2):  # and others, up to the number of indexes kept
        churn(tmp_path / f"other-{other}", generations=2)

    def again(*args, **kwargs):
        raise AssertionError("a search made what the cache folder had kept")
    for owner in (Mentions, Vocabulary, AliasTable):
        monkeypatch.setattr(owner, "build", again)
    assert _first_searches(index_dir) == ready  # read from the cache folder: the server's start is instant

    churn(tmp_path / "one-more", generations=1)  # one index too many: the one used longest ago goes
    assert _first_searches(index_dir) == ready  # not the server's, read just now
    nightly = cache.GenerationCache(tmp_path / "nightly").index
    for kind in kinds:
        files = [path.name for path in folder.glob(f"{kind}-*.npz")]
        assert len(files) == 1 + 1 + 2 * (cache.KEEP_INDEXES - 2)
        assert not [name for name in files if nightly in name]
    assert not older.exists()


def test_a_damaged_prepared_file_is_made_again_and_said_once(index_dir, tmp_path, monkeypatch, caplog):
    """A prepared file damaged on disk (cut short, a flipped bit) only costs its making again: the
    same answers, one warning naming the file and no traceback, and a good file in its place."""
    from finsearch.search import generation_cache as cache
    from tests.test_reliability import flip_bit

    monkeypatch.setenv("FINSEARCH_CACHE", str(tmp_path / "cache"))

    ready = _first_searches(index_dir)
    files = sorted((tmp_path / "cache" / cache.FOLDER).glob("*.npz"))
    assert len(files) == 3  # the alias table, the mentions, the vocabulary
    for path in files[:2]:
        path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    flip_bit(files[2])

    caplog.set_level(logging.WARNING, logger=cache.__name__)
    assert _first_searches(index_dir) == ready
    warned = [record for record in caplog.records if "unreadable cache file" in record.getMessage()]
    assert sorted(str(record.args[0]) for record in warned) == [str(path) for path in files]
    assert all(record.exc_info is None for record in warned)
    caplog.clear()
    assert _first_searches(index_dir) == ready
    assert not [record for record in caplog.records if "unreadable" in record.getMessage()]


def test_a_search_that_finds_nothing_offers_the_word_meant(cli, cli_index):
    done = cli("search", "供应练金融", "--index", cli_index, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["total"] == 0
    assert result["suggestions"][0]["query"] == "供应链金融"
    assert result["suggestions"][0]["reason_code"] == "corrected"


@pytest.mark.slow  # a process with a pipe
@pytest.mark.parametrize("command", [["search", "市场", "--limit", "50"], ["export", "--fields", "body"]])
def test_output_read_only_in_part_ends_quietly(cli_index, command):
    """`finsearch … | head`: the reader stops reading; no error on stderr, the SIGPIPE exit code."""
    from tests.servers import PYTHON, REPO
    with subprocess.Popen([PYTHON, "-m", "finsearch", *command, "--index", str(cli_index)], cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline()
        process.stdout.close()  # more than a pipe holds is still to come: its next write fails
        code, errors = process.wait(timeout=120), process.stderr.read().decode()
    assert (code, errors) == (141, "")
