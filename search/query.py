"""From what a user types to a Whoosh query.

Syntax: words (all required), "quoted phrase", OR, NOT or -word to exclude
(a minus before a digit is a sign: -1.7% is searched, not excluded), (groups),
and title:word / body:word (标题: / 正文:). Whoosh's own parser reads the
syntax; every word or phrase then becomes a *literal* query:

- it matches where the text contains the string literally (case, full/half
  width and traditional/simplified folded, white space ignored): a phrase of
  its character bigrams on the gram fields;
- it ranks by its jieba words on the word fields (title weighs more).

Unless the query is literal, a word (not a quoted phrase, not under NOT) that has
aliases (finsearch.analysis.aliases) becomes an OR of itself and its aliases;
an alias match scores a small constant, below any match of the word typed.
"""
from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass

from whoosh import query as wq
from whoosh.qparser import QueryParser, plugins, syntax

from finsearch.analysis import fold, gram_terms, halfwidth, is_cjk, simplify, unit_runs, words
from finsearch.analysis.aliases import AliasTable
from finsearch.search.types import MAX_QUERY_CHARS, SearchError
from finsearch.storage import BODY, BODY_GRAM, TITLE, TITLE_GRAM

log = logging.getLogger(__name__)

# (word field, gram field) of each field a user can name.
# None: no field named, both.
FIELDS: dict[str | None, tuple[tuple[str, str], ...]] = {"title": ((TITLE, TITLE_GRAM),), "body": ((BODY, BODY_GRAM),)}
FIELDS[None] = FIELDS["title"] + FIELDS["body"]
# A jieba word is a contiguous substring of the text: where the word field holds a
# literal as one word, its gram field holds the literal's bigrams in sequence.
WORD_FIELD_OF_GRAM = {gram_field: word_field for word_field, gram_field in FIELDS[None]}
FIELD_ALIASES = {"标题": "title", "正文": "body", "title": "title", "body": "body"}
LITERAL_SCORE = {TITLE: 2.0, BODY: 1.0}
# A post with only an alias scores this, with the alias in the title and/or the body: less
# than any post with the word typed (at least LITERAL_SCORE[BODY]).
ALIAS_SCORE = {TITLE: 0.5, BODY: 0.25}
_QUOTES = str.maketrans({"“": '"', "”": '"', "「": '"', "」": '"', "＂": '"'})
# A dangling operator at either end (`金融 OR`, `AND 银行`) is not a word to search.
_DANGLING = re.compile(r"^\s*(?:AND|OR)\s+|\s+(?:AND|OR|NOT)\s*$")
# A minus that excludes: not one before a digit, which news reads as a sign (-1.7%).
_EXCLUDING_MINUS = r"-(?!\d)"
_SYNTAX_CHARS = re.compile(r'["()]|(?<!\S)' + _EXCLUDING_MINUS + r'|\b(?:AND|OR|NOT)\b|\w+:')
# NOT, or an excluding minus that starts a word.
_NOT_OPERATOR = r"(^|(?<=(\s|[()])))(NOT(?=\s)|" + _EXCLUDING_MINUS + r"(?=\S))"


@dataclass(frozen=True)
class ParsedQuery:
    query: wq.Query  # wq.Every() for an empty query
    terms: tuple[str, ...]  # literal strings to highlight
    notice: str = ""  # how a malformed query was read, for the user
    expanded: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (word typed, its aliases searched too)


