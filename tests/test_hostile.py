"""Hostile posts and archives (issue 12): no post can stop a build, leave the archive, blow up
in size or slow the site. Each hostile file is built in a temporary archive around real text
from data/posts; builds and searches go through the real CLI, index and server."""
from __future__ import annotations

import datetime as dt
import json
import os
import urllib.error
import urllib.request
from html import escape
from pathlib import Path
from urllib.parse import quote

import pytest

from benchmarks.hostile import HUGE_BYTES, alias_bomb, former_snippet_html, huge_body
from finsearch.analysis import fold
from finsearch.indexer import build_index
from finsearch.indexer.ingest import (
    MAX_LABEL_CHARS,
    MAX_LABELS,
    MAX_TITLE_CHARS,
    MAX_YAML_VALUES,
    SITE_TZ,
    find_posts,
    read_post,
)
from finsearch.search import SearchEngine, SearchRequest
from finsearch.search.present import MAX_ARTICLE_CHARS, MAX_ARTICLE_PARAGRAPHS
from finsearch.search.snippets import MAX_MATCHES, highlight_html, snippet_html
from finsearch.webui import create_app
from tests.conftest import FINEWS_POSTS
from tests.servers import serving

# 解放日报 上海金融国企保障金融血脉畅通: a real post that says 银行.
REAL_POST = FINEWS_POSTS / "2022-05-02-202205022367563116.md"


def real_body(path: Path = REAL_POST) -> str:
    """The body of a real post, as the site wrote it (after its front matter)."""
    return path.read_text("utf-8").split("\n---\n", 1)[1]


def write_post(folder: Path, name: str, front_matter: str, body: str | None = None) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\n{front_matter.strip()}\n---\n{real_body() if body is None else body}", "utf-8")
    return path


def copy_real_posts(archive: Path, count: int = 3) -> list[str]:
    """The first `count` finews posts into `archive`; their ids."""
    archive.mkdir(parents=True, exist_ok=True)
    ids = []
    for path in sorted(FINEWS_POSTS.glob("*.md"))[:count]:
        (archive / path.name).write_bytes(path.read_bytes())
        ids.append(path.stem.split("-")[-1])
    return ids


def finsearch_json(cli, *args) -> dict:
    done = cli(*args, "--json")
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    return json.loads(done.stdout)


def reasons(report: dict) -> dict[str, tuple[str, bool]]:
    return {p["path"]: (p["reason"], p["skipped"]) for p in report["problems"]}


def listed_ids(cli, index: Path) -> dict[str, str]:
    """id -> ISO date of every post in the index (the empty query lists them all)."""
    result = finsearch_json(cli, "search", "", "--index", index, "--limit", "100")
    return {hit["id"]: hit["date"] for hit in result["hits"]}


# -- 1. dates Python cannot hold -------------------------------------------

HOSTILE_DATES = {  # file name -> the date line's value; each file name carries the day to fall back on
    "2026-07-01-990001.md": "0001-01-01 00:00:00 +0800",
    "2026-07-02-990002.md": "9999-12-31 23:59:59 -0800",
    "2026-07-03-990003.md": "0000-01-01",
    "2026-07-04-990004.md": "2026-13-01 09:00:00 +0800",
    "2026-07-05-990005.md": "99999999999999999999999999",
    "2026-07-06-990006.md": "[2026-07-01, 2026-07-02]",
    "2026-07-07-990007.md": "{year: 2026, month: 7}",
    "2026-07-08-990008.md": "20260708",
    "2026-07-09-990009.md": "2026-07-09 09:00:00 +2500",
    "2026-07-10-990010.md": "!!timestamp 0001-01-01 00:00:00 +0800",
    "2026-07-11-990011.md": "2026-07-11 25:61:00",
}


