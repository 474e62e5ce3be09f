"""Text analysis shared by the indexer and the query side.

Two views of the same text:
- words (jieba, search mode) drive ranking;
- unit bigrams match literal strings, whatever jieba does with the context.
"""
from whoosh.analysis import Analyzer

from finsearch.analysis.normalize import fold, halfwidth, is_cjk, simplify, unit_pattern, unit_runs
from finsearch.analysis.tokenizers import GramTokenizer, JiebaTokenizer, gram_terms


def word_analyzer() -> Analyzer:
    return JiebaTokenizer()


def gram_analyzer() -> Analyzer:
    return GramTokenizer()


def words(text: str) -> list[str]:
    """The distinct jieba words of `text`, in order (for ranking a query)."""
    seen = dict.fromkeys(token.text for token in JiebaTokenizer()(text))
    return list(seen)


__all__ = ["fold", "gram_analyzer", "halfwidth", "gram_terms", "is_cjk", "simplify", "unit_pattern", "unit_runs",
           "word_analyzer", "words"]
