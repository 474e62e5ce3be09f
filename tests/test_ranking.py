"""The first page a reporter reads, on the real posts of data/posts (issue 25).

What the reporter means: 央行 and 财政部 alone are China's, not another country's (a place name
before an institution makes it another one), while 欧洲央行 typed finds exactly 欧洲央行. Substance
before trivia: a fund blurb or a price tick ranks below a report about the topic. News is
time-bound: 综合 (sort=blend) blends relevance with recency, beside 相关度, 最新 and 最早.
"""
from __future__ import annotations

import json
import re

import pytest

from finsearch.analysis import fold
from finsearch.search import SearchRequest, Sort, make_request, rescore


def titles(engine, query: str, size: int = 10, **options) -> list[str]:
    return [hit.title for hit in engine.search(make_request(query, size=size, **options)).hits]


def another_countrys(title: str, word: str) -> bool:
    """Whether every mention of `word` in `title` has a place name before it (日本央行, 美财政部)."""
    spans = [m.start() for m in re.finditer(word, title)]
    return bool(spans) and all(rescore.qualified(title, start) for start in spans)


@pytest.mark.parametrize("word", ["央行", "财政部"])
def test_an_institution_alone_is_chinas(engine, word):
    # data/posts has 日本央行, 欧洲央行 and 美国财政部 titles that BM25 alone ranks first.
    first = titles(engine, word, size=3)
    assert all(word in fold(title) for title in first)
    assert not any(another_countrys(title, word) for title in first)


def test_the_other_countrys_institution_typed_is_found_exactly(engine):
    literal = engine.search(SearchRequest(query="欧洲央行", literal=True, page_size=100))
    expanded = engine.search(SearchRequest(query="欧洲央行", page_size=100))
    assert literal.total and {h.id for h in literal.hits} <= {h.id for h in expanded.hits}
    assert all("欧洲央行" in fold(h.title) or "欧央行" in fold(h.title) for h in expanded.hits[:3])


def test_a_place_makes_an_institution_another_but_not_a_topic():
    assert rescore.qualified("日本央行维持利率不变", 2)
    assert rescore.qualified("美国劳工统计局公布数据", 4)  # the place two characters before
    assert rescore.qualified("美财政部拟扩大回购规模", 1)  # a one-character short form, right before
    assert not rescore.qualified("央行：开展逆回购操作", 0)
    assert not rescore.qualified("中国证监会发布新规", 2)  # the home country's own
    assert "央行" in rescore.institution_names() and "CPI" not in rescore.institution_names()
    # The nearest place in the word's clause, however far: a month and a survey's name between.
    title = "美国6月ISM制造业PMI为53.3"
    assert rescore.qualified(title, title.index("PMI"))
    title = "中信证券：美国CPI全面低于预期 削弱加息预期"
    assert rescore.qualified(title, title.index("CPI"))
    title = "国家统计局：6月官方制造业PMI为50.3% 重返扩张区间"  # the clause after the colon names no place
    assert not rescore.qualified(title, title.index("PMI"))
    title = "纽约联储Perli称美联储国库券月度购买规模可上调也可下调"  # the place is the speaker's
    assert not rescore.qualified(title, title.index("美联储"))


# Titles of real posts (data/posts and the wire archive) that name a word.
EACH_COUNTRYS = [  # CPI: most titles name it as one of many countries' own
    "财联社7月15日电，美联储主席沃什表示，尽管今天的CPI数据", "中信证券：美国CPI全面低于预期 削弱加息预期",
    "财联社7月15日电，西班牙6月CPI环比增长0.6%，预期0", "财联社6月12日电，法国5月CPI环比增长0.1%，预期0.",
    "财联社6月12日电，印度5月份CPI同比增长3.93%，预估", "财联社6月12日电，德国5月CPI环比下降0.2%，预期下降",
]
ONE_COUNTRY_ACTS = [  # 关税: most titles that place it place it in the United States
    "美国据悉拟将对加拿大汽车关税税率从25%下调至15%", "美国现抢铜浪潮：关税悬顶 全球铜市格局面临重塑",
    "美国白宫：美国总统特朗普授权暂停对从摩洛哥进口的磷酸盐肥料的某些关税", "印度修订黄金、白银、棕榈油、大豆油的关税",
    "全球疯抢！关税套利引爆“铜博士” 库存危机会彻底爆发吗", "美国下调部分钢铝铜产品进口关税",
]
HOME_REGIONS = [  # 以旧换新: the home country's provinces carry out its own programme
    "海南消费品以旧换新新增8类地方自主补贴品类", "今日起，上海市汽车以旧换新补贴调整为即时摇号",
    "河南以旧换新再增7类补贴产品 每件最高补1500元", "今起山东实施2026年消费品以旧换新地方自主品类补贴",
    "《上海市2026年消费品以旧换新自主品类补贴政策实施细则》发布", "北京市消费品以旧换新将纳入智能家居产品（含适老化产品）",
]