@pytest.mark.slow  # four runs of the CLI that write an index
def test_a_date_python_cannot_hold_never_stops_index_or_reindex(cli, tmp_path):
    archive = tmp_path / "posts"
    real_ids = copy_real_posts(archive)
    index = tmp_path / "index"
    assert finsearch_json(cli, "index", archive, "--index", index)["indexed"] == len(real_ids)

    for number, (name, date) in enumerate(HOSTILE_DATES.items(), start=1):
        write_post(archive, name, f"title: 日期测试{number}\ndate: {date}\ncategories: emnews")
    write_post(archive, "undated-990099.md", "title: 没有可用日期\ndate: 9999-12-31 23:59:59 -0800")

    report = finsearch_json(cli, "reindex", archive, "--index", index)  # the nightly job
    assert report["added"] == len(HOSTILE_DATES) and report["skipped"] == 1
    problems = reasons(report)
    for name in HOSTILE_DATES:
        reason, skipped = problems[name]
        assert not skipped and "bad date in the front matter" in reason, (name, reason)
        assert f"used {name[:10]} from the file name" in reason, (name, reason)
    assert problems["undated-990099.md"][1] and "no date in the file name" in problems["undated-990099.md"][0]

    dates = listed_ids(cli, index)
    for name in HOSTILE_DATES:
        assert dates[name[11:-3]] == f"{name[:10]}T00:00:00+08:00"
    assert set(real_ids) <= dates.keys()

    rebuilt = finsearch_json(cli, "index", archive, "--index", tmp_path / "fresh")  # and a full build
    assert rebuilt["indexed"] == len(real_ids) + len(HOSTILE_DATES) and rebuilt["skipped"] == 1
    assert finsearch_json(cli, "reindex", archive, "--index", index, "--full")["added"] == rebuilt["indexed"]


def test_a_good_date_is_still_read_in_every_written_form(tmp_path):
    forms = {
        "2026-07-01 09:30:00 +0800": dt.datetime(2026, 7, 1, 9, 30),
        "2026-07-01 09:30:00 +08:00": dt.datetime(2026, 7, 1, 9, 30),
        "2026-07-01T01:30:00Z": dt.datetime(2026, 7, 1, 9, 30),
        "2026-07-01 09:30:00": dt.datetime(2026, 7, 1, 9, 30),  # no offset: the site's +08:00
        "2026-06-30 20:30:00 -5": dt.datetime(2026, 7, 1, 9, 30),
        "'2026-07-01'": dt.datetime(2026, 7, 1),
    }
    for number, (written, expected) in enumerate(forms.items()):
        path = write_post(tmp_path, f"-9900{number}.md", f"title: 标题\ndate: {written}")
        result = read_post(path, tmp_path)
        assert result.post.published == expected.replace(tzinfo=SITE_TZ), written
        assert result.problems == [], written


# -- 2. values that are not text ---------------------------------------------

def test_values_that_are_not_text_are_kept_as_text_or_dropped(tmp_path):
    def read(front_matter: str):
        path = write_post(tmp_path, "2026-07-01-1.md", "date: 2026-07-01 09:00:00 +0800\n" + front_matter)
        result = read_post(path, tmp_path)
        return result.post, " | ".join(p.reason for p in result.problems)

    first_sentence = "银行贷款、保险履约、证券交易"  # how the body's first sentence starts
    for written, title in (("2026", "2026"), ("yes", "yes"), ("3.50", "3.50"), ("0x1F", "0x1F"),
                           ("2026-07-01", "2026-07-01"), ("'说“不”'", "说“不”")):
        post, problems = read(f"title: {written}")
        assert post.title == title, (written, post.title)  # as written, not as YAML's number or boolean
    for written, kind in (("[银行, 券商]", "a list"), ("{a: 1}", "a mapping"), ("!!binary aGVsbG8=", "binary data")):
        post, problems = read(f"title: {written}")
        assert f"title is {kind}, not text; dropped" in problems
        assert post.title.startswith(first_sentence), post.title  # the body's first sentence instead
    post, problems = read("title: 标题\ncategories: [[银行, 券商], 银行业, {x: 1}, 2026, null, true]\n"
                          "tags: {解放日报新闻: 1}")
    assert post.categories == ("银行业", "2026", "true")
    assert "categories: 2 value(s) that are not text dropped" in problems
    assert post.tags == () and "tags is a mapping, not text; dropped" in problems
    post, _ = read("title: 标题\ncategories: 600519\ntags: 解放日报新闻")
    assert post.categories == ("600519",) and post.paper == "解放日报"


