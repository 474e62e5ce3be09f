"""The compiled loops a build may run (analysis/native.py, analysis/_native.c): the same bigrams,
signatures and postings as their Python forms on every post of data/posts and on any text, used
only within a build that has checked them, and the Python forms (with one warning) when the gate,
the version or the check says no; an index built either way is the same index."""
from __future__ import annotations

import logging
import types
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finsearch import storage
from finsearch.analysis import native, near_duplicates, tokenizers
from finsearch.analysis.normalize import fold
from finsearch.analysis.tokenizers import GramTokenizer, JiebaTokenizer
from finsearch.storage import generations as store
from finsearch.storage.schema import SIGNATURE
from finsearch.storage.writer import _FieldPostings
from tests.whoosh_contents import index_contents


def _texts(posts) -> list[str]:
    return [post.title + "\n" + "\n".join(post.paragraphs) for post in posts]


@pytest.fixture
def allowed(monkeypatch):
    monkeypatch.delenv(native.NATIVE_ENV, raising=False)


def test_the_install_built_the_compiled_loops():
    # Without a C compiler pip skips them and builds still run; this says when CI stopped compiling.
    assert native.load().VERSION == native.VERSION


@pytest.mark.slow
def test_the_compiled_loops_give_every_post_what_the_python_forms_give(archive_posts):
    texts = _texts(archive_posts)
    assert native.first_disagreement(texts, native.load()) is None
    assert storage.grouping_disagreement(texts, native.load()) is None


# Text made of what the units and runs tell apart: CJK, digits and points, Latin letters (and
# capitals, which are not units), %, white space of several kinds, punctuation, and a character
# beyond the BMP (which the MinHash's packed keys cannot hold: the Python form takes over).
_ALPHABET = st.sampled_from(list("央行降准金融科技中国人民银行") + list("0123456789..") + list("abcxyzETF")
                            + ["%", " ", "\t", "\n", "\u3000", "\u00a0", "\u2003", "，", "、", "-", "（", "）", "\U00020000"])


@settings(max_examples=300, deadline=None)
@given(st.text(_ALPHABET, max_size=60))
def test_the_bigrams_of_any_text_are_the_python_forms(text):
    folded = fold(text)
    with native.using(None):
        expected = GramTokenizer().analyse(folded)
    with native.using(native.load()):
        assert GramTokenizer().analyse(folded) == expected


def test_every_character_is_the_same_kind_of_unit_in_both_forms():
    # The compiled loop restates normalize.UNIT's classes (CJK ranges, digits and points, letters,
    # %, white space): a change to one side shows here, whatever the sample posts hold.
    characters = [chr(code) for code in range(0x10000) if not 0xD800 <= code <= 0xDFFF]
    for start in range(0, len(characters), 4096):
        text = "".join(f"{c}{c} {c}x{c}9.5{c}。" for c in characters[start:start + 4096])
        with native.using(None):
            expected = GramTokenizer().analyse(text)
        with native.using(native.load()):
            assert GramTokenizer().analyse(text) == expected


class _Cut:
    """A segmenter that cuts any text into the given words, with the given dictionary."""

    def __init__(self, words: list[str], freq: dict[str, int]):
        self.words, self.FREQ = words, freq

    def cut(self, text):
        return iter(self.words)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(_ALPHABET, max_size=6), max_size=40), st.integers(0, 2))
def test_the_terms_of_any_words_are_the_python_forms(words, modulus):
    # Inner 2- and 3-grams in the dictionary, some of them with a count of 0 (not a word).
    freq = {word[i:i + n]: i % (modulus + 1) for word in words for n in (2, 3) for i in range(len(word) - n + 1)}
    with mock.patch.object(tokenizers, "segmenter", lambda: _Cut(words, freq)):
        with native.using(None):
            expected = JiebaTokenizer().analyse("")
        with native.using(native.load()):
            assert JiebaTokenizer().analyse("") == expected


@settings(max_examples=300, deadline=None)
@given(st.text(_ALPHABET, max_size=60), st.text(_ALPHABET, max_size=200))
def test_the_signature_of_any_text_is_the_python_forms(title, body):
    with native.using(None):
        expected = near_duplicates.signature(title, body)
    with native.using(native.load()):
        assert near_duplicates.signature(title, body) == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.text(_ALPHABET, min_size=1, max_size=4), max_size=80), max_size=6))
