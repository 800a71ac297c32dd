"""Feature extraction: every family from one tokenization, safe on any input."""

from __future__ import annotations

import json
import math

import pytest

from rftlab.style.features import COUNT_FAMILIES, extract
from rftlab.style.tagger import tagger


def _finite(obj) -> bool:
    if isinstance(obj, float):
        return math.isfinite(obj)
    if isinstance(obj, dict):
        return all(_finite(v) for v in obj.values())
    return True


@pytest.mark.parametrize("text", [
    "", " ", "\n\n", "あ", "。。。", "ゐたりけるかな、ゑひもせす。言ふべからず", "𠮷野家のｗｗｗ草",
    "hello world", "😀🙏👍", ":smile: :+1:", "ﾊﾝｶｸｶﾀｶﾅ", "1234567890", "\x00\x01\ufffd",
    ",,,\"a,b\"", "あ" * 30000, "表" * 5000, "lone\ud800surrogate", "\r\n\t改行\r\n",
])
def test_any_text_gives_finite_json_features(text):
    f = extract(text)
    assert set(COUNT_FAMILIES) <= set(f)
    assert _finite(f["stats"])
    json.dumps(f, ensure_ascii=False)  # serialisable, so calibration can cache it
    assert f["stats"]["n_chars"] == len(text)


@pytest.mark.parametrize("value", [None, 123, 4.5, ["a"], {"text": "x"}, b"bytes"])
def test_non_strings_are_treated_as_empty(value):
    f = extract(value)
    assert f["stats"]["n_chars"] == 0 and f["char"] == {}


def test_sentence_endings_use_lemma_and_conjugation_type_not_surface():
    a = extract("明日やるでござる。")["ending"]
    b = extract("明日やるでござった。")["ending"]
    # different surfaces, same lemma of the sentence-final verb
    assert "1:御座る/動詞" in a or any(k.startswith("1:御座る") for k in a)
    assert any(k.startswith("1:た/") for k in b)  # past auxiliary, by lemma
    assert any(k.startswith("c:") for k in a)
    desu = extract("それは良いです。")["ending"]
    assert any(k.startswith("c:助動詞-デス") for k in desu)


def test_comma_family_counts_the_character_before_each_touten():
    f = extract("しかし、それは、猫だ。")
    assert f["comma"] == {"し": 1, "は": 1}


def test_function_words_punctuation_and_laughter():
    f = extract("それはやばいｗｗ 草、まじで！？ :pray: 😀")
    assert any(k.endswith("/助詞") for k in f["func"])
    assert f["punct"]["laugh:w"] == 1
    assert f["punct"]["emoji:pray"] == 1
    assert f["punct"]["emoji"] == 1
    assert f["punct"]["！"] == 1
    assert f["chartype"]["hiragana"] > 0


def test_char_ngrams_and_pos_ngrams():
    f = extract("猫だ。")
    assert f["char"]["猫"] == 1 and f["char"]["猫だ"] == 1 and f["char"]["猫だ。"] == 1
    assert any(k.startswith("BOS ") for k in f["pos"])
    assert any(len(k.split()) == 3 for k in f["pos"])


def test_repetition_stats_separate_loops_from_prose():
    loop = extract("ござるござるござるござるござるござるござるござる")["stats"]
    prose = extract("今日は会議があるので、資料を準備してから参加します。")["stats"]
    assert loop["dup1"] > 0.9 and loop["dup3"] > 0.8
    assert prose["dup3"] == 0.0


def test_length_stats_and_japanese_ratio():
    st = extract("今日は晴れ。明日は雨！")["stats"]
    assert st["n_sentences"] == 2 and st["n_chars"] == 11
    assert extract("This is English.")["stats"]["jp_ratio"] == 0.0
    assert extract("これは日本語")["stats"]["jp_ratio"] == 1.0


def test_one_shared_tagger():
    assert tagger() is tagger()