def test_a_word_each_country_has_is_told_from_the_titles():
    assert rescore.abroad(EACH_COUNTRYS, ("CPI",))
    assert not rescore.abroad(ONE_COUNTRY_ACTS, ("关税",))
    assert not rescore.abroad(HOME_REGIONS, ("以旧换新",))


def test_a_statistic_alone_is_the_home_countrys_first_and_the_others_follow(engine):
    # data/posts: CPI of Spain, France, India, Germany, the U.S. and CPI named by itself; BM25 alone
    # puts 中信证券：美国CPI全面低于预期 second.
    shown = titles(engine, "CPI", size=10)
    named = [title for title in shown if "CPI" in title]
    elsewhere = [another_countrys(title, "CPI") for title in named]
    assert elsewhere[:2] == [False, False] and elsewhere == sorted(elsewhere)
    assert any(title.startswith("财联社7月15日电，西班牙6月CPI") for title in shown)


@pytest.mark.parametrize("query, blurb, report", [
    # A fund's blurb (an ETF named after the theme, its price move) and a report on the chips industry.
    ("芯片", "科创芯片设计ETF国联安（588780）盘中上涨1.72%", "“一把尺子量到底”打开国产汽车芯片产业发展空间"),
    # A one-line price tick and the company's results.
    ("存储", "存储芯片概念表现活跃 佰维存储涨近10%续创历史新高", "佰维存储：预计上半年净利润同比增长3200%"),
    # A sector's trading-floor move (拉升, 涨停, no figure) and a national standard for the industry.
    ("光伏", "光伏设备板块盘初拉升，欧晶科技涨停", "三项光伏能耗能效强制性国标明年1月起正式实施"),
])
def test_substance_before_trivia(engine, query, blurb, report):
    shown = titles(engine, query, size=20)
    place = {name: next(i for i, title in enumerate(shown) if title.startswith(name)) for name in (blurb, report)}
    assert place[report] < place[blurb]


def test_price_ticks_and_fund_blurbs_leave_the_first_page(engine):
    # 芯片: a fund's intraday blurb (科创芯片设计ETF…盘中上涨1.72%) and the ticks of chip stocks (涨近10%,
    # 跌超4%) come after the first page of news about chips, and are still found.
    shown = titles(engine, "芯片", size=30)
    ticks = [title for title in shown if re.search(r"(?:涨|跌)(?:超|近|逾|幅)?\d[\d.]*%", title)]
    assert ticks and not set(ticks) & set(shown[:10])
    assert any(title.startswith("科创芯片设计ETF国联安") for title in shown[10:])


@pytest.mark.parametrize("query, word, commentary, tick", [
    ("中信建投：Figure03进入宝马工厂", "机器人", 1.0, 0.0),  # a broker's view: someone else speaks
    ("LPR连续15个月“按兵不动” 降息还有戏吗？", "降息", 1.0, 0.0),  # a question
    ("国际原油期货结算价收跌超5%", "原油", 0.0, 1.0),  # the day's price move
    ("美国至7月31日当周API原油库存增加269万桶", "原油", 0.0, 0.0),  # a figure, not a price move
    ("科创芯片设计ETF国联安", "芯片", 0.0, 1.0),  # a fund's blurb
    ("稀土永磁概念走强 中国稀土触及涨停", "稀土", 0.0, 1.0),  # a trading-floor move
    ("集成电路封测板块短线走低", "集成电路", 0.0, 1.0),  # a sector moving, no figure
    ("中金财富期货：在AI虹吸情况下 黄金面临流动性压力仍是黄金走弱主因", "黄金", 1.0, 0.0),  # a view on a move
])
def test_commentary_and_ticks_are_recognised(engine, query, word, commentary, tick):
    hit = engine.search(SearchRequest(query=query, literal=True)).hits[0]
    article = engine.article(hit.id)
    assert article is not None
    features = rescore.features(article.title, "\n".join(article.paragraphs), [(word,)], 0)
    assert (features.commentary, features.tick) == (commentary, tick)