def test_any_tokens_group_into_the_python_forms_postings(documents):
    reference, checked = _FieldPostings(), _FieldPostings()
    for docnum, tokens in enumerate(documents):
        positions = [(i * 7919) % 50 for i in range(len(tokens))]  # any order, repeats
        sequence = positions if docnum % 2 else tuple(positions)  # any sequence
        for postings, module in ((reference, None), (checked, native.load())):
            with native.using(module):
                postings.add_tokens(docnum, tokens, sequence)
                postings.add_tokens(docnum, tokens, None)
    assert checked.state() == reference.state()


def test_a_build_runs_the_compiled_loops_only_within_its_block(archive_posts, allowed):
    with native.compiled_for_build(_texts(archive_posts[:20]), storage.grouping_disagreement) as used:
        assert used and native.compiled() is not None
    assert native.compiled() is None  # searches: the Python forms


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == native.__name__]


def _altered(module, **changes) -> types.SimpleNamespace:
    """The compiled module with some of its functions replaced."""
    return types.SimpleNamespace(**{name: getattr(module, name) for name in dir(module) if not name.startswith("_")}
                                 | changes)


def test_compiled_loops_that_disagree_are_not_used(archive_posts, allowed, monkeypatch, caplog):
    module = native.load()
    wrong = _altered(module, gram_terms=lambda folded: module.gram_terms(folded[::-1]))
    monkeypatch.setattr(native, "load", lambda: wrong)
    with caplog.at_level(logging.WARNING, logger=native.__name__):
        with native.compiled_for_build(_texts(archive_posts[:3]), storage.grouping_disagreement) as used:
            assert not used and native.compiled() is None
    (warning,) = _warnings(caplog)
    assert "the unit bigrams of sample text 0" in warning


def test_a_grouping_that_disagrees_is_not_used(archive_posts, allowed, monkeypatch, caplog):
    module = native.load()

    def group(numbers, texts, positions):
        return module.group(numbers, texts[:-1], None if positions is None else positions[:-1])

    monkeypatch.setattr(native, "load", lambda: _altered(module, group=group))
    with caplog.at_level(logging.WARNING, logger=native.__name__):
        with native.compiled_for_build(_texts(archive_posts[:3]), storage.grouping_disagreement) as used:
            assert not used
    (warning,) = _warnings(caplog)
    assert "the postings of the sample texts" in warning


@pytest.mark.parametrize("setting, said", [("gate", f"{native.NATIVE_ENV}=0"),
                                           ("version", "reinstall"),
                                           ("missing", "is not built")])
def test_the_python_forms_take_over_with_one_warning(setting, said, archive_posts, allowed, monkeypatch, caplog):
    if setting == "gate":
        monkeypatch.setenv(native.NATIVE_ENV, "0")
    elif setting == "version":
        monkeypatch.setattr(native, "VERSION", native.VERSION + 1)
    else:
        monkeypatch.setattr(native, "MODULE", "finsearch.analysis._no_such_module")
    with caplog.at_level(logging.WARNING, logger=native.__name__):
        with native.compiled_for_build(_texts(archive_posts[:3]), storage.grouping_disagreement) as used:
            assert not used and native.compiled() is None
    (warning,) = _warnings(caplog)
    assert said in warning


def _contents_and_signatures(root: Path) -> tuple:
    ix, _ = store.open_current(root)
    with ix.reader() as reader:
        signatures = list(reader.column_reader(SIGNATURE))
    return index_contents(ix), signatures


@pytest.mark.slow  # two builds of data/posts
def test_an_index_built_with_the_python_forms_is_the_same_index(archive, tmp_path, monkeypatch):
    from finsearch.indexer import build_index
    built = {}
    for setting in ("1", "0"):
        monkeypatch.setenv(native.NATIVE_ENV, setting)
        build_index(archive, tmp_path / setting, progress=False)
        built[setting] = _contents_and_signatures(tmp_path / setting)
    assert built["1"] == built["0"]
    assert len(built["1"][0][0]) > 500_000 and len(set(built["1"][1])) > 2_000  # postings, distinct signatures
