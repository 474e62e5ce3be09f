"""Ingest: every real post is read as the corpus README describes; bad posts are reported."""
from __future__ import annotations

import datetime as dt
import os

import pytest

from finsearch.indexer import clean
from finsearch.indexer.ingest import SITE_TZ, read_archive, read_post
from tests.conftest import BROKEN_YAML, FINEWS_POSTS, FIXTURE_POSTS, NO_DATE, POST, SAMPLE_POSTS

BACK_LINK_MARKERS = ("返回首页", "返回东财滚动新闻", "返回经济网新闻", "返回解放日报新闻", "](")


@pytest.fixture(scope="module")
def corpus_posts():
    results = list(read_archive(FINEWS_POSTS))
    assert all(not r.problems for r in results), [r.problems for r in results]
    return {r.post.id: r.post for r in results}


def test_every_finews_post_is_read(corpus_posts):
    files = sorted(FINEWS_POSTS.glob("*.md"))
    assert len(corpus_posts) == len(files)
    for path in files:
        assert path.stem.split("-")[-1] in corpus_posts


def test_metadata_of_an_html_post(corpus_posts):
    post = corpus_posts["202205022367563116"]
    assert post.title == "上海金融国企保障金融血脉畅通"
    assert post.published == dt.datetime(2022, 5, 2, 6, 3, 23, tzinfo=SITE_TZ)
    assert post.published.utcoffset() == dt.timedelta(hours=8)
    assert post.categories == ("jiefangribao",)
    assert post.tags == ("解放日报新闻",)
    assert post.paper == "解放日报"  # from （文章来源：解放日报）
    assert post.url == "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202205022367563116"
    assert post.paragraphs[0].startswith("银行贷款、保险履约、证券交易")
    assert post.paragraphs[-1].startswith("在持续为客户提供优质服务的背后")


def test_html_body_loses_hidden_spacers_stock_charts_and_source_line(corpus_posts):
    post = corpus_posts["202203212317465687"]
    text = "\n".join(post.paragraphs)
    assert post.paper == "经济网"
    assert post.paragraphs[0].startswith("为实现普惠金融业务高质量可持续发展")
    assert "K图" not in text and "01398" not in text  # the stock chart images
    assert "文章来源" not in text
    assert "<" not in text and "display" not in text
    assert "精准触达服务有力度" in post.paragraphs  # a <strong> heading is its own paragraph


def test_markdown_posts_without_back_links_or_source_link(corpus_posts):
    for post in corpus_posts.values():
        text = "\n".join(post.paragraphs)
        assert not any(marker in text for marker in BACK_LINK_MARKERS), post.path
        assert "http" not in text, post.path
        assert post.url.startswith("http"), post.path
    old = corpus_posts["202112082206965422"]  # old layout: two relative back-link lines, no +0800
    assert old.published == dt.datetime(2021, 12, 8, 13, 16, 19, tzinfo=SITE_TZ)
    assert old.paper == "东财滚动"
    assert old.paragraphs[0].startswith("造成110万余名被害人")