def test_pages_do_not_overlap_across_the_rescored_depth(engine):
    size = 7  # pages that straddle RESCORE_DEPTH
    seen: list[str] = []
    for number in range(1, rescore.RESCORE_DEPTH // size + 3):
        seen += [hit.id for hit in engine.search(SearchRequest(query="央行", page=number, page_size=size)).hits]
    assert len(seen) == len(set(seen))
    assert seen[:10] == [hit.id for hit in engine.search(SearchRequest(query="央行")).hits]


def test_blend_is_relevance_and_recency(engine):
    relevance = engine.search(SearchRequest(query="人工智能", page_size=5))
    blend = engine.search(SearchRequest(query="人工智能", sort=Sort.BLEND, page_size=5))
    assert blend.total == relevance.total and blend.articles == relevance.articles
    # Newer than relevance's first five on the whole, and still about 人工智能 in the title.
    mean = lambda hits: sum(h.date.timestamp() for h in hits) / len(hits)  # noqa: E731
    assert mean(blend.hits) > mean(relevance.hits)
    assert all("人工智能" in fold(h.title) for h in blend.hits)


def test_blend_in_the_api_the_cli_and_the_page(client, index_dir, cli):
    from tests.test_webui import api, hrefs, page

    assert make_request("央行", sort="blend").sort is Sort.BLEND
    assert api(client, "/api/search?q=央行&sort=blend")["sort"] == "blend"
    html = page(client, "/?q=央行&sort=blend")
    assert 'class="is-active" aria-current="true">综合' in html
    assert any("sort=blend" in href for href in hrefs(page(client, "/?q=央行"), "sort="))
    done = cli("search", "央行", "--sort", "blend", "--json", "--index", index_dir)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sort"] == "blend"



def test_a_digest_ranks_below_the_reports(engine):
    # A digest (早间新闻精选, 隔夜全球要闻: numbered items) names 关税 in one item; ten reports about it come first.
    assert not any("要闻" in title or "精选" in title for title in titles(engine, "关税"))
    hit = next(h for h in engine.search(make_request("财联社8月5日早间新闻精选")).hits if "早间新闻精选" in h.title)
    article = engine.article(hit.id)
    assert article is not None
    assert rescore.features(article.title, "\n".join(article.paragraphs), [("HBM",)], 0).digest == 1.0


@pytest.mark.parametrize("query, trivia, below", [
    # An investors'-platform denial names the topic only to say the company has nothing to do with it.
    ("光纤", "新亚电缆：目前公司没有生产光纤类产品", 5),
    # A column's teaser (【风口研报·公司】…这家公司…) sells a paid report rather than telling news.
    ("PCB", "【风口研报", 7),
])
def test_a_denial_or_a_columns_teaser_ranks_below_the_reports(engine, query, trivia, below):
    shown = titles(engine, query, size=20)
    assert not any(title.startswith(trivia) for title in shown[:below])
    assert any(title.startswith(trivia) for title in shown)


def test_an_institution_of_many_countries_or_named_again_after_anothers_is_not_chinas():
    """Titles of the wire archive that put 全球央行 and 韩国央行 in 央行's first ten."""
    words = rescore.typed_words(("央行",), (("央行", ("中国人民银行", "人民银行")),))

    def names_chinas(title: str) -> bool:
        return rescore.features(title, "", words, 0, frozenset({"央行"})).in_title == 1

    for title in ("全球央行计划继续购金、减持美元 不少央行计划增持人民币",
                  "韩国央行时隔13年重启实物金购买 全球央行避险配置进入深水区",
                  "海外主要央行货币政策为何分化？",
                  "财联社5月21日电，日本央行审议委员小枝淳子称，央行需要继续"):  # the same bank, named again
        assert not names_chinas(title), title
    for title in ("中国央行连续第21个月增持黄金",
                  "中国人民银行行长潘功胜会见法国央行行长德加洛",
                  "央行行长潘功胜：境外央行回购工具目前已由香港金管局落地首单签约和首批操作",
                  "欧洲央行按兵不动。央行今日开展4265亿元7天期逆回购操作"):  # another sentence
        assert names_chinas(title), title


def test_a_word_that_a_share_is_of_is_not_the_subject():
    """Wire titles: a share of GDP is news about something else; 百度's share of its revenue is still 百度's."""
    def in_title(title: str, word: str) -> float:
        return rescore.features(title, "", [(word,)], 0).in_title

    assert in_title("海南：力争到2030年全省高新技术产业增加值占GDP比重达20%左右", "GDP") == 0
    assert in_title("上海市市长龚正：到2030年全社会研发经费支出GDP占比提高到5%以上", "GDP") == 0
    assert in_title("合肥：上半年GDP同比增长6.8%", "GDP") == 1
    assert in_title("智能云收入占百度核心收入的比重升至三成", "百度") == 1


def test_a_post_that_names_the_institution_in_full_is_about_it(engine):
    # 央行 searched with its aliases: a PBOC release says 中国人民银行, a post about central banks at large does not.
    words = rescore.typed_words(("央行",), (("央行", ("中国人民银行", "人民银行")),))
    named = {}
    for query in ("中国人民银行", "日本央行"):
        hit = engine.search(SearchRequest(query=query, literal=True)).hits[0]
        article = engine.article(hit.id)
        assert article is not None
        named[query] = rescore.features(article.title, "\n".join(article.paragraphs), words, 0).named_in_full
    assert named == {"中国人民银行": 1.0, "日本央行": 0.0}
