"""Text analysis shared by the indexer and the query side.

Two views of the same text:
- words (jieba, search mode) drive ranking;
- unit bigrams match literal strings, whatever jieba does with the context.
"""
import hashlib
from importlib.metadata import version

from whoosh.analysis import Analyzer

from finsearch.analysis import normalize
from finsearch.analysis.normalize import fold, halfwidth, is_cjk, simplify, unit_pattern, unit_runs
from finsearch.analysis.segmenter import USER_DICT
from finsearch.analysis.tokenizers import GramTokenizer, JiebaTokenizer, gram_terms


def word_analyzer() -> Analyzer:
    return JiebaTokenizer()


def gram_analyzer() -> Analyzer:
    return GramTokenizer()


def words(text: str) -> list[str]:
    """The distinct jieba words of `text`, in order (for ranking a query)."""
    seen = dict.fromkeys(token.text for token in JiebaTokenizer()(text))
    return list(seen)


# Bump when a tokenizer's code changes what it emits (the settings below can't see code).
TOKENIZER_VERSION = 1


def fingerprint() -> dict[str, str]:
    """What the index's terms depend on: an index built under another fingerprint must be rebuilt."""
    folding = repr(sorted(normalize._FOLD.items())) + normalize.UNIT.pattern + normalize._SPACE.pattern
    return {
        "normalizer": hashlib.blake2b(folding.encode(), digest_size=16).hexdigest(),
        "tokenizers": f"jieba {version('jieba')} search mode + unit bigrams, v{TOKENIZER_VERSION}",
        "dictionary": hashlib.blake2b(USER_DICT.read_bytes(), digest_size=16).hexdigest(),
    }


__all__ = ["fingerprint", "fold", "gram_analyzer", "halfwidth", "gram_terms", "is_cjk", "simplify", "unit_pattern",
           "unit_runs",
           "word_analyzer", "words"]