def test_field_sizes_are_bounded(tmp_path):
    tags = " ".join(f"标签{i}" for i in range(50))
    path = write_post(tmp_path, "2026-07-01-2.md",
                      f"title: {'很长的标题' * 1000}\ndate: 2026-07-01\n"
                      f"categories: [{'长' * (MAX_LABEL_CHARS + 1)}, emnews]\ntags: {tags}")
    result = read_post(path, tmp_path)
    post = result.post
    problems = " | ".join(p.reason for p in result.problems)
    assert len(post.title) == MAX_TITLE_CHARS and post.title.startswith("很长的标题")
    assert f"title of 5000 characters cut to {MAX_TITLE_CHARS}" in problems
    assert post.categories == ("emnews",)
    assert f"categories: 1 value(s) over {MAX_LABEL_CHARS} characters dropped" in problems
    assert post.tags == tuple(f"标签{i}" for i in range(MAX_LABELS))
    assert f"50 tags; kept the first {MAX_LABELS}" in problems


# -- 3. YAML aliases ---------------------------------------------------------

@pytest.fixture(scope="module")
def bomb_app(tmp_path_factory):
    archive = tmp_path_factory.mktemp("bomb") / "posts"
    write_post(archive, "2026-07-01-770001.md", "title: 别名炸弹\ndate: 2026-07-01 09:00:00 +0800\n" + alias_bomb())
    write_post(archive, "2026-07-02-770002.md", "title: 递归别名\ndate: 2026-07-02 09:00:00 +0800\n"
                                                 "categories: &loop [*loop, emnews]")
    sentences = [s + "。" for s in read_post(REAL_POST, FINEWS_POSTS).post.paragraphs[2].split("。") if s]
    write_post(archive, "2026-07-03-770003.md", "title: 三千段\ndate: 2026-07-03",
               "\n\n".join(sentences[i % len(sentences)] for i in range(3000)))
    index = tmp_path_factory.mktemp("bomb-index")
    report = build_index(archive, index, progress=False)
    app = create_app(index, TESTING=True)
    yield app, report
    app.extensions["finsearch"].close()


def test_yaml_aliases_are_not_expanded(bomb_app):
    app, report = bomb_app
    assert len(alias_bomb().encode()) < 400
    assert report.indexed == 3  # the bombs recovered by the line-by-line reader
    client = app.test_client()
    article = client.get("/api/articles/770001")
    assert article.status_code == 200 and len(article.data) < 20_000, len(article.data)
    problems = {p.path: p.reason for p in report.problems}
    for path in ("2026-07-01-770001.md", "2026-07-02-770002.md"):
        assert f"YAML aliases beyond {MAX_YAML_VALUES} values; read line by line" in problems.get(path, ""), path
    data = article.get_json()
    assert data["title"] == "别名炸弹" and data["date"] == "2026-07-01T09:00:00+08:00"
    assert data["categories"] == [] and data["tags"] == []  # the aliased values are not text to keep
    assert client.get("/api/articles/770002").get_json()["categories"] == []
    for url in ("/articles/770001?q=银行", "/?q=银行", "/?q=别名炸弹"):
        page = client.get(url)
        assert page.status_code == 200 and len(page.data) < 100_000, (url, len(page.data))


def test_an_article_of_many_paragraphs_shows_the_first_ones(bomb_app):
    app, _ = bomb_app
    client = app.test_client()
    data = client.get("/api/articles/770003").get_json()
    assert len(data["paragraphs"]) == MAX_ARTICLE_PARAGRAPHS and data["truncated"] is True
    page = client.get("/articles/770003").get_data(as_text=True)
    assert page.count("<p>") == MAX_ARTICLE_PARAGRAPHS and "全文过长，这里只显示开头部分" in page


# -- 4. links and files that are not regular files --------------------------

