"""From what a user types to a Whoosh query.

Syntax: words (all required), "quoted phrase", OR, NOT or -word to exclude
(a minus before a digit is a sign: -1.7% is searched, not excluded), (groups),
title:word / body:word (标题: / 正文:), and proximity: 茅台 NEAR/5 提价 or
"茅台 提价"~5 (both within 5 units of each other, in either order, in the
title or in the body). Whoosh's own parser reads the syntax; every word or
phrase then becomes a *literal* query:

- it matches where the text contains the string literally (case, full/half
  width and traditional/simplified folded, white space ignored): a phrase of
  its character bigrams on the gram fields;
- it ranks by its jieba words on the word fields (title weighs more).

Unless the query is literal, a word (not a quoted phrase, not under NOT, not a
proximity's) that has aliases (finsearch.analysis.aliases) becomes an OR of itself
and its aliases; an alias match scores a small constant, below any match of the
word typed.
"""
from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from whoosh import query as wq
from whoosh.qparser import QueryParser, plugins, syntax

from finsearch.analysis import fold, gram_terms, halfwidth, is_cjk, simplify, unit_runs, words
from finsearch.analysis.aliases import AliasTable
from finsearch.search.types import MAX_QUERY_CHARS, Notice, SearchError
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
_DANGLING = re.compile(r"^\s*(?:AND|OR|NEAR/\d+)\s+|\s+(?:AND|OR|NOT|NEAR/\d+)\s*$")
# Proximity: A NEAR/5 B, or "A B"~5; units between them at most this many.
_NEAR_OPERATOR = r"(?<=\s)NEAR/(?P<distance>\d{1,4})(?=\s)"
MAX_DISTANCE = 9999
# A minus that excludes: not one before a digit, which news reads as a sign (-1.7%).
_EXCLUDING_MINUS = r"-(?!\d)"
_SYNTAX_CHARS = re.compile(r'["()]|(?<!\S)' + _EXCLUDING_MINUS + r'|\b(?:AND|OR|NOT)\b|\bNEAR/\d+|\w+:')
# NOT, or an excluding minus that starts a word.
_NOT_OPERATOR = r"(^|(?<=(\s|[()])))(NOT(?=\s)|" + _EXCLUDING_MINUS + r"(?=\S))"


@dataclass(frozen=True)
class ParsedQuery:
    query: wq.Query  # wq.Every() for an empty query
    terms: tuple[str, ...]  # literal strings to highlight
    notice: Notice | None = None  # how a malformed query was read
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
        raise SearchError("query_too_long", "q", length=len(text), limit=MAX_QUERY_CHARS)
    if not text:
        return ParsedQuery(wq.Every(), ())
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates from Python callers
    text = halfwidth(simplify(text)).translate(_QUOTES)
    notice: Notice | None = None
    while _DANGLING.search(text):
        text = _DANGLING.sub(" ", text).strip()
        notice = Notice.DANGLING_OPERATOR
    if text.count('"') % 2:
        text = text.replace('"', " ")
        notice = Notice.UNBALANCED_QUOTES
    parser = _LiteralParser()
    try:
        parsed = parser.parse(text)
    except Exception:  # Whoosh's parser is lenient, but a query must never fail
        log.warning("query parser failed on %r", text, exc_info=True)
        parser = _LiteralParser()
        parsed = parser.parse(_SYNTAX_CHARS.sub(" ", text))
        notice = Notice.SYNTAX_ERROR
    parsed = _drop_empty(parsed)
    if parsed is None:
        return ParsedQuery(wq.NullQuery, (), notice or Notice.NOTHING_TO_SEARCH)
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
        self.boost = 1.0  # Whoosh flattens an AND inside an AND by its parts' boosts (near_query's fallback)
        self.text = text
        self.scope = field  # not `field`: Whoosh queries have a field() method
        self.quoted = quoted

    def _rewrap(self, child):
        return Literal(child, self.text, self.scope, self.quoted)

    def __eq__(self, other):
        return isinstance(other, Literal) and self.text == other.text and self.child == other.child

    __hash__ = wq.WrappingQuery.__hash__


