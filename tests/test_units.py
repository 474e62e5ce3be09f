"""Units of literal matching: a change between letters and digits, and a %, are boundaries a
reader sees; a number is never found inside a longer number, nor a word inside a longer word."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmarks.relevance import contains_literally
from finsearch.analysis import fold, unit_runs
from finsearch.search import SearchEngine, SearchRequest

ETF_FLOWS = "2426683"  # 沪深300ETF合计净流入…；中证500ETF…
HUATAI_300 = "678675046"  # 华泰柏瑞沪深300ETF（510300）净流出24.51亿元
JIANGFENG = "2427441"  # 江丰电子：…Q2净利润预计环比增长28%-66%
HBM5 = "2445839"  # …HBM5…
UP_1_PERCENT = "202606303787612970"  # …上涨1%…


def found_ids(engine: SearchEngine, query: str) -> set[str]:
    found: set[str] = set()
    page = 0
    while True:
        page += 1
        result = engine.search(SearchRequest(query=query, page=page, page_size=100, literal=True))
        for hit in result.hits:
            found |= {hit.id} | {r.id for r in hit.reprints}
        if page >= result.pages:
            return found


def literal_truth(posts, term: str) -> set[str]:
    return {p.id for p in posts
            if contains_literally(p.title, term) or contains_literally("\n".join(p.paragraphs), term)}


def test_units_split_where_letters_meet_digits_and_at_percent():
    runs = unit_runs(fold("华泰柏瑞沪深300ETF（510300）PMI49.5，上涨11%"))
    assert [[u for u, _, _ in run] for run in runs] == [
        ["华", "泰", "柏", "瑞", "沪", "深", "300", "etf"], ["510300"], ["pmi", "49.5"], ["上", "涨", "11", "%"]]


@pytest.mark.parametrize("query, post", [
    ("沪深300", ETF_FLOWS), ("沪深300", HUATAI_300), ("中证500", ETF_FLOWS), ("增长28", JIANGFENG),
    ("HBM", HBM5), ("上涨1", UP_1_PERCENT), ("沪深300ETF", HUATAI_300), ("510300", HUATAI_300),
])
def test_a_term_is_found_where_the_text_goes_on_with_letters_digits_or_percent(engine, archive_posts, query, post):
    found = found_ids(engine, query)
    assert post in found
    # Exactly the posts that contain it, by the benchmark's ground truth.
    assert found == literal_truth(archive_posts, query)


def test_snippet_marks_exactly_the_typed_units(engine):
    result = engine.search(SearchRequest(query="沪深300", page_size=50, literal=True))
    hit = next(h for h in result.hits if h.id == HUATAI_300 or HUATAI_300 in [r.id for r in h.reprints])
    assert "<mark>沪深300</mark>ETF" in hit.snippet
    result = engine.search(SearchRequest(query="增长28", page_size=50, literal=True))
    hit = next(h for h in result.hits if h.id == JIANGFENG)
    assert "<mark>增长28</mark>%" in hit.snippet


# Small posts for what must not match: a number inside a longer number, a word inside a longer one.
SYNTHETIC = {
    "1001": ("公司募资113亿元", "本次定增募资113亿元，用于扩产。"),
    "1002": ("公司募资13亿元", "本次定增募资13亿元，用于研发。"),
    "1003": ("利润增长28.5%", "一季度利润增长28.5%，营收增长128%。"),
    "1004": ("海外ETFs规模创新高", "美国ETFs资产规模突破10万亿美元。"),
    "1005": ("一季度GDP2026年预期", "机构预计GDP2026年增长4.8%，PMI49.5低于荣枯线。"),
    "1006": ("换手率突破50%", "个股换手率突破50%，股价上涨11%。"),
    "1007": ("降准3.5个百分点", "存款准备金率下调3.5个百分点。"),
}


def write_post(folder: Path, post_id: str, title: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"2026-09-01-{post_id}.md").write_text(
        f'---\nlayout: post\ntitle: "{title}"\ndate: 2026-09-01 09:30:00 +0800\ncategories: test\n'
        f"tags: 测试新闻\n---\n<p>{body}</p>\n", "utf-8")


@pytest.fixture(scope="module")
def small_engine(tmp_path_factory):
    from finsearch.indexer import build_index
    root = tmp_path_factory.mktemp("units")
    for post_id, (title, body) in SYNTHETIC.items():
        write_post(root / "posts", post_id, title, body)
    build_index(root / "posts", root / "index", progress=False)
    engine = SearchEngine(root / "index")
    yield engine
    engine.close()


@pytest.mark.parametrize("query, expected", [
    ("13亿元", {"1002"}),  # not 113亿元
    ("113亿元", {"1001"}),
    ("28", set()),  # not in 28.5%, not in 128%
    ("28.5", {"1003"}),  # a decimal stays whole
    ("28.5%", {"1003"}),
    ("3", set()),  # not in 3.5
    ("5", set()),  # not in 3.5 or 4.8
    ("ETF", set()),  # not in ETFs
    ("ETFs", {"1004"}),
    ("GDP", {"1005"}),  # in GDP2026
    ("2026", {"1005"}),
    ("PMI", {"1005"}),  # in PMI49.5
    ("49.5", {"1005"}),
    ("49", set()),
    ("突破50", {"1006"}),  # in 突破50%
    ("上涨11", {"1006"}),  # in 上涨11%
    ("上涨11%", {"1006"}),
    ("增长128", {"1003"}),
    ("增长12", set()),
])
def test_numbers_and_words_match_whole(small_engine, query, expected):
    assert found_ids(small_engine, query) == expected
    # The benchmark's truth draws the same lines.
    truth = {pid for pid, (title, body) in SYNTHETIC.items()
             if contains_literally(title, query) or contains_literally(body, query)}
    assert truth == expected


def test_highlight_marks_the_unit_not_the_run(small_engine):
    hit = small_engine.search(SearchRequest(query="GDP", literal=True)).hits[0]
    assert "<mark>GDP</mark>2026" in hit.title_html
    hit = small_engine.search(SearchRequest(query="突破50", literal=True)).hits[0]
    assert "<mark>突破50</mark>%" in hit.snippet
    hit = small_engine.search(SearchRequest(query="13亿元", literal=True)).hits[0]
    assert re.findall(r"<mark>(.*?)</mark>", hit.snippet) == ["13亿元"]