def test_bad_posts_are_recovered_or_skipped_with_a_reason(messy_archive):
    results = list(read_archive(messy_archive))
    posts = {r.post.id: r.post for r in results if r.post}
    problems = {p.path: p for r in results for p in r.problems}

    assert "202205022367563116" in posts  # the good post is never lost

    broken = posts["2414210"]  # unescaped quotes in the title: recovered, line by line
    assert broken.title == '法国与印度就114架"阵风"战斗机的谈判仍在继续 双方希望年底前敲定协议'
    assert broken.published == dt.datetime(2026, 7, 1, 16, 23, 48, tzinfo=SITE_TZ)
    assert broken.categories == ("cailianshe",) and broken.paper == "财联社"
    assert broken.paragraphs[0].startswith("【法国与印度就114架\"阵风\"战斗机的谈判仍在继续")
    assert "broken YAML" in problems[BROKEN_YAML.name].reason
    assert not problems[BROKEN_YAML.name].skipped

    no_front = posts["1000002"]  # no front matter: title from body, date from the file name
    assert no_front.title == "没有前言的正文，只有一句话"
    assert no_front.published.date() == dt.date(2026, 7, 2)

    assert problems["nodate-1000003.md"].skipped and "no date" in problems["nodate-1000003.md"].reason

    dateless_name = posts["202205262391921712"]  # empty title and date, file name without a date
    assert dateless_name.published == dt.datetime(2022, 5, 26, tzinfo=SITE_TZ)  # the day of its code
    # The title is the body's first sentence, cut at TITLE_FROM_BODY_CHARS (40).
    assert dateless_name.title == "据霍尼韦尔官网消息，5月24日，霍尼韦尔宣布为蔚来旗下ET7新能源汽车提供HFO"
    assert dateless_name.paper == "上海证券报"
    assert "<>" not in dateless_name.paragraphs and dateless_name.url == ""
    assert not problems[NO_DATE.name].skipped

    blank_first = posts["202112082206672930"]  # a blank line before the front matter: read as if none
    assert blank_first.title == "离岸人民币兑美元升至2018年以来最高水平"
    assert blank_first.published == dt.datetime(2021, 12, 8, 10, 46, 18, tzinfo=SITE_TZ)
    assert "2021-12-08-202112082206672930.md" not in problems

    assert posts["1000005"].paragraphs == ()  # empty body: indexed by its title
    assert "empty body" in problems["2026-07-04-1000005.md"].reason

    gbk = posts["1000006"]
    assert gbk.title == "国债收益率走低" and gbk.paragraphs == ("国债期货全线收涨。",)
    assert "GB18030" in problems["2026-07-05-1000006.md"].reason

    assert problems["2026-07-06-1000007.md"].skipped and "too large" in problems["2026-07-06-1000007.md"].reason

    assert posts["1000008"].title == "第一篇"  # the first of two posts with one id is kept
    duplicate = problems["copy/2026-07-07-1000008.md"]
    assert duplicate.skipped and "duplicate id 1000008" in duplicate.reason

    assert problems["2026-07-08-1000009.md"].skipped  # no title, no body
    assert problems["2026-07-09-1000010.md"].skipped and "binary" in problems["2026-07-09-1000010.md"].reason
    assert posts["1000011"].paragraphs == ("正文。",)  # the empty <> link is dropped

    # Every file is accounted for: indexed or reported as skipped.
    skipped = {p.path for p in problems.values() if p.skipped}
    files = {p.relative_to(messy_archive).as_posix() for p in messy_archive.rglob("*.md")}
    assert files == {post.path for post in posts.values()} | skipped


def test_read_post_never_raises_on_unreadable_file(tmp_path):
    path = tmp_path / "2026-01-01-1.md"
    path.mkdir()  # a folder named like a post
    result = read_post(path, tmp_path)
    assert result.post is None and result.problems[0].skipped


