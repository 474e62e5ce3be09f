"""Compare trends (/api/trends, /trends, /trends.csv), suggestions (/api/suggest) and the timeline's
buckets, on the sample index (data/posts: wire posts of 2026-05-20, 06-12, 06-30, 07-15, 08-05, 08-20)."""
from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from finsearch.search import make_request
from finsearch.webui import create_app

SAMPLE_DAYS = {"2026-05-20", "2026-06-12", "2026-06-30", "2026-07-15", "2026-08-05", "2026-08-20"}
WIRE = {"from": "2026-05-01", "to": "2026-08-31"}


@pytest.fixture(scope="module")
def client(index_dir):
    return create_app(index_dir, TESTING=True).test_client()


def _trends(client, terms, **params):
    response = client.get("/api/trends", query_string={"q": list(terms), **params})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _total(engine, query, start, end, papers=()):
    return engine.search(make_request(query, start, end, papers=papers)).total


@pytest.mark.parametrize("interval", ["day", "week", "month"])
def test_counts_are_the_search_totals_of_each_period(client, engine, interval):
    body = _trends(client, ["银行", "证券"], interval=interval, **WIRE)
    assert body["interval"] == interval and body["terms"] == ["银行", "证券"]
    # The dates asked for, as far as the archive goes (its newest post is of 2026-08-20).
    assert body["from"] == "2026-05-01" and body["to"] == "2026-08-20"
    for period in body["periods"]:
        start, end = period["start"], period["end"]
        assert period["total"] == _total(engine, "", start, end)
    for series in body["series"]:
        assert series["total"] == _total(engine, series["term"], WIRE["from"], WIRE["to"])
        for period, count, share in zip(body["periods"], series["counts"], series["shares"]):
            assert count == _total(engine, series["term"], period["start"], period["end"])
            assert share == pytest.approx(count / period["total"] if period["total"] else 0.0, abs=1e-6)
        assert sum(series["counts"]) >= series["total"] > 0


def test_days_with_posts_are_the_sample_days(client):
    body = _trends(client, ["银行"], interval="day", **WIRE)
    periods = body["periods"]
    assert len(periods) == 112 and all(p["start"] == p["end"] for p in periods)
    # The wire days (about 500 posts each); the few finews posts of 2026 are on other days.
    assert {p["start"] for p in periods if p["total"] >= 100} == SAMPLE_DAYS
    assert sum(p["total"] for p in periods if p["start"] not in SAMPLE_DAYS) < 10
    counts = dict(zip((p["start"] for p in periods), body["series"][0]["counts"]))
    assert {day for day, count in counts.items() if count} & SAMPLE_DAYS == SAMPLE_DAYS


def test_weeks_start_on_monday_and_are_clipped_to_the_dates(client):
    body = _trends(client, ["银行"], interval="week", **{"from": "2026-06-10", "to": "2026-07-01"})
    starts = [dt.date.fromisoformat(p["start"]) for p in body["periods"]]
    ends = [dt.date.fromisoformat(p["end"]) for p in body["periods"]]
    assert starts[0] == dt.date(2026, 6, 10) and ends[-1] == dt.date(2026, 7, 1)
    assert all(s.weekday() == 0 for s in starts[1:]) and all(e.weekday() == 6 for e in ends[:-1])
    assert all(b == a + dt.timedelta(days=1) for a, b in zip(ends, starts[1:]))  # no gaps, no overlaps


def test_paper_filter_counts_that_paper_only(client, engine):
    paper = engine.stats().papers[0].value
    body = _trends(client, ["市场"], interval="month", paper=paper, **WIRE)
    for period, count in zip(body["periods"], body["series"][0]["counts"]):
        assert count == _total(engine, "市场", period["start"], period["end"], papers=(paper,))
        assert period["total"] == _total(engine, "", period["start"], period["end"], papers=(paper,))
    everywhere = _trends(client, ["市场"], interval="month", **WIRE)
    assert sum(body["series"][0]["counts"]) < sum(everywhere["series"][0]["counts"])


