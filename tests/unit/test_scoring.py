"""Answer scoring for the Evaluate feature, checked against values worked out by hand (not the libraries re-run)."""

from __future__ import annotations

import math

import pytest

from lora_studio import scoring
from lora_studio.scoring import (
    METRIC_KEYS,
    PERCENT_KEYS,
    PRIMARY_ORDER,
    UnicodeTokenizer,
    applicable_metrics,
    references_are_json,
    row_verdict,
    score_row,
    summarise,
)

ALL = list(METRIC_KEYS)
TEXT = [m for m in METRIC_KEYS if m not in ("json_valid", "json_equal")]


def one(metric: str, answer: str, reference: str) -> float:
    return score_row(answer, reference, [metric])[metric]


def f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r)


def test_the_published_names():
    assert METRIC_KEYS == (
        "exact_match",
        "exact_match_loose",
        "contains",
        "rougeL",
        "chrf",
        "bleu",
        "json_valid",
        "json_equal",
    )
    assert set(PERCENT_KEYS) == {"chrf", "bleu"}
    assert PRIMARY_ORDER == ("json_equal", "exact_match_loose", "chrf")


# exact match, loose match, contains


def test_exact_match_ignores_only_surrounding_whitespace():
    assert one("exact_match", "Paris ", "Paris") == 1.0
    assert one("exact_match", "Paris ", "paris") == 0.0
    assert one("exact_match", "New  York", "New York") == 0.0


def test_loose_match_folds_case_width_and_whitespace():
    assert one("exact_match_loose", "Paris ", "paris") == 1.0
    assert one("exact_match_loose", "\uff30\uff41\uff52\uff49\uff53", "paris") == 1.0  # full-width "Paris", NFKC
    assert one("exact_match_loose", "New\u3000 York\n", "new york") == 1.0  # ideographic space in a run
    assert one("exact_match_loose", "STRASSE", "straße") == 1.0  # casefold, not lower
    assert one("exact_match_loose", "Paris.", "paris") == 0.0
    assert one("exact_match_loose", "NewYork", "new york") == 0.0


def test_contains_looks_for_the_loose_reference_inside_the_answer():
    assert one("contains", "The capital of France is PARIS.", "paris") == 1.0
    assert one("contains", "\uff34\uff48\uff45 answer:  new\nyork", "New York") == 1.0
    assert one("contains", "Par", "Paris") == 0.0
    assert one("contains", "anything", "") == 0.0
    assert one("contains", "anything", "  \n") == 0.0


# ROUGE-L


def test_rouge_l_on_english():
    # LCS "the cat on the mat" = 5 of 6 tokens on both sides.
    assert one("rougeL", "the cat sat on the mat", "the cat is on the mat") == pytest.approx(5 / 6)
    assert one("rougeL", "The CAT, sat!", "the cat sat") == pytest.approx(1.0)  # lowercased, punctuation dropped


def test_rouge_l_on_japanese_counts_each_character():
    # 東 京 は 大 き い vs 東 京 は 広 い: LCS 東京はい = 4; P = 4/6 (answer), R = 4/5 (reference).
    assert one("rougeL", "東京は大きい", "東京は広い") == pytest.approx(f1(4 / 6, 4 / 5))
    assert f1(4 / 6, 4 / 5) == pytest.approx(8 / 11)


def test_rouge_l_keeps_accented_words_whole():
    # café déjà vu vs café deja vu: LCS café vu = 2 of 3 on both sides (rouge_score's default tokenizer gives 3/4).
    assert one("rougeL", "Café déjà vu", "café deja vu") == pytest.approx(2 / 3)


def test_the_tokenizer_splits_cjk_and_keeps_other_words():
    tokens = UnicodeTokenizer().tokenize("東京は Café déjà_vu 서울 ｶﾀｶﾅ 42, ok")
    assert tokens == ["東", "京", "は", "café", "déjà_vu", "서", "울", "カ", "タ", "カ", "ナ", "42", "ok"]


def test_the_rouge_scorer_is_built_once():
    assert scoring._rouge() is scoring._rouge()


# chrF and BLEU, sentence level


def test_chrf_of_identical_text_is_100_and_of_disjoint_text_0():
    assert one("chrf", "the cat sat on the mat", "the cat sat on the mat") == pytest.approx(100.0)
    assert one("chrf", "xyz", "abc") == 0.0


def test_chrf_by_hand():
    # hyp "ab", ref "abc": 1-grams 2/2 matched (recall 2/3), 2-grams 1/1 (recall 1/2), no higher orders in the
    # hypothesis. Mean P = 1, mean R = 7/12; F-beta with beta 2 = 5PR / (4P + R) = 7/11.
    assert one("chrf", "ab", "abc") == pytest.approx(100 * 7 / 11)


def test_bleu_of_identical_text_is_100():
    assert one("bleu", "the cat sat on the mat", "the cat sat on the mat") == pytest.approx(100.0)
    assert one("bleu", "xyz", "abc") == 0.0