def test_links_never_lead_out_of_the_archive(cli, tmp_path):
    outside = tmp_path / "outside"
    secret = write_post(outside, "2026-07-20-880001.md", "title: 机密文件\ndate: 2026-07-20",
                        "绝密暗号：不应出现在索引中。\n")
    archive = tmp_path / "posts"
    real_ids = copy_real_posts(archive)
    sub_post = write_post(archive, "sub/2026-07-24-880005.md", "title: 子目录里的帖子\ndate: 2026-07-24")
    (archive / "2026-07-21-880002.md").symlink_to("/etc/passwd")
    (archive / "2026-07-22-880003.md").symlink_to(secret)
    (archive / "elsewhere").symlink_to(outside, target_is_directory=True)
    (archive / "gone.md").symlink_to(archive / "nowhere.md")
    (archive / "loop-a.md").symlink_to(archive / "loop-b.md")
    (archive / "loop-b.md").symlink_to(archive / "loop-a.md")
    (archive / "sub" / "up").symlink_to("..", target_is_directory=True)
    (archive / "same.md").symlink_to(archive / "2021-12-08-202112082206672930.md")
    os.mkfifo(archive / "2026-07-23-880004.md")  # opening it would wait for a writer forever

    index = tmp_path / "index"
    report = finsearch_json(cli, "index", archive, "--index", index)
    assert report["indexed"] == len(real_ids) + 1
    expected = {
        "2026-07-21-880002.md": ("link points outside the archive", True),
        "2026-07-22-880003.md": ("link points outside the archive", True),
        "elsewhere": ("link points outside the archive", True),
        "gone.md": ("dangling link", True),
        "loop-a.md": ("link loop", True),
        "loop-b.md": ("link loop", True),
        "sub/up": ("link loop", True),
        "same.md": ("link to 2021-12-08-202112082206672930.md: indexed once, under that path", False),
        "2026-07-23-880004.md": ("not a regular file (a FIFO); not opened", True),
    }
    problems = reasons(report)
    for path, (reason, skipped) in expected.items():
        assert reason in problems[path][0] and problems[path][1] == skipped, (path, problems.get(path))
    assert set(listed_ids(cli, index)) == set(real_ids) | {"880005"}
    for leaked in ("绝密暗号", "root"):
        assert finsearch_json(cli, "search", leaked, "--index", index)["total"] == 0

    # The nightly run: a post swapped for a link to a file outside is dropped, not followed.
    sub_post.unlink()
    sub_post.symlink_to(secret)
    report = finsearch_json(cli, "reindex", archive, "--index", index, "--allow-deletes")  # 1 of 4 posts goes
    assert report["deleted"] == 1 and report["added"] == 0
    assert "link points outside the archive" in reasons(report)["sub/2026-07-24-880005.md"][0]
    assert set(listed_ids(cli, index)) == set(real_ids)
    assert finsearch_json(cli, "search", "绝密暗号", "--index", index)["total"] == 0


def test_a_name_that_is_not_utf8_is_reported_and_the_rest_indexed(cli, tmp_path):
    archive = tmp_path / "posts"
    real_ids = copy_real_posts(archive)
    post = REAL_POST.read_bytes()
    # Bytes a Linux file name may hold that are no UTF-8: a post, and a folder holding one.
    folder = os.fsencode(archive)
    with open(folder + b"/2026-07-25-bad\xff.md", "wb") as f:
        f.write(post)
    os.mkdir(folder + b"/\xfe\xfe")
    with open(folder + b"/\xfe\xfe/2026-07-26-good.md", "wb") as f:
        f.write(post)

    index = tmp_path / "index"
    report = finsearch_json(cli, "index", archive, "--index", index)
    assert report["indexed"] == len(real_ids)
    problems = reasons(report)
    for shown in ("2026-07-25-bad\ufffd.md", "\ufffd\ufffd"):
        assert problems[shown] == ("name is not valid UTF-8; not read (rename it to index it)", True)
    assert set(listed_ids(cli, index)) == set(real_ids)
    # The nightly run passes over them too, and keeps the index as it was.
    report = finsearch_json(cli, "reindex", archive, "--index", index)
    assert report["added"] == report["deleted"] == 0
    assert "not valid UTF-8" in reasons(report)["2026-07-25-bad\ufffd.md"][0]
    assert set(listed_ids(cli, index)) == set(real_ids)


def test_read_post_refuses_what_find_posts_would_not_list(tmp_path):
    outside = write_post(tmp_path / "outside", "2026-07-20-1.md", "title: 外面\ndate: 2026-07-20")
    archive = tmp_path / "posts"
    archive.mkdir()
    (archive / "2026-07-21-2.md").symlink_to(outside)  # e.g. swapped in after the listing
    (archive / "linked").symlink_to(outside.parent, target_is_directory=True)
    assert find_posts(archive) == []
    for path in (archive / "2026-07-21-2.md", archive / "linked" / "2026-07-20-1.md"):
        result = read_post(path, archive)
        assert result.post is None and result.problems[0].skipped, path