@pytest.mark.parametrize(("params", "interval"), [
    ({"from": "2026-06-10", "to": "2026-06-16"}, "day"),  # a week: days
    ({"from": "2026-06-01", "to": "2026-07-15"}, "day"),  # 45 days
    ({"from": "2026-05-20", "to": "2026-08-20"}, "week"),  # three months
    ({"from": "2000-01-01", "to": "2030-12-31"}, "month"),  # clipped to the archive: 2021-12-08 to 2026-08-20
    ({}, "month"),
])
def test_interval_is_chosen_from_the_span(client, params, interval):
    body = _trends(client, ["市场", "银行"], **params)
    assert body["interval"] == interval
    if params:  # the dates asked for, as far as the archive goes
        assert body["from"] == max(params["from"], "2021-12-08") and body["to"] == min(params["to"], "2026-08-20")


def test_axis_starts_at_the_first_hit_without_dates(client, engine):
    body = _trends(client, ["降准", "逆回购"])
    first = min(h.date.date() for term in ("降准", "逆回购")
                for h in engine.search(make_request(term, sort="oldest", size=1)).hits)
    assert body["from"] == first.isoformat()


@pytest.mark.parametrize(("query", "message"), [
    ({"q": ["a", "b", "c", "d", "e", "f"]}, "最多比较 5 个词"),
    ({"q": ["银行", ""]}, "第 2 个词为空"),
    ({"q": ["银行", "   "]}, "第 2 个词为空"),
    ({}, "请至少输入一个词"),
    ({"q": "银行", "interval": "year"}, "interval 应为 day、week 或 month"),
    ({"q": "银行", "from": "2026-13-01"}, "from 不是有效日期"),
    ({"q": "银行", "from": "2026-08-01", "to": "2026-07-01"}, "开始日期晚于结束日期"),
    ({"q": "银行", "interval": "day"}, "时间跨度太长"),  # 2021-12 to 2026-08 by day
    ({"q": "银行", "query": "证券"}, "不认识的参数：query"),
    ({"q": "银" * 501}, "第 1 个词太长"),
])
def test_bad_trend_requests_are_400_with_a_message(client, query, message):
    response = client.get("/api/trends", query_string=query)
    assert response.status_code == 400
    assert response.is_json and message in response.get_json()["error"]


def test_csv_has_a_bom_and_the_api_numbers(client):
    params = {"q": ["银行", "-证券"], "interval": "week", **WIRE}
    response = client.get("/trends.csv", query_string=params)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    # A term starting with "-" is a query, not a formula for the spreadsheet.
    assert rows[0] == ["开始", "结束", "全部", "银行", "'-证券", "银行 占比", "'-证券 占比"]
    body = _trends(client, params["q"], interval="week", **WIRE)
    assert len(rows) == 1 + len(body["periods"])
    for row, period, i in zip(rows[1:], body["periods"], range(len(rows))):
        assert row[:3] == [period["start"], period["end"], str(period["total"])]
        assert [int(x) for x in row[3:5]] == [s["counts"][i] for s in body["series"]]
        assert [float(x) for x in row[5:]] == pytest.approx([s["shares"][i] for s in body["series"]], abs=1e-6)


