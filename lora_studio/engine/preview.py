"""What the model will see: each row tokenized exactly as TRL's SFTTrainer tokenizes it, with the
tokens that count toward the loss marked, plus token-length statistics for a whole file.

Needs only a tokenizer (no weights). Uses TRL's own tokenize helpers so the preview cannot drift
from training; tests compare the masks with a real SFTTrainer's labels.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from trl.data_utils import _tokenize, common_prefix_length

from lora_studio.dataset_rows import LoadedData
from lora_studio.engine.dataset_build import loss_settings, to_trl_rows
from lora_studio.engine.models import load_tokenizer, resolve_model_dir
from lora_studio.estimates import TokenStats
from lora_studio.modelref import parse_model_ref

LEARNED, CONTEXT, CUT = "learned", "context (not learned)", "cut off (past max length)"
STATS_ROW_CAP = 5000  # token statistics beyond this many rows use the first rows only (and say so)


@dataclass
class TokenView:
    segments: list[tuple[str, str]]  # consecutive tokens grouped by LEARNED / CONTEXT / CUT
    n_tokens: int
    n_learned: int
    truncated: bool
    dropped: bool  # nothing left to learn after truncation: TRL drops such rows


@functools.lru_cache(maxsize=4)
def tokenizer_for(model_name: str):
    """Tokenizer of a model reference (the embedded model is prepared on first use)."""
    return load_tokenizer(resolve_model_dir(parse_model_ref(model_name)))


class Previewer:
    """Tokenizes rows of one LoadedData the way training will."""

    def __init__(self, data: LoadedData, model_name: str, assistant_only: bool = True) -> None:
        self.tokenizer = tokenizer_for(model_name)
        self.assistant_only, self.chat_template = loss_settings(self.tokenizer, data.format, assistant_only)
        self.rows = to_trl_rows(data, self.tokenizer)
        self.row_numbers = [r.get("_row") for r in data.rows]

    def ids_and_mask(self, row: dict) -> tuple[list[int], list[int]]:
        """input_ids and the loss mask (1 = learned) before truncation, as SFTTrainer builds them."""
        tok, template = self.tokenizer, self.chat_template
        if "prompt" in row:
            if isinstance(row["prompt"], list):  # conversational prompt/completion
                prompt_ids = _tokenize(tok, row["prompt"], add_generation_prompt=True, chat_template=template)
                full_ids = _tokenize(tok, row["prompt"] + row["completion"], chat_template=template)
            else:
                completion = row["completion"]
                if not completion.endswith(tok.eos_token):
                    completion += tok.eos_token
                prompt_ids = _tokenize(tok, row["prompt"])
                full_ids = _tokenize(tok, row["prompt"] + completion)
            prompt_len = common_prefix_length(prompt_ids["input_ids"], full_ids["input_ids"])
            ids = full_ids["input_ids"]
            return ids, [0] * prompt_len + [1] * (len(ids) - prompt_len)
        if "messages" in row:
            out = _tokenize(
                tok, row["messages"], return_assistant_tokens_mask=self.assistant_only, chat_template=template
            )
            ids = out["input_ids"]
            return ids, list(out["assistant_masks"]) if self.assistant_only else [1] * len(ids)
        text = row["text"] if row["text"].endswith(tok.eos_token) else row["text"] + tok.eos_token
        ids = _tokenize(tok, text)["input_ids"]
        return ids, [1] * len(ids)

    def pair_ids(self, row: dict) -> tuple[list[int], list[int], list[int]]:
        """(prompt, chosen answer, rejected answer) token ids of a pair, split as TRL's DPOTrainer splits them."""
        tok = self.tokenizer
        if isinstance(row["prompt"], list):
            prompt = _tokenize(tok, row["prompt"], add_generation_prompt=True)["input_ids"]
            chosen = _tokenize(tok, row["prompt"] + row["chosen"])["input_ids"]
            rejected = _tokenize(tok, row["prompt"] + row["rejected"])["input_ids"]
        else:
            eos = tok.eos_token or ""
            prompt = _tokenize(tok, row["prompt"])["input_ids"]
            chosen = _tokenize(tok, row["prompt"] + _ending(row["chosen"], eos))["input_ids"]
            rejected = _tokenize(tok, row["prompt"] + _ending(row["rejected"], eos))["input_ids"]
        shared = min(common_prefix_length(prompt, chosen), common_prefix_length(prompt, rejected))
        return prompt[:shared], chosen[shared:], rejected[shared:]

    def pair_lengths(self, row: dict, max_prompt_length: int = 0) -> tuple[int, int, int]:
        """(prompt tokens as trained, prompt+chosen, prompt+rejected): a max prompt length keeps the prompt's end."""
        prompt, chosen, rejected = self.pair_ids(row)
        kept = min(len(prompt), max_prompt_length) if max_prompt_length > 0 else len(prompt)
        return kept, kept + len(chosen), kept + len(rejected)

    def _segments(self, ids: list[int], labels: list[str]) -> list[tuple[str, str]]:
        segments: list[tuple[str, str]] = []
        start = 0
        for i in range(1, len(ids) + 1):
            if i == len(ids) or labels[i] != labels[start]:
                segments.append((self.tokenizer.decode(ids[start:i]), labels[start]))
                start = i
        return segments

    def view(self, index: int, max_length: int) -> TokenView:
        ids, mask = self.ids_and_mask(self.rows[index])
        labels = [CUT if i >= max_length else (LEARNED if m else CONTEXT) for i, m in enumerate(mask)]
        learned = sum(mask[:max_length])
        return TokenView(self._segments(ids, labels), len(ids), learned, len(ids) > max_length, learned == 0)

    def pair_view(self, index: int, max_length: int, max_prompt_length: int = 0) -> tuple[TokenView, TokenView]:
        """The prompt with the chosen answer, and the rejected answer alone (its segments leave out the same
        prompt; its counts include it), marked as DPO and ORPO train them: both answers count, the prompt is
        context; a prompt past the max prompt length loses its start, and what passes max length is cut."""
        prompt, chosen, rejected = self.pair_ids(self.rows[index])
        cut_start = max(0, len(prompt) - max_prompt_length) if max_prompt_length > 0 else 0
        views = []
        for n, answer in enumerate((chosen, rejected)):
            ids = prompt + answer
            labels = [CUT] * cut_start + [CONTEXT] * (len(prompt) - cut_start) + [LEARNED] * len(answer)
            kept = 0
            for i, label in enumerate(labels):
                if label != CUT:
                    kept += 1
                    if kept > max_length:
                        labels[i] = CUT
            learned = labels.count(LEARNED)
            shown = 0 if n == 0 else len(prompt)  # the rejected answer is shown without the prompt again
            views.append(
                TokenView(
                    self._segments(ids[shown:], labels[shown:]),
                    len(ids) - cut_start,
                    learned,
                    kept > max_length,
                    learned == 0,
                )
            )
        return views[0], views[1]

    def stats(self, max_length: int, max_prompt_length: int = 0) -> TokenStats:
        if self.rows and "chosen" in self.rows[0]:
            return self._pair_stats(max_length, max_prompt_length)
        measured = self.rows[:STATS_ROW_CAP]
        lengths: list[int] = []
        reasons: list[str] = []
        truncated, dropped, learned_total = 0, 0, 0
        for number, row in zip(self.row_numbers, measured, strict=False):
            ids, mask = self.ids_and_mask(row)
            lengths.append(len(ids))
            truncated += len(ids) > max_length
            learned = sum(mask[:max_length])
            learned_total += learned
            if learned == 0:
                dropped += 1
                if len(reasons) < 20:
                    why = "everything it would learn lies past max length" if sum(mask) else "nothing to learn"
                    reasons.append(f"row {number}: {why}")
        return TokenStats(
            lengths, max_length, truncated, dropped, learned_total, len(measured), len(self.rows), reasons
        )

    def _pair_stats(self, max_length: int, max_prompt_length: int) -> TokenStats:
        """Lengths of prompt+chosen (lengths) and prompt+rejected (rejected_lengths). A row whose prompt alone
        fills max length has no answer left: DPOTrainer drops it, so it counts as dropped."""
        measured = self.rows[:STATS_ROW_CAP]
        chosen_lengths: list[int] = []
        rejected_lengths: list[int] = []
        reasons: list[str] = []
        truncated, dropped, learned_total = 0, 0, 0
        for number, row in zip(self.row_numbers, measured, strict=False):
            prompt, chosen, rejected = self.pair_lengths(row, max_prompt_length)
            chosen_lengths.append(chosen)
            rejected_lengths.append(rejected)
            truncated += max(chosen, rejected) > max_length
            learned_total += max(0, min(chosen, max_length) - prompt) + max(0, min(rejected, max_length) - prompt)
            if prompt >= max_length:
                dropped += 1
                if len(reasons) < 20:
                    reasons.append(f"row {number}: the prompt alone fills max length, so both answers are cut off")
        return TokenStats(
            chosen_lengths,
            max_length,
            truncated,
            dropped,
            learned_total,
            len(measured),
            len(self.rows),
            reasons,
            rejected_lengths,
        )


def _ending(answer: str, eos: str) -> str:
    return answer if not eos or answer.endswith(eos) else answer + eos
