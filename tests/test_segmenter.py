"""The faster segmenter a build may use (analysis/segmenter.py): the same words and stock names as
jieba on every post of data/posts, used only within a build that has checked it, and jieba itself
(with one warning) when the gate or the check says no; and jieba's cached prefix dictionary, read
faster than jieba reads it, only where it reads as jieba's own."""
from __future__ import annotations

import logging

import pytest

from finsearch.analysis import segmenter as seg


def _texts(posts) -> list[str]:
    return [post.title + "\n" + "\n".join(post.paragraphs) for post in posts]


@pytest.fixture
def fast_allowed(monkeypatch):
    monkeypatch.delenv(seg.FAST_ENV, raising=False)
    if seg.fast_segmenter_allowed() is not None:
        pytest.skip(f"the faster segmenter is not available: {seg.fast_segmenter_allowed()}")


@pytest.mark.slow
def test_the_stand_in_segments_every_sample_post_as_jieba_does(archive_posts, fast_allowed):
    assert seg.first_disagreement(_texts(archive_posts), seg.reference_segmenter(), seg._load_fast()) is None


def test_a_build_segments_with_the_stand_in_only_within_its_block(archive_posts, fast_allowed):
    with seg.segmenting_for_build(_texts(archive_posts[:20]), seg.STAND_IN_MIN_POSTS) as fast:
        assert fast
        assert type(seg.segmenter()).__module__.startswith("jieba_next")
    assert type(seg.segmenter()) is type(seg.reference_segmenter())  # searches: jieba itself


class _Disagreeing:
    """A segmenter that cuts every text into characters."""

    FREQ = seg.reference_segmenter().FREQ

    def cut(self, text):
        return iter(text)


def test_a_stand_in_that_cuts_otherwise_is_not_used(archive_posts, fast_allowed, monkeypatch, caplog):
    monkeypatch.setattr(seg, "_load_fast", _Disagreeing)
    with caplog.at_level(logging.WARNING, logger=seg.__name__):
        with seg.segmenting_for_build(_texts(archive_posts[:3]), seg.STAND_IN_MIN_POSTS) as fast:
            assert not fast
            assert seg.segmenter() is seg.reference_segmenter()
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "the words of sample text 0" in warning.getMessage()


def test_the_gate_turns_the_stand_in_off(archive_posts, monkeypatch, caplog):
    monkeypatch.setenv(seg.FAST_ENV, "0")
    with caplog.at_level(logging.WARNING, logger=seg.__name__):
        with seg.segmenting_for_build(_texts(archive_posts[:3]), seg.STAND_IN_MIN_POSTS) as fast:
            assert not fast and seg.segmenter() is seg.reference_segmenter()
    assert any(f"{seg.FAST_ENV}=0" in r.getMessage() for r in caplog.records)


def test_a_build_parent_forgets_its_segmenter_once_its_workers_have_forked(archive_posts, fast_allowed):
    with seg.segmenting_for_build(_texts(archive_posts[:3]), seg.STAND_IN_MIN_POSTS):
        seg.forget()
        assert seg._fast is None and seg.reference_segmenter.cache_info().currsize == 0
    assert seg.segmenter().cut("降准") is not None  # loaded again when asked for


def test_a_small_build_segments_with_jieba_and_keeps_it(archive_posts, fast_allowed, caplog):
    jieba_itself = seg.reference_segmenter()
    with caplog.at_level(logging.WARNING, logger=seg.__name__):
        with seg.segmenting_for_build(_texts(archive_posts[:3]), seg.STAND_IN_MIN_POSTS - 1) as fast:
            assert not fast and seg.segmenter() is jieba_itself
    assert seg.segmenter() is jieba_itself and not caplog.records  # not loaded again, no warning


# -- jieba's cached prefix dictionary, read the faster way -------------------------------------


def _jieba_tokenizer(cache: str):
    import jieba
    tokenizer = jieba.Tokenizer()
    tokenizer.tmp_dir = cache
    return tokenizer


def test_jiebas_cache_read_the_faster_way_is_what_jieba_reads(archive_posts):
    reference = seg.reference_segmenter()  # jieba's cache file exists once a segmenter was loaded
    ours, jiebas = _jieba_tokenizer(reference.tmp_dir), _jieba_tokenizer(reference.tmp_dir)
    seg._load_prefix_dictionary(ours)
    assert ours.initialized
    jiebas.initialize()
    assert ours.total == jiebas.total and ours.FREQ == jiebas.FREQ
    text = _texts(archive_posts[:1])[0]
    assert ours.lcut(text) == jiebas.lcut(text)


def test_jiebas_cache_is_left_to_jieba_by_an_unverified_version_or_when_it_does_not_read(
        tmp_path, monkeypatch, caplog):
    seg.reference_segmenter()
    monkeypatch.setattr(seg, "VERIFIED_JIEBA_CACHE", ("0.0",))
    unverified = _jieba_tokenizer(seg.reference_segmenter().tmp_dir)
    seg._load_prefix_dictionary(unverified)
    assert not unverified.initialized
    monkeypatch.undo()

    (tmp_path / seg.JIEBA_CACHE_FILE).write_bytes(b"not marshalled")
    monkeypatch.setattr(seg, "_cache_warning_given", False)
    damaged = _jieba_tokenizer(str(tmp_path))
    with caplog.at_level(logging.WARNING, logger=seg.__name__):
        seg._load_prefix_dictionary(damaged)
        seg._load_prefix_dictionary(_jieba_tokenizer(str(tmp_path)))
    assert not damaged.initialized
    assert sum("does not read as expected" in r.getMessage() for r in caplog.records) == 1
    damaged.initialize()  # jieba's own: it makes the file again from its dictionary
    assert damaged.lcut("降准") == seg.reference_segmenter().lcut("降准")
