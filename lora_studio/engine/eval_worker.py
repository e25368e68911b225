"""Subprocess entry for one evaluation:

    python -m lora_studio.engine.eval_worker --spec runs/<id>/eval/.<eval_id>/spec.json

Loads the base once, then for each model (the base with adapters switched off, each adapter in turn) writes
greedy answers to every row in batches (left padding, rows sorted by length so a batch pads little) and
measures the loss of the reference answers. Scores come from `eval_report.build_results`; the results are
written into the hidden spec folder, which is then renamed to eval/<eval_id>: a cancelled evaluation leaves
nothing half-written. Progress (rows done, ETA) goes to eval/status.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import shutil
import signal
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import torch

from lora_studio.config import ModelSettings, RunConfig
from lora_studio.errors import StudioError
from lora_studio.eval_report import build_results, write_results
from lora_studio.evaluation import MAX_NEW_TOKENS, SPEC_FILE, EvalRow, read_eval_status, update_eval_status
from lora_studio.generation_config import GenerationSettings
from lora_studio.messages import english, remember_how_to_say_again
from lora_studio.processes import process_start_time
from lora_studio.runs import RunPaths

log = logging.getLogger("lora_studio.evaluate")
LOSS_BATCH = 4  # teacher-forced passes hold logits for the whole sequence: smaller batches than generation


def render_prompt(tokenizer, row: EvalRow, system_prompt: str = "") -> str:
    """The prompt as training showed it: the chat template with a generation prompt, or the raw prompt."""
    if not tokenizer.chat_template:
        if row.raw_prompt:
            return row.raw_prompt
        return "\n\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in row.messages) + "\n\nAssistant:"
    turns = list(row.messages)
    if system_prompt.strip() and not any(t["role"] == "system" for t in turns):
        turns = [{"role": "system", "content": system_prompt}, *turns]
    return tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)


def render_full(tokenizer, row: EvalRow, prompt: str, answer: str | None = None) -> str:
    """Prompt + reference (or another `answer`, e.g. the rejected one of a pair) as training saw the pair (the
    template's end-of-turn included)."""
    answer = row.reference if answer is None else answer
    if not tokenizer.chat_template:
        return prompt + answer + (tokenizer.eos_token or "")
    turns = [*row.messages, {"role": "assistant", "content": answer}]
    full = tokenizer.apply_chat_template(turns, tokenize=False)
    return full if full.startswith(prompt) else prompt + answer


def _batches(order: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(order), size):
        yield order[start : start + size]


@torch.inference_mode()
def generate_answers(
    model,
    tokenizer,
    prompts: list[str],
    settings: GenerationSettings,
    batch_size: int,
    on_batch: Callable[[int], None] | None = None,
) -> tuple[list[str], list[int]]:
    """(answer, tokens written) per prompt, generated `batch_size` at a time with left padding."""
    tokenizer.padding_side = "left"
    ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: len(ids[i]))  # similar lengths pad little
    answers, counts = [""] * len(prompts), [0] * len(prompts)
    kwargs = settings.generate_kwargs()
    stops = {tokenizer.eos_token_id, tokenizer.pad_token_id} - {None}
    for batch in _batches(order, batch_size):
        inputs = tokenizer.pad({"input_ids": [ids[i] for i in batch]}, return_tensors="pt").to(model.device)
        if settings.temperature > 0:
            torch.manual_seed(settings.seed)
        out = model.generate(**inputs, **kwargs, pad_token_id=tokenizer.pad_token_id)
        new = out[:, inputs["input_ids"].shape[1] :]
        for i, tokens in zip(batch, new.tolist(), strict=True):
            end = next((k for k, t in enumerate(tokens) if t in stops), len(tokens))
            answers[i] = tokenizer.decode(tokens[:end], skip_special_tokens=True)
            counts[i] = end
        if on_batch is not None:
            on_batch(len(batch))
    return answers, counts


