"""The newsroom's tool, round two (issue 27): what a reporter and an analyst trip over, through the
web app, the JSON API and the command line, on the real posts of data/posts."""
from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, urlsplit

from tests.test_webui import SAMPLE_STORIES


def _json(response, status=200):
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_json()


# -- 7. the small ones --------------------------------------------------------------------------

def test_cli_search_without_a_query_lists_the_newest_posts(cli, index_dir):
    done = cli("search", "--index", index_dir, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["total"] == SAMPLE_STORIES and result["sort"] == "newest"
    dates = [hit["date"] for hit in result["hits"]]
    assert dates == sorted(dates, reverse=True) and dates[0].startswith("2026-08-20")
    text = cli("search", "--index", index_dir)
    assert text.returncode == 0 and f"最新文章，共 {SAMPLE_STORIES} 条" in text.stdout


def test_a_bad_literal_flag_names_its_parameter(client):
    assert _json(client.get("/api/search?q=央行&literal=2"), 400) == {
        "error": "literal 应为 1 或 0：2", "code": "bad_flag", "param": "literal"}


def test_a_page_past_the_end_says_so(cli, client, index_dir):
    pages = _json(client.get("/api/search?q=银行"))["pages"]
    html = client.get("/?q=银行&page=999").get_data(as_text=True)
    assert f"第 999/{pages} 页" not in html
    assert f"第 999 页超出范围（共 {pages} 页）" in html
    done = cli("search", "银行", "--page", "999", "--index", index_dir)
    assert done.returncode == 0 and f"第 999 页超出范围（共 {pages} 页）" in done.stdout


def test_the_trends_form_leaves_its_empty_boxes_out_of_the_address(client):
    response = client.get("/trends?q=降准&q=&q=降息&q=&q=&from=&to=&interval=&mode=count")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/trends" and parse_qsl(location.query) == [("q", "降准"), ("q", "降息")]
    shared = client.get("/trends?q=降准&q=&mode=share")
    assert parse_qsl(urlsplit(shared.headers["Location"]).query) == [("q", "降准"), ("mode", "share")]
    assert client.get("/trends?q=降准&q=降息").status_code == 200


# -- 3. a headline a reader can use ----------------------------------------------------------------

BAHRAIN_ID = "2426619"  # 财联社, titled by its first 30 characters: 「财联社7月15日电，据巴林内政部消息，当地时间今天（7月15」
BAHRAIN_CUT_TITLE = "财联社7月15日电，据巴林内政部消息，当地时间今天（7月15"
BAHRAIN_HEADLINE = "据巴林内政部消息，当地时间今天（7月15日）凌晨3点左右，巴林防空警报再次拉响"


def _hit(data: dict, article_id: str) -> dict:
    return next(hit for hit in data["hits"] if hit["id"] == article_id)


def test_a_cut_wire_title_is_shown_as_its_whole_first_sentence(client):
    data = _json(client.get("/api/search?q=巴林防空警报"))
    hit = _hit(data, BAHRAIN_ID)
    assert hit["title"] == BAHRAIN_CUT_TITLE  # the title as written, still what the API's title says
    assert hit["headline"] == BAHRAIN_HEADLINE
    html = client.get("/?q=巴林防空警报").get_data(as_text=True)
    assert "据巴林内政部消息，当地时间今天（7月15日）凌晨3点左右，<mark>巴林防空警报</mark>再次拉响</a></h3>" in html
    assert "财联社7月15日电，据巴林" not in html.split('class="hits"', 1)[1].split("</h3>", 1)[0]
    article = client.get(f"/articles/{BAHRAIN_ID}").get_data(as_text=True)
    assert f'<h1 class="article-title">{BAHRAIN_HEADLINE}</h1>' in article
    assert _json(client.get(f"/api/articles/{BAHRAIN_ID}"))["headline"] == BAHRAIN_HEADLINE
    # The title as written is still searched: its dateline, in the title only.
    data = _json(client.get("/api/search?q=" + "title:" + "“财联社7月15日电”" + " 巴林"))
    assert BAHRAIN_ID in {hit["id"] for hit in data["hits"]}


def test_feeds_and_exports_carry_the_headline(client):
    feed = client.get("/feed.atom?q=巴林防空警报").get_data(as_text=True)
    assert f"<title>{BAHRAIN_HEADLINE}</title>" in feed
    rows = [json.loads(line) for line in client.get("/export.jsonl?q=巴林防空警报").get_data(as_text=True).splitlines()]
    row = next(r for r in rows if r["id"] == BAHRAIN_ID)
    assert (row["title"], row["headline"]) == (BAHRAIN_CUT_TITLE, BAHRAIN_HEADLINE)


def test_only_a_wire_dateline_title_is_replaced(engine):
    """Every post of data/posts whose headline differs from its title is a 财联社 flash titled by its dateline."""
    from finsearch.search import SearchRequest
    hits = list(engine.iter_hits(SearchRequest()))
    changed = [hit for hit in hits if hit.headline != hit.title]
    assert len(changed) == 499
    assert all(hit.paper == "财联社" and hit.title.startswith("财联社") and "日电，" in hit.title for hit in changed)
    for hit in changed:  # the first sentence the title was cut from, whole, or cut at its end
        cut = hit.title.split("，", 1)[1]
        assert hit.headline.startswith(cut) or cut.startswith(hit.headline), (hit.title, hit.headline)


# -- 6. exports an analyst can work with ----------------------------------------------------------

def _csv_rows(response) -> list[dict]:
    import csv
    import io
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_export_names_each_rows_story_and_gives_a_spreadsheet_date_and_time(client):
    import datetime as dt
    searched = _json(client.get("/api/search?q=SpaceX&size=100"))
    rows = _csv_rows(client.get("/export.csv?q=SpaceX"))
    assert len(rows) == searched["articles"] > searched["total"]  # reprints are rows too
    assert len({row["story"] for row in rows}) == searched["total"]  # ...and a story is counted once
    by_id = {row["id"]: row for row in rows}
    for hit in searched["hits"]:
        for reprint in hit["reprints"]:
            assert by_id[reprint["id"]]["story"] == by_id[hit["id"]]["story"]
    for row in rows:
        published = dt.datetime.fromisoformat(row["date"])
        assert row["day"] == published.strftime("%Y-%m-%d") and row["time"] == published.strftime("%H:%M:%S")
        assert row["story"] in by_id or _json(client.get(f"/api/articles/{row['story']}"))["id"] == row["story"]


def test_export_takes_the_body_when_asked(client):
    rows = _csv_rows(client.get("/export.csv?q=巴林防空警报&fields=id,headline,body"))
    assert set(rows[0]) == {"id", "headline", "body"}
    row = next(r for r in rows if r["id"] == BAHRAIN_ID)
    article = _json(client.get(f"/api/articles/{BAHRAIN_ID}"))
    assert row["body"] == "\n".join(article["paragraphs"]) and row["headline"] == BAHRAIN_HEADLINE
    assert "body" not in _csv_rows(client.get("/export.csv?q=巴林防空警报"))[0]
    response = client.get("/export.csv?q=巴林&fields=id,bodies")
    assert response.status_code == 400 and "bodies" in response.get_data(as_text=True)


def test_export_file_is_named_by_the_query_and_the_dates(client):
    from urllib.parse import unquote
    def name(url: str) -> str:
        disposition = client.get(url).headers["Content-Disposition"]
        return unquote(disposition.split("filename*=UTF-8''", 1)[1])
    assert name("/export.csv?q=降息&from=2026-06-01&to=2026-08-05") == "finsearch-降息-2026-06-01至2026-08-05.csv"
    assert name("/export.jsonl?from=2026-08-05&to=2026-08-05") == "finsearch-all-2026-08-05至2026-08-05.jsonl"
    assert name("/export.csv?q=央行 降准&from=2026-08-19T10:00") == "finsearch-央行_降准-2026-08-19T1000起.csv"
    assert name("/export.csv?q=a/b:c") == "finsearch-a_b_c.csv"


def test_export_guards_cells_a_spreadsheet_would_run(engine):
    """A real post whose title and headline were made to start like formulas: the CSV shows them as
    text (a leading '), the JSON Lines keeps them as they are."""
    import dataclasses

    from finsearch.search import EXPORTERS, SearchRequest
    hit = next(engine.iter_hits(SearchRequest(query="巴林防空警报")))
    hostile = dataclasses.replace(hit, title="=HYPERLINK(\"http://x\")", headline="+1", paper="@SUM(A1)")
    csv_text = "".join(EXPORTERS["csv"]([hostile]))
    assert "'=HYPERLINK" in csv_text and ",'+1" in csv_text and ",'@SUM(A1)," in csv_text
    jsonl = json.loads("".join(EXPORTERS["jsonl"]([hostile])))
    assert (jsonl["title"], jsonl["headline"], jsonl["paper"]) == ("=HYPERLINK(\"http://x\")", "+1", "@SUM(A1)")


def test_cli_export_takes_the_body_too(cli, index_dir, tmp_path):
    out = tmp_path / "bahrain.jsonl"
    done = cli("export", "巴林防空警报", "--index", index_dir, "--format", "jsonl", "--fields", "id,body",
                     "--output", out)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert set(rows[0]) == {"id", "body"} and any("巴林防空警报再次拉响" in row["body"] for row in rows)
    assert cli("export", "巴林", "--index", index_dir, "--fields", "nope").returncode == 2


# -- 5. a code always finds its company ----------------------------------------------------------

def test_a_stock_code_finds_its_company_on_the_sample(cli, client, index_dir):
    """No post of data/posts writes 600519; two name 贵州茅台. The shipped table pairs them."""
    data = _json(client.get("/api/search?q=600519"))
    assert data["expanded"] == [{"term": "600519", "aliases": ["贵州茅台"]}]
    assert data["articles"] == _json(client.get("/api/search?q=贵州茅台&literal=1"))["articles"] == 2
    done = cli("search", "600519", "--index", index_dir)
    assert done.returncode == 0 and "共 2 条结果" in done.stdout and "同时搜索了：贵州茅台" in done.stdout
    assert _json(client.get("/api/search?q=300750"))["articles"] == _json(
        client.get("/api/search?q=宁德时代&literal=1"))["articles"] > 0


def test_the_shipped_stock_table_is_a_table_of_a_share_codes():
    import re

    from finsearch.analysis.aliases import shipped_stocks
    pairs = shipped_stocks()
    assert len(pairs) > 1500
    codes = [code for _, code in pairs]
    assert len(set(codes)) == len(codes)  # one name a code
    assert all(re.fullmatch(r"(?:00|30|60|68|92|8\d|4\d)\d{4}", code) for code in codes)
    assert all(re.fullmatch(r"(?:\*?ST)?[\u4e00-\u9fffA-Za-z]{2,8}[AB]?", name) for name, _ in pairs)
    known = {"600519": "贵州茅台", "000858": "五粮液", "300750": "宁德时代", "002594": "比亚迪", "000725": "京东方A"}
    assert {code: name for name, code in pairs if code in known} == known


# -- 2. a hole in the archive is no data, not zero news ----------------------------------------------

# data/posts holds posts of 2026-05-20, 06-05, 06-12, 06-30, 07-01, 07-09, 07-15, 07-29, 07-31, 08-05, 08-20
# (and three days of 2021-2022): the week of 2026-05-25 has none at all.
EMPTY_WEEK = ("2026-05-25", "2026-05-31")


def test_trends_say_which_periods_the_archive_lacks(client):
    data = _json(client.get("/api/trends?q=降息&interval=week&from=2026-05-18&to=2026-08-23"))
    periods = {p["start"]: p for p in data["periods"]}
    assert periods[EMPTY_WEEK[0]] == {"start": EMPTY_WEEK[0], "end": EMPTY_WEEK[1], "total": 0, "days": 7,
                                      "covered_days": 0}
    assert periods["2026-06-08"]["covered_days"] == 1  # 06-12 only
    assert periods["2026-07-27"]["covered_days"] == 2  # 07-29 and 07-31


def test_trends_chart_breaks_its_lines_at_a_hole_and_hatches_it(client):
    html = client.get("/trends?q=降息&interval=week&from=2026-05-18&to=2026-08-23").get_data(as_text=True)
    points = re.findall(r'<a class="trend-point[^"]*" href="[^"]*from=([\d-]+)', html)
    assert EMPTY_WEEK[0] not in points and "2026-06-08" in points  # no dot at zero where there is no data
    gap = re.search(rf'<rect class="trend-gap"[^>]*aria-label="{EMPTY_WEEK[0]} 至 05-31：无数据：档案中没有这段时间的文章"', html)
    assert gap is not None
    table = html.split('class="trends-table"', 1)[1]
    assert re.search(rf"{EMPTY_WEEK[0]} 至 05-31</th><td colspan=\"2\">无数据", table)
    assert "06-08 至 06-14 <span class=\"muted\">（仅 1/7 天有数据）</span>" in table


def test_the_timeline_hatches_the_days_the_archive_lacks(client):
    html = client.get("/?q=降息").get_data(as_text=True)
    wide = re.search(r'<figure class="timeline for-wide">(.*?)</figure>', html, re.DOTALL).group(1)
    assert "按周分布" in wide and "档案缺失的天数" in wide
    empty = re.search(rf'<rect class="bar-gap is-empty"[^>]*height="84\.0"[^>]*aria-label="{EMPTY_WEEK[0]} 至 {EMPTY_WEEK[1]}：无数据',
                      wide)
    assert empty is not None
    assert f'data-from="{EMPTY_WEEK[0]}"' not in wide  # and no bar to click
    # A week with one day of posts (06-12) is hatched six sevenths of the way down.
    assert re.search(r'<rect class="bar-gap"[^>]*height="72\.0"[^>]*aria-label="2026-06-08 至 2026-06-14：仅 1/7 天有数据"',
                     wide)


def test_the_last_24_hours_are_counted_by_the_hour(client, engine):
    from finsearch.search import make_request
    html = client.get("/").get_data(as_text=True)
    last_day = re.search(r'<a href="(/\?from=[^"]+)"[^>]*>近24小时</a>', html).group(1).replace("&amp;", "&")
    page = client.get(last_day).get_data(as_text=True)
    wide = re.search(r'<figure class="timeline for-wide">(.*?)</figure>', page, re.DOTALL).group(1)
    assert "按小时分布" in wide
    bars = re.findall(r'data-from="([\dT:-]+)" data-to="([\dT:-]+)" aria-label="[^"：]*：(\d+) 篇', wide)
    assert len(bars) >= 10
    for start, end, count in bars:
        assert start.endswith(":00") and end.endswith(":59") and start[:13] == end[:13]  # one hour each
        assert int(count) == engine.search(make_request("", start, end)).articles
    narrow = re.search(r'<figure class="timeline for-narrow">(.*?)</figure>', page, re.DOTALL).group(1)
    assert re.search(r"按\d?小时分布", narrow)


def test_a_term_dwarfed_by_another_gets_a_scale_of_its_own(client):
    url = "/trends?q=银行&q=降息&mode=share&from=2026-05-01"
    html = client.get(url).get_data(as_text=True)
    assert html.count('<figure class="trend-chart trend-panel') == 2
    axes = re.findall(r'<svg class="trend-axis".*?</svg>', html, re.DOTALL)
    assert [re.findall(r">([\d.]+%)</text>", axis)[-1] for axis in axes] == ["10%", "2%"]  # each its own top
    shared = client.get(url + "&scale=shared").get_data(as_text=True)
    assert shared.count("<figure class=\"trend-chart\">") == 1 and "trend-panel" not in shared
    assert "分开绘制，各用各的刻度" in shared


# -- 4. suggestions that know what was typed before, pinyin, codes and misspellings ------------------

def _suggested(client, text: str) -> list[dict]:
    return _json(client.get("/api/suggest", query_string={"q": text}))


def test_suggestions_rank_by_the_words_typed_before(client):
    words = [s["word"] for s in _suggested(client, "央行 降")]
    assert words[0] == "降息" and "降准" in words
    assert words.index("降准") < words.index("降雨") and words.index("降息") < words.index("降至")
    alone = [s["word"] for s in _suggested(client, "降")]
    assert alone.index("降雨") < alone.index("降息")  # without 央行, the more frequent word comes first
    assert _suggested(client, "央行 降")[0]["text"] == "央行 降息"


def test_suggestions_by_full_pinyin_and_by_code_prefix(client):
    ningde = _suggested(client, "ningde")
    assert "宁德时代" in [s["word"] for s in ningde] and all(s["by"] == "pinyin" for s in ningde)
    assert "银行" in [s["word"] for s in _suggested(client, "yinhang")]
    codes = _suggested(client, "6005")
    moutai = next(s for s in codes if s["word"] == "600519")
    assert moutai == {"text": "600519", "word": "600519", "count": 2, "by": "code", "label": "贵州茅台"}
    assert all(s["word"].startswith("6005") and s["label"] for s in codes)


def test_a_misspelt_query_that_finds_nothing_offers_the_word_meant(client):
    _suggested(client, "供应")  # builds the vocabulary, as a server does in the background when it starts
    data = _json(client.get("/api/search?q=供应练金融"))
    assert data["total"] == 0
    assert data["suggestions"][0] == {"query": "供应链金融", "literal": False, "articles": 1,
                                      "reason": "纠正「供应练金融」", "reason_code": "corrected"}
    html = client.get("/?q=供应练金融").get_data(as_text=True)
    first = html.split('id="suggestions"', 1)[1]
    assert re.search(r'<a class="try-query" href="[^"]*">供应链金融</a><span class="muted">（纠正「供应练金融」，1 篇）',
                     first)
    words = _json(client.get("/api/search?q=美连储 加息"))["suggestions"][0]
    assert (words["query"], words["reason"]) == ("美联储 加息", "纠正「美连储」")


def test_misspellings_first_suggestion_precision_is_at_least_0_9(engine):
    from benchmarks.spelling import measure, precision, read_misspellings
    outcomes = measure(engine, read_misspellings())
    assert len(outcomes) >= 100 and not [o.typo for o in outcomes if o.found]  # each finds nothing
    assert precision(outcomes) >= 0.9, [(o.typo, o.offered, o.meant) for o in outcomes if not o.right]


# -- proximity: 茅台 NEAR/5 提价, "茅台 提价"~5 ----------------------------------------------------------

NEAR_PAIRS = [("央行", "逆回购"), ("美联储", "降息"), ("原油", "期货"), ("黄金", "美元"), ("SpaceX", "涨幅"),
              ("人民币", "中间价"), ("特朗普", "关税"), ("A股", "成交额")]
DISTANCES = [0, 2, 5, 12]


def _unit_positions(text: str) -> list[tuple[str, int]]:
    """The units of literal matching in `text` with their places: one after another, and a place more
    where anything but white space (a punctuation mark) stands between two units."""
    from finsearch.analysis import fold
    from finsearch.analysis.normalize import UNIT
    folded, units, place, end = fold(text), [], -1, None
    for unit in UNIT.finditer(folded):
        place += 1 if end is None or not folded[end:unit.start()].strip() else 2
        units.append((unit.group(), place))
        end = unit.end()
    return units


def _occurrences(units: list[tuple[str, int]], term: list[str]) -> list[tuple[int, int]]:
    """(first place, last place) of each run of `term`'s units, one right after another."""
    found = []
    for i in range(len(units) - len(term) + 1):
        window = units[i:i + len(term)]
        if [u for u, _ in window] == term and all(b[1] - a[1] == 1 for a, b in zip(window, window[1:])):
            found.append((window[0][1], window[-1][1]))
    return found


def _units_between(a: tuple[int, int], b: tuple[int, int]) -> int:
    if b[0] > a[1]:
        return b[0] - a[1] - 1
    if a[0] > b[1]:
        return a[0] - b[1] - 1
    return 0  # overlapping


def test_proximity_finds_exactly_the_posts_where_the_words_stand_that_near(engine, archive_posts):
    """Against a ground truth read from the posts' text: both words in the title, or both in the body,
    with at most N units between them, in either order."""
    from finsearch.analysis import fold
    from finsearch.analysis.normalize import UNIT
    from finsearch.search import SearchRequest
    fields = {post.id: [_unit_positions(post.title), _unit_positions("\n".join(post.paragraphs))]
              for post in archive_posts}
    seen_gaps: set[int] = set()
    for first, second in NEAR_PAIRS:
        terms = [[u.group() for u in UNIT.finditer(fold(word))] for word in (first, second)]
        gaps = {}  # post -> the fewest units between the two words in one field
        for post_id, texts in fields.items():
            closest = [_units_between(a, b) for units in texts
                       for a in _occurrences(units, terms[0]) for b in _occurrences(units, terms[1])]
            if closest:
                gaps[post_id] = min(closest)
        for distance in DISTANCES:
            truth = {post_id for post_id, gap in gaps.items() if gap <= distance}
            for query in (f"{first} NEAR/{distance} {second}", f'"{second} {first}"~{distance}'):
                found = {hit.id for hit in engine.iter_hits(SearchRequest(query=query, literal=True))}
                assert found == truth, (query, sorted(found - truth)[:3], sorted(truth - found)[:3])
        assert gaps, (first, second)
        seen_gaps |= set(gaps.values())
    assert min(seen_gaps) == 0 and max(seen_gaps) > max(DISTANCES)  # near and far posts both tested


def test_proximity_is_in_the_api_cli_and_highlighted(cli, client, index_dir):
    data = _json(client.get("/api/search", query_string={"q": "美联储 NEAR/0 降息"}))
    assert data["articles"] == 1 and data["expanded"] == []  # proximity searches what was typed
    snippet = data["hits"][0]["snippet"]
    assert "<mark>美联储</mark><mark>降息</mark>" in snippet
    assert _json(client.get("/api/search", query_string={"q": '"降息 美联储"~0'}))["articles"] == 1
    wider = _json(client.get("/api/search", query_string={"q": "美联储 NEAR/30 降息"}))["articles"]
    both = _json(client.get("/api/search", query_string={"q": "美联储 降息"}))["articles"]
    assert 1 < wider < both
    done = cli("search", "美联储 NEAR/0 降息", "--index", index_dir, "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["articles"] == 1


# -- 首发: who reported a story first, and how many minutes later the others followed -------------------

# One story of data/posts in three papers: 东财滚动 and 财联社 at 09:54:08, 同花顺 at 09:57:29 (2026-08-20).
ROBOT_STORY = ("202608203847427052", "2459061", "679123563")
# Another: 同花顺 at 09:17:24, 财联社 at 09:19:00.
KYIV_STORY = ("679120515", "2459024")


def _dates(archive_posts, ids) -> list:
    by_id = {post.id: post.published for post in archive_posts}
    return [by_id[post_id] for post_id in ids]


def _minutes(earlier, later) -> int:
    """Minutes between two posts' times as a reader sees them (09:17 → 09:19: 2)."""
    return int((later.replace(second=0) - earlier.replace(second=0)).total_seconds() // 60)


def test_a_reprint_says_how_many_minutes_after_the_first_report_it_came(client, archive_posts):
    first, reprint = _dates(archive_posts, KYIV_STORY)
    assert _minutes(first, reprint) == 2 and (reprint - first).total_seconds() // 60 == 1  # shown: 09:17, 09:19
    data = _json(client.get("/api/search?q=基辅 导弹 5死23伤"))
    hit = next(h for h in data["hits"] if KYIV_STORY[0] in {h["id"], *(r["id"] for r in h["reprints"])})
    assert (hit["id"], hit["first"], hit["lag_minutes"]) == (KYIV_STORY[0], True, 0)
    assert hit["first_report"] == {"id": KYIV_STORY[0], "paper": "同花顺", "date": first.isoformat()}
    assert [(r["id"], r["first"], r["lag_minutes"]) for r in hit["reprints"]] == [(KYIV_STORY[1], False, 2)]
    html = client.get("/?q=基辅 导弹 5死23伤").get_data(as_text=True)
    assert '<p class="hit-first">同花顺首发 · 财联社 +2 分钟</p>' in html


def test_papers_out_at_the_same_second_share_the_first_report(client, archive_posts):
    dongcai, cailian, tonghuashun = _dates(archive_posts, ROBOT_STORY)
    assert dongcai == cailian and _minutes(dongcai, tonghuashun) == 3
    data = _json(client.get("/api/search?q=王兴兴 效能"))
    (hit,) = data["hits"]
    posts = [hit, *hit["reprints"]]
    assert {p["id"] for p in posts} == set(ROBOT_STORY)
    assert sum(p["first"] for p in posts) == 1  # one post is the story's first report (first=1 keeps it)
    assert {p["id"]: p["lag_minutes"] for p in posts} == dict(zip(ROBOT_STORY, (0, 0, 3)))
    html = client.get("/?q=王兴兴 效能").get_data(as_text=True)
    assert '<p class="hit-first">东财滚动、财联社同时首发 · 同花顺 +3 分钟</p>' in html
    # A reprint found alone still says who had it first.
    (alone,) = _json(client.get("/api/search?q=王兴兴 效能&paper=同花顺"))["hits"]
    assert (alone["id"], alone["first"], alone["lag_minutes"]) == (ROBOT_STORY[2], False, 3)
    assert alone["first_report"]["id"] == hit["first_report"]["id"]


def test_first_keeps_each_storys_earliest_post_only(client, archive_posts):
    published = {post.id: post.published for post in archive_posts}
    everything = [_json(client.get(f"/api/search?q=涨停&size=100&page={page}")) for page in (1, 2, 3)]
    stories = [[hit, *hit["reprints"]] for data in everything for hit in data["hits"]]
    assert everything[0]["pages"] <= 3 and sum(map(len, stories)) == everything[0]["articles"]
    firsts = [_json(client.get(f"/api/search?q=涨停&first=1&size=100&page={page}")) for page in (1, 2, 3)]
    kept = {hit["id"] for data in firsts for hit in data["hits"]}
    assert all(hit["first"] and not hit["reprints"] for data in firsts for hit in data["hits"])
    assert firsts[0]["articles"] == len(kept) == everything[0]["facets"]["first"][0]["count"] > 0
    assert kept <= {post["id"] for story in stories for post in story}
    for story in stories:
        earliest = min(published[post["id"]] for post in story)
        for post in story:
            assert (post["id"] in kept) == post["first"]
            if post["id"] in kept:
                assert published[post["id"]] == earliest
    # A story whose first report does not match the query has no post under first=1.
    assert len(kept) < len(stories)


def test_first_reports_on_the_page_the_cli_and_exports(client, cli, index_dir):
    html = client.get("/?q=王兴兴 效能").get_data(as_text=True)
    link = re.search(r'<a class="facet-link" href="([^"]*first=1[^"]*)"\s+title="只看：首发报道">', html)
    assert link, html[html.find('facet-first'):][:600]
    picked = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "只看首发报道" in picked and 'name="first" value="1"' in picked  # the chip, and kept by the forms
    assert picked.count('<li class="hit">') == 1 and "hit-reprints" not in picked
    done = cli("search", "王兴兴 效能", "--first", "--index", index_dir, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["first"] is True and [h["id"] for h in result["hits"]] == [ROBOT_STORY[0]]
    text = cli("search", "王兴兴 效能", "--index", index_dir)
    assert "东财滚动、财联社同时首发 · 同花顺 +3 分钟" in text.stdout
    rows = client.get("/export.csv?q=涨停&first=1").get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert len(rows) == 1 + _json(client.get("/api/search?q=涨停&first=1"))["articles"]
    assert _json(client.get("/api/search?q=涨停&first=2"), 400) == {
        "error": "first 应为 1 或 0：2", "code": "bad_flag", "param": "first"}