class Near(wq.Query):
    """Literal queries within `distance` units of each other, in either order, in one field (the
    title or the body): each with the next one, for more than two. Counted in the units of literal
    matching (analysis.normalize.UNIT: a CJK character, a number, a Latin word, a %), a punctuation
    mark between them counting as one. Matched and scored as the AND of the literals, then kept
    where their positions are that near (search.evaluate)."""

    def __init__(self, literals: list[Literal], distance: int):
        self.literals = literals
        self.distance = distance
        self.boost = 1.0

    def __repr__(self):
        return f"Near({self.literals!r}, {self.distance})"

    def __eq__(self, other):
        return isinstance(other, Near) and self.literals == other.literals and self.distance == other.distance

    def __hash__(self):
        return hash((tuple(self.literals), self.distance))

    def children(self):
        return iter(self.literals)

    def is_leaf(self):
        return False

    def field(self):
        return None  # the literals' own fields

    def normalize(self):
        return Near([literal.normalize() for literal in self.literals], self.distance)

    def estimate_size(self, reader):
        return min(literal.estimate_size(reader) for literal in self.literals)


def near_query(queries: list, distance: int) -> wq.Query | None:
    """`queries` (parsed operands) near each other; the AND of those that are no single literal
    string (a group, an OR) or hold a lone CJK character, which has no position to compare."""
    literals = [q for q in queries if q is not None]
    if len(literals) < 2 or not all(isinstance(q, Literal) and _has_positions(q.text) for q in literals):
        return wq.And(literals) if len(literals) > 1 else (literals[0] if literals else None)
    return Near(literals, min(distance, MAX_DISTANCE))


def _has_positions(text: str) -> bool:
    """Whether a literal's match has positions to measure from: it is not one CJK character."""
    runs = unit_runs(fold(text))
    return bool(runs) and not (len(runs[0]) == 1 and is_cjk(runs[0][0][0]))


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


def mention_query(texts: Iterable[str]) -> wq.Query:
    """Where any of `texts` stands literally in the title or the body, unscored: the posts a
    search for them (or for one with the others as aliases) finds."""
    return wq.Or([_match(runs, word_field, gram_field) for text in texts if (runs := unit_runs(fold(text)))
                  for word_field, gram_field in FIELDS[None]])


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
    if isinstance(q, (wq.Not, Near)):  # a proximity measures what was typed
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
            plugins.OperatorsPlugin(
                ops=[(plugins.OperatorsPlugin.OpTagger(_NEAR_OPERATOR, _NearGroup, _NearOperator), 0)],
                Not=_NOT_OPERATOR),
        ])
    def term_query(self, fieldname, text, termclass, boost=1.0, tokenize=True, removestops=True):
        return literal_query(text, FIELD_ALIASES.get(fieldname) if fieldname else None)

    def phrase_query(self, fieldname, text, distance: int | None = None):
        scope = FIELD_ALIASES.get(fieldname) if fieldname else None
        if distance is not None and len(text.split()) > 1:  # "茅台 提价"~5: the words near each other
            return near_query([literal_query(word, scope) for word in text.split()], distance)
        return literal_query(text, scope, quoted=True)


class _NearGroup(syntax.GroupNode):
    merging = False

    def query(self, parser):
        q = near_query([node.query(parser) for node in self.nodes], self.kwargs["distance"])
        return syntax.attach(q, self) if q is not None else None


class _NearOperator(syntax.InfixOperator):
    """NEAR/5 between two operands; a chain with one distance (A NEAR/5 B NEAR/5 C) is one group."""

    def __init__(self, text, grouptype, leftassoc=True):
        super().__init__(text, grouptype, leftassoc)
        self.distance = int(text.split("/", 1)[1])

    def replace_self(self, parser, group, position):
        if 0 < position < len(group) - 1:
            left, right = group[position - 1], group[position + 1]
            if isinstance(left, _NearGroup) and left.kwargs["distance"] == self.distance:
                left.append(right)
                del group[position:position + 2]
            else:
                group[position - 1:position + 2] = [_NearGroup([left, right], distance=self.distance)]
        else:
            del group[position]
        return position


class _LiteralPhrasePlugin(plugins.PhrasePlugin):
    class PhraseNode(syntax.TextNode):
        def __init__(self, text, textstartchar, slop=None):
            super().__init__(text)
            self.textstartchar = textstartchar
            self.slop = slop  # "…"~N: N, the words' distance

        def query(self, parser):
            q = parser.phrase_query(self.fieldname, self.text, self.slop)
            return syntax.attach(q, self) if q is not None else None

    class PhraseTagger(plugins.RegexTagger):
        def create(self, parser, match):
            slop = match.group("slop")
            return _LiteralPhrasePlugin.PhraseNode(match.group("text"), match.start("text"),
                                                   int(slop) if slop is not None else None)

    def __init__(self):
        super().__init__(expr='"(?P<text>.*?)"(?:~(?P<slop>\\d{1,4})(?![\\w.]))?')

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