def test_trends_page_draws_one_line_per_term_with_links_to_each_period(client, engine):
    response = client.get("/trends", query_string={"q": ["银行", "证券", ""], "interval": "week", **WIRE},
                          follow_redirects=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count('class="trend-line series-') == 2  # the empty box is ignored
    assert "<script>" not in html and "style=" not in html  # CSP: nothing inline
    hrefs = re.findall(r'<a class="trend-point[^"]*" href="([^"]+)"', html)
    body = _trends(client, ["银行", "证券"], interval="week", **WIRE)
    with_data = [period for period in body["periods"] if period["covered_days"]]  # no dot where the archive has none
    assert len(hrefs) == 2 * len(with_data)
    state = parse_qs(urlsplit(hrefs[3].replace("&amp;", "&")).query)
    period = with_data[3]
    assert state == {"q": ["银行"], "from": [period["start"]], "to": [period["end"]]}
    assert 'href="/trends.csv?' in html and "按周统计" in html
    # Share mode: the y axis is in percent.
    share = client.get("/trends", query_string={"q": ["银行", "证券"], "mode": "share", **WIRE})
    assert re.search(r'text-anchor="end">\d+(\.\d+)?%</text>', share.get_data(as_text=True))


def test_a_malformed_term_says_how_it_was_read(client):
    body = _trends(client, ["银行 OR", "证券"], **WIRE)
    assert [(s["notice"], s["notice_code"]) for s in body["series"]] == [
        ("忽略了查询首尾多余的 AND/OR/NOT", "dangling_operator"), ("", "")]
    html = client.get("/trends", query_string={"q": ["银行 OR", "证券"], **WIRE}).get_data(as_text=True)
    assert '<div class="alert alert-notice" role="status">“银行 OR”：忽略了查询首尾多余的 AND/OR/NOT</div>' in html
    assert html.count('class="alert alert-notice"') == 1


def test_trends_page_without_terms_and_with_bad_input(client):
    empty = client.get("/trends")
    assert empty.status_code == 200 and 'name="q"' in empty.get_data(as_text=True)
    too_many = client.get("/trends", query_string={"q": list("abcdef")})
    assert too_many.status_code == 400 and "最多比较 5 个词" in too_many.get_data(as_text=True)
    bad_mode = client.get("/trends", query_string={"q": "银行", "mode": "pie"})
    assert bad_mode.status_code == 400 and "mode 应为 count 或 share" in bad_mode.get_data(as_text=True)


def test_search_page_links_to_the_trend_of_its_query(client):
    html = client.get("/", query_string={"q": "银行", **WIRE}).get_data(as_text=True)
    link = re.search(r'class="timeline-trends" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(link).query) == {"q": ["银行"], "from": [WIRE["from"]], "to": [WIRE["to"]]}


# -- suggestions ---------------------------------------------------------------------------------

def _suggest(client, text, **params):
    response = client.get("/api/suggest", query_string={"q": text, **params})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_suggestions_complete_the_prefix_most_frequent_first(client, engine):
    found = _suggest(client, "供应")
    words = [s["word"] for s in found]
    assert "供应链" in words[:3] and "供应链金融" in words  # a title word and a dictionary word
    assert all(w.startswith("供应") and w != "供应" for w in words)
    counts = [s["count"] for s in found]
    assert counts == sorted(counts, reverse=True)
    for suggestion in found:  # a word's posts are found by searching it (and maybe more)
        assert 0 < suggestion["count"] <= engine.search(make_request(suggestion["word"])).articles


def test_suggestions_by_pinyin_initials(client):
    found = _suggest(client, "gylj")
    assert found[0]["word"] == "供应链金融" and found[0]["by"] == "pinyin"
    assert "银行" in [s["word"] for s in _suggest(client, "yh")][:3]


def test_suggestions_keep_the_rest_of_the_query(client):
    found = _suggest(client, "央行 降")
    assert found and all(s["text"] == "央行 " + s["word"] and s["word"].startswith("降") for s in found)
    excluded = _suggest(client, "金融 -供应")
    assert excluded and all(s["text"].startswith("金融 -供应") for s in excluded)
    assert _suggest(client, "供應")[0]["word"].startswith("供应")  # traditional folds to simplified


def test_suggestion_edge_cases(client):
    assert _suggest(client, "") == [] and _suggest(client, "   ") == [] and _suggest(client, "银行 ") == []
    assert _suggest(client, "zzzzqqq") == []
    assert len(_suggest(client, "金", limit="3")) == 3
    for query, message in [({"q": "银" * 501}, "查询太长"), ({"q": "银", "limit": "0"}, "建议条数"),
                           ({"q": "银", "limit": "x"}, "limit 应为整数"), ({"q": "银", "size": "3"}, "不认识的参数")]:
        response = client.get("/api/suggest", query_string=query)
        assert response.status_code == 400 and message in response.get_json()["error"]


def test_suggestions_take_under_30_ms(client):
    _suggest(client, "金")  # the vocabulary is built once per index generation
    times = []
    for text in ["金", "供应", "yh", "a", "央行 降", "银行", "gylj", "新", "s", "中国"] * 3:
        response = client.get("/api/suggest", query_string={"q": text})
        times.append(float(re.search(r"dur=([\d.]+)", response.headers["Server-Timing"]).group(1)))
    times.sort()
    assert times[int(len(times) * 0.95) - 1] < 30, times


# -- the timeline that fits the question -------------------------------------------------------

def _bars(html: str, screen: str = "wide") -> list[tuple[str, str, str]]:
    """(href, from, to) of the timeline's bars for one screen size."""
    figure = re.search(rf'<figure class="timeline for-{screen}">(.*?)</figure>', html, re.DOTALL).group(1)
    return [(h.replace("&amp;", "&"), start, end) for h, start, end in
            re.findall(r'<a class="bar[^"]*" href="([^"]*)"\s+data-from="([\d-]+)" data-to="([\d-]+)"', figure)]


def _title(html: str, screen: str = "wide") -> str:
    figure = re.search(rf'<figure class="timeline for-{screen}">(.*?)</figure>', html, re.DOTALL).group(1)
    return re.search(r'<span class="timeline-title">(.*?)</span>', figure).group(1)


def test_a_one_week_filter_shows_days(client):
    html = client.get("/", query_string={"q": "金融", "from": "2026-06-08", "to": "2026-06-14"}).get_data(as_text=True)
    assert _title(html) == _title(html, "narrow") == "按日分布"
    bars = _bars(html)
    assert bars and all(start == end and "2026-06-08" <= start <= "2026-06-14" for _, start, end in bars)


@pytest.mark.parametrize(("params", "wide", "narrow"), [
    ({"from": "2026-06-01", "to": "2026-06-30"}, "按日分布", "按周分布"),  # hits 06-12 to 06-30: 19 days
    ({"from": "2026-05-01", "to": "2026-08-31"}, "按周分布", "按月分布"),  # 05-20 to 08-20: 14 weeks
    ({}, "按季度分布", "按年分布"),  # 2022 to 2026
])
def test_bucket_follows_the_span_of_the_hits(client, params, wide, narrow):
    html = client.get("/", query_string={"q": "金融", **params}).get_data(as_text=True)
    assert (_title(html), _title(html, "narrow")) == (wide, narrow)


def test_timeline_bars_count_the_posts_of_their_period_and_link_to_it(client, engine):
    html = client.get("/", query_string={"q": "金融", **WIRE}).get_data(as_text=True)
    bars = _bars(html)
    first_hit = engine.search(make_request("金融", WIRE["from"], WIRE["to"], sort="oldest", size=1)).hits[0]
    assert bars[0][1] <= first_hit.date.date().isoformat() <= bars[0][2]  # the axis starts at the first hit
    labels = dict(re.findall(r'data-from="([\d-]+)" data-to="[\d-]+" aria-label="[^"：]*：(\d+) 篇', html))
    for href, start, end in bars:
        assert parse_qs(urlsplit(href).query) == {"q": ["金融"], "from": [start], "to": [end]}
        assert int(labels[start]) == engine.search(make_request("金融", start, end)).articles
    narrowed = client.get(bars[0][0]).get_data(as_text=True)
    assert 'class="bar is-active"' not in narrowed or _title(narrowed) != "按周分布"


@pytest.mark.parametrize("days", [1, 7, 31, 45, 200, 400, 1500, 4000])  # up to 11 years
def test_bars_are_tap_targets_and_labels_do_not_overlap(days):
    from finsearch.search import FacetCount
    from finsearch.webui import timeline

    first = dt.date(2020, 3, 5)
    per_day = {first + dt.timedelta(days=d): 1 + d % 7 for d in range(0, days, 3)}
    per_day[first + dt.timedelta(days=days - 1)] = 2
    counts = tuple(FacetCount(day.isoformat(), count) for day, count in sorted(per_day.items()))
    built = timeline.build(counts)
    for chart, width in ((built.wide, timeline.WIDE_PX), (built.narrow, timeline.NARROW_PX)):
        assert min(b.slot_width for b in chart.bars) * width / 100 >= timeline.TARGET_PX
        assert chart.bars[0].start <= first <= chart.bars[0].end  # starts at the first hit
        assert sum(b.count for b in chart.bars) == sum(c.count for c in counts)
        extents = []
        for label in chart.labels:
            size = (len(label.text) * timeline.CHAR_PX) / width * 100
            left = {"start": label.x, "middle": label.x - size / 2, "end": label.x - size}[label.anchor]
            extents.append((left, left + size))
        assert all(0 <= left and right <= 100 for left, right in extents)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(extents))
