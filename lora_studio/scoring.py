"""Scores model answers against reference answers, for the Evaluate feature: per-row scores and per-model summaries.

Exact match, contains and the JSON checks are written here; ROUGE-L comes from `rouge-score` and chrF/BLEU from
`sacrebleu`, both maintained, pip-installed and fully offline. HF `evaluate` is not used: it downloads each metric's
script from the Hub at run time, which fails on an offline machine. A core module: no torch, transformers or gradio.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from typing import Any

from rouge_score import rouge_scorer  # type: ignore[import-untyped]
from sacrebleu.metrics import BLEU, CHRF

METRIC_KEYS: tuple[str, ...] = (
    "exact_match",
    "exact_match_loose",
    "contains",
    "rougeL",
    "chrf",
    "bleu",
    "json_valid",
    "json_equal",
)
PERCENT_KEYS: frozenset[str] = frozenset({"chrf", "bleu"})  # 0..100; every other metric is 0..1
JSON_KEYS: tuple[str, ...] = ("json_valid", "json_equal")
# How row_verdict compares an adapter's row with the base model's: the first of these that differs decides.
PRIMARY_ORDER: tuple[str, ...] = ("json_equal", "exact_match_loose", "chrf")
_TIE = 1e-9

# CJK ideographs (with extension A, compatibility and the supplementary planes), the iteration marks 々〆〇,
# hiragana, katakana (also half-width and phonetic extensions) and hangul (jamo, compatibility jamo, syllables).
_CJK_CLASS = (
    "\u1100-\u11ff\u3005-\u3007\u3040-\u309f\u30a0-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003ffff"
)
_CJK = re.compile(f"[{_CJK_CLASS}]")
# One CJK character alone, or a run of other word characters.
_TOKEN = re.compile(f"[{_CJK_CLASS}]|(?:(?![{_CJK_CLASS}])\\w)+")
_FENCE = re.compile(r"^```[A-Za-z]*[ \t]*\n?(.*?)\n?[ \t]*```$", re.DOTALL)
_INVALID = object()  # "did not parse": None is a valid JSON value (null)


class UnicodeTokenizer:
    """ROUGE tokens for any script (rouge_score's default tokenizer drops every non-ASCII character, so Japanese
    or accented text scores 0): NFKC, lowercase, runs of word characters, each CJK character its own token."""

    def tokenize(self, text: str) -> list[str]:
        return _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())


@functools.cache
def _rouge() -> Any:
    return rouge_scorer.RougeScorer(["rougeL"], tokenizer=UnicodeTokenizer())


def _bleu_tokenizer(references: list[str]) -> str:
    """sacrebleu's "13a" does not split Japanese/Chinese (no spaces between words): use characters there."""
    return "char" if any(_CJK.search(r) for r in references) else "13a"


def _loose(text: str) -> str:
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(folded.split())


def _parse_json_strict(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:  # json.JSONDecodeError is a ValueError
        return _INVALID


def _parse_json(text: str) -> Any:
    """The JSON value of an answer (stripped; also inside a ```json or ``` fence), or _INVALID."""
    text = text.strip()
    parsed = _parse_json_strict(text)
    fenced = _FENCE.match(text)
    if parsed is _INVALID and fenced:
        parsed = _parse_json_strict(fenced.group(1))
    return parsed


def _same_json(a: Any, b: Any) -> bool:
    """Equality of parsed JSON, where true/false differ from 1/0 (Python's True == 1 would call them equal)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return False
    return bool(a == b)


def references_are_json(references: list[str]) -> bool:
    """True when every non-empty reference is a JSON object or array (a bare number or string does not count)."""
    texts = [r.strip() for r in references if r.strip()]
    return bool(texts) and all(isinstance(_parse_json_strict(t), (dict, list)) for t in texts)


def applicable_metrics(references: list[str]) -> list[str]:
    """The metrics that make sense for these references: the JSON ones only when the references are JSON."""
    is_json = references_are_json(references)
    return [m for m in METRIC_KEYS if is_json or m not in JSON_KEYS]


def _check(metrics: list[str]) -> None:
    unknown = [m for m in metrics if m not in METRIC_KEYS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {list(METRIC_KEYS)}")


def _score(metric: str, answer: str, reference: str) -> float:
    if metric == "exact_match":
        return float(answer.strip() == reference.strip())
    if metric == "exact_match_loose":
        return float(_loose(answer) == _loose(reference))
    if metric == "contains":
        needle = _loose(reference)
        return float(bool(needle) and needle in _loose(answer))
    if metric == "rougeL":
        return float(_rouge().score(reference, answer)["rougeL"].fmeasure)  # rouge_score takes (target, prediction)
    if metric == "chrf":
        return float(CHRF().sentence_score(answer, [reference]).score)
    if metric == "bleu":
        bleu = BLEU(tokenize=_bleu_tokenizer([reference]), effective_order=True)
        return float(bleu.sentence_score(answer, [reference]).score)
    parsed = _parse_json(answer)
    if metric == "json_valid":
        return float(parsed is not _INVALID)
    expected = _parse_json_strict(reference.strip())
    return float(parsed is not _INVALID and expected is not _INVALID and _same_json(parsed, expected))


def score_row(answer: str, reference: str, metrics: list[str]) -> dict[str, float]:
    """This row's score for each metric in `metrics` (0..1, chrf and bleu 0..100). An empty answer scores 0."""
    _check(metrics)
    if not answer.strip():
        return dict.fromkeys(metrics, 0.0)
    return {m: _score(m, answer, reference) for m in metrics}


def summarise(answers: list[str], references: list[str], metrics: list[str]) -> dict[str, float]:
    """One model's scores over all rows: the mean row score, except chrf and bleu, which are sacrebleu's corpus
    scores (statistics summed over the rows, the standard way these are reported). No rows: {}."""
    _check(metrics)
    if len(answers) != len(references):
        raise ValueError(f"{len(answers)} answers for {len(references)} references")
    if not answers:
        return {}
    averaged = [m for m in metrics if m not in PERCENT_KEYS]
    rows = [score_row(a, r, averaged) for a, r in zip(answers, references, strict=True)]
    summary: dict[str, float] = {}
    for m in metrics:
        if m == "chrf":
            summary[m] = float(CHRF().corpus_score(answers, [references]).score)
        elif m == "bleu":
            # effective_order: orders no answer is long enough for are left out instead of zeroing the score (else
            # short answers that are all exactly right score 0). Once any answer has 4+ tokens it changes nothing.
            bleu = BLEU(tokenize=_bleu_tokenizer(references), effective_order=True)
            summary[m] = float(bleu.corpus_score(answers, [references]).score)
        else:
            summary[m] = sum(row[m] for row in rows) / len(rows)
    return summary


def row_verdict(base: dict[str, float], other: dict[str, float]) -> str:
    """Whether `other` (an adapter's scores on one row) is "better", "worse" or "same" than `base` (the base
    model's), decided by the first metric of PRIMARY_ORDER (present in both) whose scores differ."""
    for key in PRIMARY_ORDER:
        if key in base and key in other and abs(other[key] - base[key]) > _TIE:
            return "better" if other[key] > base[key] else "worse"
    return "same"