def test_bleu_by_hand():
    # n-gram precisions 5/6, 3/5, 1/4 and 0/3, which exp smoothing makes 1/(2*3); no brevity penalty.
    assert one("bleu", "the cat sat on the mat", "the cat is on the mat") == pytest.approx(100 * (1 / 48) ** 0.25)


def test_bleu_splits_japanese_into_characters():
    # hyp 東京は広い (5 chars), ref 東京は大きい (6): precisions 4/5, 2/4, 1/3, then 0/2 smoothed to 1/(2*2);
    # brevity penalty exp(1 - 6/5). With "13a" both would be one token each and score 0.
    expected = 100 * math.exp(1 - 6 / 5) * (4 / 5 * 2 / 4 * 1 / 3 * 1 / 4) ** 0.25
    assert one("bleu", "東京は広い", "東京は大きい") == pytest.approx(expected)


# JSON


def test_json_equal_ignores_key_order_and_whitespace():
    row = score_row('{"a": 1, "b": [1,2]}', '{"b":[1,2],"a":1}', ["json_valid", "json_equal"])
    assert row == {"json_valid": 1.0, "json_equal": 1.0}


@pytest.mark.parametrize(
    "answer",
    ['```json\n{"a": 1}\n```', '```\n{"a": 1}\n```', '  ```JSON\n{"a": 1}```  ', '```json {"a": 1} ```'],
)
def test_a_fenced_json_answer_is_accepted(answer):
    assert score_row(answer, '{"a": 1}', ["json_valid", "json_equal"]) == {"json_valid": 1.0, "json_equal": 1.0}


def test_invalid_or_different_json():
    assert score_row('{"a": 1', '{"a": 1}', ["json_valid", "json_equal"]) == {"json_valid": 0.0, "json_equal": 0.0}
    assert score_row('Sure! {"a": 1}', '{"a": 1}', ["json_valid"]) == {"json_valid": 0.0}
    assert score_row('{"a": 2}', '{"a": 1}', ["json_valid", "json_equal"]) == {"json_valid": 1.0, "json_equal": 0.0}
    assert one("json_equal", '{"a": 1, "b": 2}', '{"a": 1}') == 0.0
    assert one("json_equal", "[2, 1]", "[1, 2]") == 0.0  # list order matters
    assert one("json_equal", "[true]", "[1]") == 0.0  # Python's True == 1 must not leak in
    assert one("json_equal", '{"a": 1.0}', '{"a": 1}') == 1.0  # the same JSON number
    assert one("json_equal", '{"a": 1}', "not json") == 0.0  # an unparsable reference matches nothing


def test_which_references_are_json():
    assert references_are_json(['{"a": 1}', " [1, 2] \n"])
    assert references_are_json(['{"a": 1}', "", "  "])  # empty references are skipped
    assert not references_are_json(["1", "2.5"])  # bare numbers are not JSON references
    assert not references_are_json(['"a string"', "null"])
    assert not references_are_json(['{"a": 1}', "Paris"])
    assert not references_are_json([])
    assert not references_are_json(["", " "])


def test_applicable_metrics():
    assert applicable_metrics(["Paris", "Rome"]) == TEXT
    assert applicable_metrics(["42"]) == TEXT
    assert applicable_metrics(['{"a": 1}', "[]"]) == ALL


# empty and odd input


@pytest.mark.parametrize("answer", ["", "   \n\t"])
def test_an_empty_answer_scores_zero_everywhere(answer):
    assert score_row(answer, "", ALL) == dict.fromkeys(ALL, 0.0)
    assert score_row(answer, '{"a": 1}', ALL) == dict.fromkeys(ALL, 0.0)


def test_an_empty_reference_does_not_raise():
    row = score_row("an answer", "", ALL)
    assert set(row) == set(ALL) and all(v == 0.0 for v in row.values())


def test_punctuation_only_text_has_no_rouge_tokens():
    assert one("rougeL", "!!!", "???") == 0.0


def test_only_the_requested_metrics_and_unknown_ones_refused():
    assert list(score_row("a", "a", ["chrf", "exact_match"])) == ["chrf", "exact_match"]
    with pytest.raises(ValueError, match="rouge1"):
        score_row("a", "a", ["rouge1"])
    with pytest.raises(ValueError, match="rouge1"):
        summarise(["a"], ["a"], ["rouge1"])


# summarise


def test_summarise_averages_the_row_metrics():
    answers = ["Paris", "the city is rome", "Berlin"]
    references = ["paris", "Rome", "Madrid"]
    summary = summarise(answers, references, ["exact_match", "exact_match_loose", "contains", "rougeL"])
    assert summary == pytest.approx(
        {"exact_match": 0.0, "exact_match_loose": 1 / 3, "contains": 2 / 3, "rougeL": (1 + f1(1 / 4, 1)) / 3}
    )


def test_summarise_json_metrics_are_means():
    summary = summarise(['{"a": 1}', '```json\n{"a": 3}\n```', "{"], ['{"a": 1}', '{"a": 2}', "[1]"], ALL[-2:])
    assert summary == pytest.approx({"json_valid": 2 / 3, "json_equal": 1 / 3})