@torch.inference_mode()
def reference_losses(model, tokenizer, prompts: list[str], fulls: list[str]) -> list[tuple[float, int]]:
    """(summed negative log-likelihood, tokens) of each reference given its prompt, teacher-forced."""
    tokenizer.padding_side = "right"
    results: list[tuple[float, int]] = []
    for start in range(0, len(prompts), LOSS_BATCH):
        chunk = range(start, min(start + LOSS_BATCH, len(prompts)))
        encoded = [tokenizer(fulls[i], add_special_tokens=False)["input_ids"] for i in chunk]
        prompt_lens = [len(tokenizer(prompts[i], add_special_tokens=False)["input_ids"]) for i in chunk]
        batch = tokenizer.pad({"input_ids": encoded}, return_tensors="pt").to(model.device)
        logits = model(**batch).logits.float()
        for j, (tokens, plen) in enumerate(zip(encoded, prompt_lens, strict=True)):
            n = len(tokens) - plen
            if n <= 0:
                results.append((math.nan, 0))
                continue
            target = torch.tensor(tokens[plen:], device=logits.device)
            nll = torch.nn.functional.cross_entropy(logits[j, plen - 1 : len(tokens) - 1], target, reduction="sum")
            results.append((float(nll), n))
    return results


@contextmanager
def _as_model(model, adapter_name: str) -> Iterator[None]:
    from peft import PeftModel

    if adapter_name:
        model.set_adapter(adapter_name)
        yield
    else:
        with model.disable_adapter() if isinstance(model, PeftModel) else nullcontext():
            yield


def _attach(model, models: list[dict]):
    """The base with every adapter attached under its own name (peft switches between them)."""
    from peft import PeftModel

    for k, entry in enumerate(m for m in models if m["adapter"]):
        name = f"a{k}"
        entry["peft_name"] = name
        if isinstance(model, PeftModel):
            model.load_adapter(entry["adapter"], adapter_name=name)
        else:
            model = PeftModel.from_pretrained(model, entry["adapter"], adapter_name=name)
    model.eval()
    return model


def run_evaluation(spec_path: str | Path) -> int:
    from lora_studio.engine.models import load_for_training

    spec_path = Path(spec_path)
    folder, root = spec_path.parent, spec_path.parent.parent
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    rows = [EvalRow(**r) for r in spec["rows"]]
    models = spec["models"]
    settings = GenerationSettings(**spec["generation"])
    total = len(rows) * len(models)
    update_eval_status(
        root,
        state="running",
        pid=os.getpid(),
        pid_start=process_start_time(os.getpid()),
        phase="loading the model",
        rows_total=total,
    )
    base_cfg = ModelSettings(**spec["base"])
    model, tokenizer, _device, _ = load_for_training(base_cfg)
    model = _attach(model, models)
    prompts = [render_prompt(tokenizer, r, settings.system_prompt) for r in rows]
    fulls = [render_full(tokenizer, r, p) for r, p in zip(rows, prompts, strict=True)]
    pairs = all(r.rejected for r in rows)  # pairs of answers: the rejected ones are scored too
    rejected_fulls = [render_full(tokenizer, r, p, r.rejected) for r, p in zip(rows, prompts, strict=True)]
    longest = max(len(tokenizer(r.reference, add_special_tokens=False)["input_ids"]) for r in rows)
    cap = min(int(settings.max_new_tokens), 2 * longest + 16)
    settings.max_new_tokens = cap
    outputs: dict[str, dict] = {}
    done, started = 0, time.time()

    def progress(n: int) -> None:
        nonlocal done
        done += n
        rate = done / max(time.time() - started, 1e-6)
        update_eval_status(root, rows_done=done, eta_s=round((total - done) / rate, 1) if rate else None)

    for entry in models:
        update_eval_status(root, phase=f"answering with {entry['label']}")
        with _as_model(model, entry.get("peft_name", "")):
            t0 = time.time()
            answers, counts = generate_answers(model, tokenizer, prompts, settings, int(spec["batch_size"]), progress)
            seconds = time.time() - t0
            losses = reference_losses(model, tokenizer, prompts, fulls)
            rejected = reference_losses(model, tokenizer, prompts, rejected_fulls) if pairs else None
        outputs[entry["label"]] = {"answers": answers, "answer_tokens": counts, "losses": losses, "seconds": seconds}
        if rejected is not None:
            outputs[entry["label"]]["rejected_losses"] = rejected
        log.info("%s: %d answers in %.1f s", entry["label"], len(rows), seconds)
    update_eval_status(root, phase="scoring")
    summary, row_records = build_results(spec, outputs, max_new_tokens=cap)
    final = write_results(folder, summary, row_records)
    update_eval_status(
        root, state="completed", phase="done", finished=time.time(), result=str(final), rows_done=total, eta_s=0
    )
    log.info("Evaluation saved to %s", final)
    return 0