# -- 5. one huge post --------------------------------------------------------

HUGE_ID = "660000000000000001"
BANK = quote("银行")  # in a URL


@pytest.fixture(scope="module")
def huge_server(tmp_path_factory):
    """`finsearch serve` (gunicorn, its 30 s worker timeout) on real posts and one huge post: a server of its
    own, on an index of its own."""
    archive = tmp_path_factory.mktemp("huge") / "posts"
    copy_real_posts(archive, 5)
    huge = write_post(archive, f"2026-07-01-{HUGE_ID}.md", "title: 一篇极长的银行业报道\ndate: 2026-07-01 09:00:00 +0800",
                      huge_body())
    assert HUGE_BYTES <= huge.stat().st_size <= 5 * 2**20
    index = tmp_path_factory.mktemp("huge-index")
    assert build_index(archive, index, progress=False).indexed == 6
    log_path = tmp_path_factory.mktemp("huge-server") / "server.log"
    with serving(index, log_path, timeout=60) as base:
        yield base, index


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.server
def test_a_huge_post_with_54000_matches_is_searched_and_snippeted(huge_server):
    base, index = huge_server
    status, body = get(f"{base}/api/search?q={BANK}&size=10")
    assert status == 200, body[:500]
    hits = {hit["id"]: hit for hit in json.loads(body)["hits"]}
    assert hits[HUGE_ID]["snippet"].count("<mark>银行</mark>") >= 2
    status, page = get(f"{base}/?q={BANK}")  # the page that went past gunicorn's timeout (a 500)
    assert status == 200 and b"<mark>\xe9\x93\xb6\xe8\xa1\x8c</mark>" in page  # <mark>银行</mark>
    assert f"/articles/{HUGE_ID}".encode() in page
    engine = SearchEngine(index)  # the CLI's and the API's engine, in this process
    try:
        result = engine.search(SearchRequest(query="银行 机构", page_size=10))
    finally:
        engine.close()
    snippets = {hit.id: hit.snippet for hit in result.hits}
    assert "<mark>银行</mark>" in snippets[HUGE_ID]


@pytest.mark.server
def test_a_huge_post_shows_a_bounded_article(huge_server):
    base, _ = huge_server
    status, body = get(f"{base}/api/articles/{HUGE_ID}")
    assert status == 200
    article = json.loads(body)
    assert article["truncated"] is True
    shown = sum(len(p) for p in article["paragraphs"])
    assert MAX_ARTICLE_CHARS * 0.99 <= shown <= MAX_ARTICLE_CHARS
    assert article["paragraphs"][0] in huge_body()  # the start of the post, as it is
    status, page = get(f"{base}/articles/{HUGE_ID}?q={BANK}")
    assert status == 200 and len(page) < 2_000_000, len(page)
    html = page.decode()
    assert "全文过长，这里只显示开头部分" in html and "<mark>银行</mark>" in html
    short_id = REAL_POST.stem.split("-")[-1]
    status, body = get(f"{base}/api/articles/{short_id}")
    assert status == 200 and json.loads(body)["truncated"] is False
    status, page = get(f"{base}/articles/{short_id}")
    assert "全文过长" not in page.decode()


def test_highlighting_examines_a_bounded_number_of_matches():
    text = "上海银行，" * (3 * MAX_MATCHES)
    marked = highlight_html(text, ("银行",))
    assert marked.count("<mark>银行</mark>") == MAX_MATCHES
    assert marked.replace("<mark>", "").replace("</mark>", "") == escape(text)  # all of the text, once
    snippet = snippet_html(text, ("银行",))
    assert "<mark>银行</mark>" in snippet and len(snippet) < 1000


def test_snippets_of_real_posts_are_those_of_the_former_algorithm(archive_posts):
    compared = 0
    for terms in (("银行",), ("公司",), ("etf",), ("a股", "上涨"), ("人工智能", "ai")):
        for post in archive_posts:
            body = "\n".join(post.paragraphs)
            if any(term in fold(body) for term in terms):
                assert snippet_html(body, terms) == former_snippet_html(body, terms), (post.path, terms)
                compared += 1
    assert compared > 500