def test_corpus_chrf_and_bleu_of_identical_and_disjoint_text():
    same = ["the cat sat on the mat", "a dog ran in the park"]
    assert summarise(same, same, ["chrf", "bleu"]) == pytest.approx({"chrf": 100.0, "bleu": 100.0})
    assert summarise(["xyz", "qqq"], ["abc", "def"], ["chrf", "bleu"]) == {"chrf": 0.0, "bleu": 0.0}


def test_corpus_bleu_sums_statistics_over_rows_instead_of_averaging_rows():
    # Row 1 exact (8 tokens), row 2 disjoint (4): precisions 8/12, 7/10, 6/8, 5/6 over the corpus. The mean of
    # the two sentence scores would be 50.
    answers = ["a b c d e f g h", "w x y z"]
    references = ["a b c d e f g h", "p q r s"]
    expected = 100 * (8 / 12 * 7 / 10 * 6 / 8 * 5 / 6) ** 0.25
    assert summarise(answers, references, ["bleu"])["bleu"] == pytest.approx(expected)


def test_corpus_chrf_sums_statistics_over_rows_instead_of_averaging_rows():
    # Rows ("ab", "ab") and ("ab", "abc"): 1-grams 4 matched of 4 (answers) and 5 (references), 2-grams 2 of 2
    # and 3. Mean P = 1, mean R = (4/5 + 2/3) / 2 = 11/15; 5PR / (4P + R) = 55/71. The mean of the rows is 81.8.
    assert summarise(["ab", "ab"], ["ab", "abc"], ["chrf"])["chrf"] == pytest.approx(100 * 55 / 71)


def test_corpus_bleu_of_short_exact_answers_is_100():
    # No answer has 4 tokens: plain corpus BLEU would floor the missing orders and report ~0.
    assert summarise(["Paris", "Rome"], ["Paris", "Rome"], ["bleu"]) == pytest.approx({"bleu": 100.0})


def test_corpus_bleu_uses_characters_when_any_reference_is_cjk():
    # Characters of both rows: 1-grams 4+5 of 10, 2-grams 2+4 of 8, 3-grams 1+3 of 6, 4-grams 0+2 of 4;
    # 10 answer characters for 11 reference ones (spaces are not tokens).
    expected = 100 * math.exp(1 - 11 / 10) * (9 / 10 * 6 / 8 * 4 / 6 * 2 / 4) ** 0.25
    summary = summarise(["東京は広い", "Paris"], ["東京は大きい", "Paris"], ["bleu"])
    assert summary["bleu"] == pytest.approx(expected)


def test_corpus_scores_order_a_closer_model_higher():
    references = ["the quick brown fox jumps over the lazy dog", "she sells sea shells by the sea shore"]
    close = ["the quick brown fox jumped over the lazy dog", "she sells sea shells on the sea shore"]
    far = ["a slow red fox sleeps", "he buys shells"]
    good, bad = summarise(close, references, ["chrf", "bleu"]), summarise(far, references, ["chrf", "bleu"])
    assert good["chrf"] > bad["chrf"] and good["bleu"] > bad["bleu"]


def test_summarise_with_empty_answers_does_not_raise():
    summary = summarise(["", " "], ["a b c d", '{"a": 1}'], ALL)
    assert summary == dict.fromkeys(ALL, 0.0)


def test_summarise_of_no_rows_and_of_mismatched_rows():
    assert summarise([], [], ALL) == {}
    with pytest.raises(ValueError, match="2 answers for 1 references"):
        summarise(["a", "b"], ["a"], ["exact_match"])


# row_verdict


def test_row_verdict_json_equal_decides_first():
    base = {"json_equal": 0.0, "exact_match_loose": 1.0, "chrf": 100.0}
    other = {"json_equal": 1.0, "exact_match_loose": 0.0, "chrf": 10.0}
    assert row_verdict(base, other) == "better"
    assert row_verdict(other, base) == "worse"


def test_row_verdict_loose_match_before_chrf():
    assert row_verdict({"exact_match_loose": 0.0, "chrf": 90.0}, {"exact_match_loose": 1.0, "chrf": 20.0}) == "better"
    tie = {"json_equal": 1.0, "exact_match_loose": 0.0}
    assert row_verdict({**tie, "chrf": 40.0}, {**tie, "chrf": 55.0}) == "better"
    assert row_verdict({**tie, "chrf": 55.0}, {**tie, "chrf": 40.0}) == "worse"


def test_row_verdict_other_metrics_do_not_count_and_ties_are_same():
    base = {"exact_match_loose": 1.0, "chrf": 50.0, "rougeL": 0.2, "bleu": 10.0}
    assert row_verdict(base, {**base, "rougeL": 0.9, "bleu": 90.0}) == "same"
    assert row_verdict(base, {**base, "chrf": 50.0 + 1e-12}) == "same"
    assert row_verdict({"chrf": 1.0}, {"chrf": 1.0 + 1e-6}) == "better"  # missing keys are skipped