AT_END_ROWS = 200  # the automatic evaluation after training scores at most this many held-out rows


def evaluate_held_out(paths: RunPaths, cfg: RunConfig) -> Path | None:
    """The automatic evaluation when training completes (training.evaluate_at_end): base vs the new adapter on
    the run's held-out rows, in this process after training freed its model. Never fails the run: a problem is
    logged and recorded in the run's eval/status.json. Returns the results folder, or None."""
    from lora_studio.adapters import run_adapter
    from lora_studio.evaluation import begin, eval_root, models_for, split_rows, write_spec

    root = eval_root(paths)
    try:
        rows = split_rows(paths, AT_END_ROWS)
        models = models_for(cfg.model.name_or_path, True, [run_adapter(paths)])
        base = dataclasses.asdict(cfg.model)  # loaded as it trained: 8-bit or 4-bit stays so
        folder = write_spec(root, base, models, rows, GenerationSettings.greedy(MAX_NEW_TOKENS))
        begin(folder)
    except StudioError as exc:
        log.warning("Not evaluating the held-out rows: %s", exc.one_line())
        return None
    log.info("Scoring the base and the adapter on %d held-out row(s)", len(rows.rows))
    code = _run_reported(folder / SPEC_FILE)
    status = read_eval_status(root)
    return Path(status.result) if code == 0 and status.result else None


def _run_reported(spec: Path) -> int:
    """run_evaluation, with a failure or a cancel recorded in eval/status.json (and the hidden folder removed)."""
    from lora_studio.engine.worker import classify

    folder, root = spec.parent, spec.parent.parent
    try:
        return run_evaluation(spec)
    except KeyboardInterrupt:
        shutil.rmtree(folder, ignore_errors=True)
        update_eval_status(
            root,
            state="cancelled",
            phase="cancelled",
            finished=time.time(),
            error=english("jobs.cancelled_by_user"),
            hint="",
        )
        return 130
    except Exception as exc:  # noqa: BLE001 - every failure is reported in words
        kind, message, hint = classify(exc)
        if kind == "internal":
            log.error("%s", traceback.format_exc())
        shutil.rmtree(folder, ignore_errors=True)
        update_eval_status(
            root, state="failed", phase="failed", finished=time.time(), error=message, error_kind=kind, hint=hint
        )
        log.error("Evaluation failed: %s — %s", message, hint)
        return 1


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # Cancel in the dashboard: the same path as Ctrl-C


def main(argv: list[str] | None = None) -> int:
    remember_how_to_say_again()  # the errors written into the status file can be said again on a page
    from lora_studio.engine.worker import configure_logging

    parser = argparse.ArgumentParser(prog="lora_studio.engine.eval_worker", description=__doc__)
    parser.add_argument("--spec", required=True, help="spec.json written by lora_studio.evaluation.write_spec")
    args = parser.parse_args(argv)
    configure_logging()
    signal.signal(signal.SIGTERM, _terminate)
    return _run_reported(Path(args.spec))


if __name__ == "__main__":
    from lora_studio.processes import exit_worker

    exit_worker(main())