# Characters that show as nothing (zero-width spaces and joiners, the word joiner, a BOM, a soft
# hyphen): pasted inside a word they would split it, so a query drops them.
_INVISIBLE = str.maketrans(dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad")))


def without_invisible(text: str) -> str:
    return text.translate(_INVISIBLE)


@functools.lru_cache(maxsize=256)
def parse_query(text: str, aliases: AliasTable | None = None) -> ParsedQuery:
    """Parse a user's query, searching words' `aliases` too (None: literally as typed);
    raises SearchError only for a query we refuse (too long).

    Cached: a page parses the same query for its search and for highlighting each
    paragraph, and jieba and OpenCC are the costly part. Queries are immutable.
    """
    text = without_invisible(text or "").strip()
    if len(text) > MAX_QUERY_CHARS:
        raise SearchError(f"查询太长（{len(text)} 字），请不超过 {MAX_QUERY_CHARS} 字")
    if not text:
        return ParsedQuery(wq.Every(), ())
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates from Python callers
    text = halfwidth(simplify(text)).translate(_QUOTES)
    notice = ""
    while _DANGLING.search(text):
        text = _DANGLING.sub(" ", text).strip()
        notice = "忽略了查询首尾多余的 AND/OR/NOT"
    if text.count('"') % 2:
        text = text.replace('"', " ")
        notice = "引号不成对，已按普通词语搜索"
    parser = _LiteralParser()
    try:
        parsed = parser.parse(text)
    except Exception:  # Whoosh's parser is lenient, but a query must never fail
        log.warning("query parser failed on %r", text, exc_info=True)
        parser = _LiteralParser()
        parsed = parser.parse(_SYNTAX_CHARS.sub(" ", text))
        notice = "查询语法有误，已按普通词语搜索"
    parsed = _drop_empty(parsed)
    if parsed is None:
        return ParsedQuery(wq.NullQuery, (), notice or "查询中没有可搜索的词语")
    expanded: dict[str, tuple[str, ...]] = {}
    if aliases:
        parsed = _expand(parsed, aliases, expanded)
    terms = tuple(dict.fromkeys(_positive_texts(parsed)))
    if _only_negative(parsed):  # -银行 alone: everything without 银行
        parsed = wq.And([wq.Every(), parsed])
    return ParsedQuery(parsed, terms, notice, tuple(expanded.items()))


class Literal(wq.WrappingQuery):
    """A literal query, knowing its text (so highlighting marks what the query matched),
    its field (None: title or body) and whether it was quoted (then no aliases)."""

    def __init__(self, child: wq.Query, text: str, field: str | None = None, quoted: bool = False):
        super().__init__(child)
        self.text = text
        self.scope = field  # not `field`: Whoosh queries have a field() method
        self.quoted = quoted

    def _rewrap(self, child):
        return Literal(child, self.text, self.scope, self.quoted)

    def __eq__(self, other):
        return isinstance(other, Literal) and self.text == other.text and self.child == other.child

    __hash__ = wq.WrappingQuery.__hash__


def literal_query(text: str, field: str | None = None, quoted: bool = False) -> Literal | None:
    """Match `text` literally in the field (None: title or body), ranked by its words.

    The literal match adds a constant (more in the title); the words add BM25F.
    """
    runs = unit_runs(fold(text))
    if not runs:
        return None
    per_field = []
    for word_field, gram_field in FIELDS[field]:
        per_field.append(wq.ConstantScoreQuery(_match(runs, word_field, gram_field), LITERAL_SCORE[word_field]))
    match = per_field[0] if len(per_field) == 1 else wq.Or(per_field)
    ranking = [wq.Term(word_field, word) for word in words(text) for word_field, _ in FIELDS[field]]
    return Literal(wq.AndMaybe(match, wq.Or(ranking)) if ranking else match, text, field, quoted)


def _match(runs, word_field: str, gram_field: str) -> wq.Query:
    """Where the text of `runs` stands literally in one field (unscored)."""
    parts = [_run_query(run, word_field, gram_field) for run in runs]
    return parts[0] if len(parts) == 1 else wq.And(parts)


def _with_aliases(literal: Literal, aliases: tuple[str, ...]) -> wq.Query:
    """`literal` OR any of its aliases; an alias scores only ALIAS_SCORE (title, body)."""
    per_field = []
    for word_field, gram_field in FIELDS[literal.scope]:
        matches = [Literal(_match(runs, word_field, gram_field), alias)
                   for alias in aliases if (runs := unit_runs(fold(alias)))]
        per_field.append(wq.ConstantScoreQuery(wq.Or(matches), ALIAS_SCORE[word_field]))
    return wq.Or([literal] + per_field)


def _expand(q: wq.Query, table: AliasTable, expanded: dict[str, tuple[str, ...]]) -> wq.Query:
    """`q` with each unquoted literal outside a NOT searched with its aliases too (so every
    post the literal query finds is still found); records what was added in `expanded`."""
    if isinstance(q, Literal):
        aliases = () if q.quoted else table.alternatives(q.text)
        if not aliases:
            return q
        expanded[q.text] = aliases
        return _with_aliases(q, aliases)
    if isinstance(q, wq.Not):
        return q
    if isinstance(q, wq.AndNot):
        return wq.AndNot(_expand(q.a, table, expanded), q.b)
    return q.apply(lambda child: _expand(child, table, expanded))


def _run_query(run, word_field: str, gram_field: str) -> wq.Query:
    if len(run) == 1 and is_cjk(run[0][0]):
        # A lone character has no bigram: it matches where jieba made it a word.
        return wq.Term(word_field, run[0][0])
    terms = [text for text, _, _ in gram_terms(run)]
    if len(terms) == 1:
        return wq.Term(gram_field, terms[0])
    return wq.Phrase(gram_field, terms)


class _LiteralParser(QueryParser):
    """Whoosh's parser for the syntax only; words and phrases become literal queries."""

    def __init__(self):
        super().__init__(None, schema=None, plugins=[
            plugins.FieldsPlugin(expr=r"(?P<text>title|body|标题|正文):", remove_unknown=False),
            _LiteralPhrasePlugin(),
            plugins.GroupPlugin(),
            plugins.OperatorsPlugin(Not=_NOT_OPERATOR),
        ])
    def term_query(self, fieldname, text, termclass, boost=1.0, tokenize=True, removestops=True):
        return literal_query(text, FIELD_ALIASES.get(fieldname) if fieldname else None)

    def phrase_query(self, fieldname, text):
        return literal_query(text, FIELD_ALIASES.get(fieldname) if fieldname else None, quoted=True)


class _LiteralPhrasePlugin(plugins.PhrasePlugin):
    class PhraseNode(syntax.TextNode):
        def __init__(self, text, textstartchar, slop=1):
            super().__init__(text)
            self.textstartchar = textstartchar
            self.slop = slop

        def query(self, parser):
            q = parser.phrase_query(self.fieldname, self.text)
            return syntax.attach(q, self) if q is not None else None

    class PhraseTagger(plugins.RegexTagger):
        def create(self, parser, match):
            return _LiteralPhrasePlugin.PhraseNode(match.group("text"), match.start("text"))

    def __init__(self):
        super().__init__(expr='"(?P<text>.*?)"')

    def taggers(self, parser):
        return [(self.PhraseTagger(self.expr), 0)]


def _drop_empty(q: wq.Query | None) -> wq.Query | None:
    """Remove the holes left by words that had nothing searchable (a lone `OR`, `-`)."""
    if q is None or q is wq.NullQuery:
        return None
    if isinstance(q, wq.Not):
        inner = _drop_empty(q.query)
        return wq.Not(inner) if inner is not None else None
    if isinstance(q, wq.BinaryQuery):
        a, b = _drop_empty(q.a), _drop_empty(q.b)
        if a is None:
            return None if isinstance(q, (wq.AndNot, wq.AndMaybe, wq.Require)) else b
        if b is None:
            return a
        return type(q)(a, b)
    if isinstance(q, wq.CompoundQuery):
        kept = [c for c in (_drop_empty(s) for s in q.subqueries) if c is not None]
        if not kept:
            return None
        return kept[0] if len(kept) == 1 and not isinstance(kept[0], wq.Not) else type(q)(kept)
    return q


def _positive_texts(q: wq.Query) -> list[str]:
    """The texts of the literal queries in `q` outside any NOT: what a hit can contain."""
    if isinstance(q, Literal):
        return [q.text]
    if isinstance(q, wq.Not):
        return []
    if isinstance(q, wq.AndNot):
        return _positive_texts(q.a)
    return [text for child in q.children() for text in _positive_texts(child)]


def _only_negative(q: wq.Query) -> bool:
    if isinstance(q, wq.Not):
        return True
    if isinstance(q, wq.CompoundQuery):
        return all(_only_negative(s) for s in q.subqueries)
    return False
