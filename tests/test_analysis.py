"""The analysis chain: what the index stores for a text, and where."""
from __future__ import annotations

from pathlib import Path

from finsearch.analysis import fold, gram_analyzer, simplify, unit_runs, word_analyzer, words
from finsearch.analysis.normalize import _FOLD_TABLE, FOLD_BY_CODES


def tokens(analyzer, text):
    # A Whoosh tokenizer reuses one Token object: copy what we keep.
    return [(t.text, t.pos, t.startchar, t.endchar) for t in analyzer(text, positions=True, chars=True)]


def test_fold_keeps_length_and_offsets():
    text = "ＥＴＦ基金与Ａ股　６００５１９"
    folded = fold(text)
    assert folded == "etf基金与a股 600519"
    assert len(folded) == len(text)


def test_fold_keeps_each_character_white_space_or_not():
    # A story's key splits the folded text at white space (near_duplicates.story_key): the same
    # key as splitting first and folding after, which is what the index's keys were made with.
    text = "".join(map(chr, range(0xD800))) + "".join(map(chr, range(0xE000, 0x110000)))
    folded = fold(text)
    assert [c.isspace() for c in folded] == [c.isspace() for c in text]
    assert " ".join(folded.split()) == fold(" ".join(text.split()))


def test_fold_of_long_texts_agrees_with_the_character_table():
    # Long texts fold by numpy over code points (faster), short ones by str.translate: the same
    # text, whatever its length, folds the same way. Every sample post, title and body whole.
    texts = [path.read_text("utf-8") for path in sorted((Path(__file__).parents[1] / "data" / "posts").rglob("*.md"))]
    assert sum(len(text) >= FOLD_BY_CODES for text in texts) > 3000  # the long path is the one tried
    texts.append("ＥＴＦ基金与Ａ股　６００５１９ 𝐀𝐁Ｃ\U0001F600 lone \ud800 surrogate ÀÉ ΣΑ " * 10)  # astral, surrogate, non-ASCII capitals
    for text in texts:
        assert fold(text) == text.translate(_FOLD_TABLE)


def test_units_and_runs():
    runs = unit_runs(fold("上行e链，5G网络 3.5%与ETF"))
    assert [[u for u, _, _ in run] for run in runs] == [["上", "行", "e", "链"],
                                                       ["5", "g", "网", "络", "3.5", "%", "与", "etf"]]


def test_gram_positions_are_consecutive_within_a_run_and_break_at_punctuation():
    grams = tokens(gram_analyzer(), "供应链金融、科技")
    assert [(t, p) for t, p, _, _ in grams] == [("供应", 0), ("应链", 1), ("链金", 2), ("金融", 3), ("科技", 6)]
    text = "海通证券RPA机器人"
    for term, _, start, end in tokens(gram_analyzer(), text):
        assert fold(text[start:end]).replace(" ", "") == term  # offsets point at the term


def test_latin_and_number_units_are_terms_of_their_own():
    texts = [t for t, _, _, _ in tokens(gram_analyzer(), "股票ETF净流入3.5%")]
    assert "etf" in texts and "3.5" in texts and "3.5%" in texts and "票etf" in texts


def test_jieba_words_keep_single_letters_and_count_words_not_characters():
    result = tokens(word_analyzer(), "上海银行推出上行e链平台")
    texts = [t for t, _, _, _ in result]
    assert "e" in texts  # jieba's own ChineseAnalyzer drops it
    assert {"上海", "银行", "上海银行"} <= set(texts)  # search mode: the word and the words inside it
    positions = [p for _, p, _, _ in result]
    assert positions == sorted(positions) and positions[-1] < len("上海银行推出上行e链平台")
    by_text = {t: p for t, p, _, _ in result}
    assert by_text["上海"] == by_text["上海银行"]  # sub-words share their word's position


def test_finance_dictionary_is_loaded():
    assert "供应链金融" in words("线上供应链金融平台")
    assert "数字人民币" in words("推广数字人民币试点")


def test_traditional_queries_are_simplified():
    assert simplify("供應鏈金融") == "供应链金融"
