"""The headline a reader is shown for a post: its title, unless that title is a wire flash's
opening cut short.

The wire's flashes that have no headline of their own are titled by their first 30 characters
(「财联社7月15日电，据巴林内政部消息，当地时间今天（7月15」): a dateline and half a sentence. For
those, the headline is the 【…】 lead the body opens with, else the body's whole first sentence,
without the dateline. The title as written stays what the index searches and what the API's
`title` says; `headline` is what pages, feeds and exports show.
"""
from __future__ import annotations

import re

# Who and when, not what: 财联社7月15日电， 《科创板日报》18日讯， 新华社北京8月5日电
DATELINE = re.compile(r"^(?:[\u4e00-\u9fff]{2,10}|《[^》]{1,16}》)(?:\d{1,2}月)?\d{1,2}日(?:电|讯|消息)[，,：:\s]*")
LEAD = re.compile(r"^【([^】]{2,80})】")
SENTENCE_END = "。！？!?"
SENTENCE = re.compile(rf".*?[{SENTENCE_END}][”’」』]*")  # a closing quote belongs to its sentence
# A body with no sentence end near its start is cut at its last clause before this many characters
# (the wire's longest first sentence is shorter).
MAX_CHARS = 160
CLAUSE_END = "，；,;"


def headline(title: str, body: str) -> str:
    """What to show as the post's headline (see the module's docstring)."""
    title = title.strip()
    dateline = DATELINE.match(title)
    if dateline is None:
        return title
    cut_title = title[dateline.end():].strip()
    opening = body.strip().split("\n", 1)[0].strip()
    lead = LEAD.match(opening)
    if lead is None:
        opening = DATELINE.sub("", opening, count=1)
        lead = LEAD.match(opening)
    if lead is not None:
        return lead.group(1).strip()
    if opening.startswith(cut_title):  # the body is the flash the title was cut from
        return _first_sentence(opening) or title
    return cut_title or title


def _first_sentence(text: str) -> str:
    found = SENTENCE.match(text)
    sentence = found.group() if found else text
    if len(sentence) > MAX_CHARS:
        clause = max(sentence.rfind(mark, 0, MAX_CHARS) for mark in CLAUSE_END)
        sentence = sentence[:clause if clause > 0 else MAX_CHARS] + "…"
    return sentence.strip().removesuffix("。")