def test_a_post_that_grew_after_its_stat_is_read_whole(tmp_path, monkeypatch):
    path = tmp_path / "2026-07-15-2426766.md"
    path.write_text(POST.format(title="规模以上工业增加值", date="2026-07-15 10:00:00 +0800", body="正文。" * 500),
                    encoding="utf-8")
    real_fstat = os.fstat

    def stat_before_the_last_write(fd):  # the stat saw the file when it held a tenth of its bytes
        info = real_fstat(fd)
        extra = {name: getattr(info, name) for name in ("st_atime_ns", "st_mtime_ns", "st_ctime_ns")}
        return os.stat_result((*info[:6], info.st_size // 10, *info[7:10]), extra)

    monkeypatch.setattr(os, "fstat", stat_before_the_last_write)
    result = read_post(path, tmp_path)
    assert result.post is not None and "".join(result.post.paragraphs) == "正文。" * 500


def test_wire_posts_are_read_without_loss(archive, archive_read):
    files = sorted(p for p in archive.rglob("*.md") if not p.relative_to(archive).as_posix().startswith("finews/"))
    results = [r for r in archive_read if r.post is None or not r.post.path.startswith("finews/")]
    assert len(files) == len(results) == 3005
    assert sum(1 for r in results if r.post) == len(files)  # recovered at worst, never lost
    for result in results:
        post = result.post
        assert post.title and post.paragraphs
        assert post.published.utcoffset() == dt.timedelta(hours=8)
        assert post.categories[0] in {"cailianshe", "emnews", "tonghuashun"}
        assert post.paper in {"财联社", "东财滚动", "同花顺"}
        assert not any("返回" in p and "](" in p for p in post.paragraphs)
    # The site's unescaped quotes break the YAML of exactly these five; each is read line by line.
    recovered = {p.path.rsplit("/", 1)[-1] for r in results for p in r.problems}
    assert recovered == {p.name for p in (FIXTURE_POSTS / "broken-yaml").glob("*.md")}
    assert all("broken YAML" in p.reason and not p.skipped for r in results for p in r.problems)


# -- the site's closing furniture, taken off before Markdown ----------------

FURNITURE = "\n\n<https://api3.cls.cn/share/article/2426766?os=web&sv=8.4.6&app=CailianpressWeb>\n\n" \
            "[返回财联社新闻](//finews.withounder.com/category/cailianshe.html)｜[返回首页](//finews.withounder.com/)\n"


def _rendered_whole(markup: str):
    """What the body gives with its furniture rendered as Markdown like the rest of it."""
    return clean._clean_html(clean._MARKDOWN.render(markup))


def test_every_sample_post_is_cleaned_as_if_its_furniture_were_rendered():
    split = 0
    for path in sorted(SAMPLE_POSTS.rglob("*.md")):
        body = path.read_text(encoding="utf-8").split("\n---\n", 1)[1]
        split += clean._split_furniture(body)[0] != body
        assert clean.clean_body(body) == _rendered_whole(body), path
    assert split >= 3000  # the fast way is the common one, not a path the test never takes


@pytest.mark.parametrize("head", [
    "正文。",
    "",  # nothing but the furniture: its address is still the post's url
    "正文。\n\n<https://example.com/older>",  # an address of its own: dropped, the furniture's wins
    "正文。\n\n```\n代码",  # an open code fence holds the furniture as code
    "<pre>\n正文。",  # so does an open <pre>
    "正文。\n\n<!-- 未闭合的注释",  # and an open comment hides it
    "- 列表项\n\n  > 引用",
])
def test_furniture_is_taken_off_only_where_rendering_it_gives_the_same(head):
    markup = head + FURNITURE
    assert clean.clean_body(markup) == _rendered_whole(markup)


@pytest.mark.parametrize("tail", [
    "\n\n[返回首页](javascript:alert(1))",  # not a link once rendered: its text stays
    "\n\n<https://例子.cn/新闻>\n\n[返回首页](//finews.withounder.com/)",  # shown decoded, linked encoded
    "\n\n[返回**首页**](//finews.withounder.com/)",  # Markdown inside the link
    "\n\n[返回首页](//finews.withounder.com/) 更多正文",
])
def test_a_tail_that_is_not_exactly_the_furniture_is_rendered(tail):
    markup = "正文。" + tail
    assert clean._split_furniture(markup) == (markup, "")
    assert clean.clean_body(markup) == _rendered_whole(markup)


def test_furniture_taken_off_leaves_the_post_as_the_reader_sees_it():
    body = clean.clean_body("<p>【标题】财联社7月15日电，正文。</p><p class=\"em_media\">（文章来源：财联社）</p>" + FURNITURE)
    assert body.paragraphs == ("【标题】财联社7月15日电，正文。",)
    assert body.url == "https://api3.cls.cn/share/article/2426766?os=web&sv=8.4.6&app=CailianpressWeb"
    assert body.paper == "财联社"
