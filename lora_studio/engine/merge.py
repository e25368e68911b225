"""Merge a run's LoRA adapter into a freshly loaded float32 base, prove the result, save it.

The base is always loaded anew in float32, never in the 8-bit or half precision it trained in: the
adapter's update is added to full-precision weights. OLoRA/PiSSA adapters were converted by peft at
save time into plain LoRA on the untouched base, so they merge like any other.

Verification: a few fixed prompts (short chat prompts in the model's chat template, plus one from the
run's data) go through (a) the unmerged PeftModel and (b) the merged model loaded back from disk.
The logits over prompt + (a)'s greedy continuation must agree within 1e-4, and the greedy generations
are compared. A bfloat16/float16 export is verified as float32 first, then cast; the cast's own
difference is reported against a tolerance that fits the dtype.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from lora_studio.config import ModelSettings, RunConfig
from lora_studio.dataset_rows import load_dataset_file
from lora_studio.engine.models import load_model, load_tokenizer, resolve_model_dir
from lora_studio.errors import StudioError
from lora_studio.exports import EXPORT_DTYPES
from lora_studio.messages import text
from lora_studio.modelcard import model_card
from lora_studio.modelref import parse_model_ref, public_base
from lora_studio.runs import RunPaths
from lora_studio.sample_answers import row_prompt

log = logging.getLogger(__name__)

CHAT_PROMPTS = ("What is LoRA, in one sentence?", "Write a short poem about the sea.", "What is 12 plus 30?")
MAX_NEW_TOKENS = 24
MAX_PROMPT_TOKENS = 256
FLOAT32_TOLERANCE = 1e-4
# Both sides of every comparison compute in float64: float32 arithmetic alone (a different summation
# order in W x + B A x than in (W + B A) x) moves SmolLM2's logits by nearly 1e-4. In float64 what
# remains is what the export itself changed: the rounding of the stored weights.
VERIFY_DTYPE = torch.float64
# The cast rounds every weight to 8 (bfloat16) or 11 (float16) significant bits: relative errors of about
# 2^-9 and 2^-12 per weight, which add up through the layers. The tolerance is relative to the largest
# reference logit; the saved weights are run in float64, so this measures the export, not a runtime's math.
CAST_TOLERANCE = {"bfloat16": 0.05, "float16": 0.01}
Phase = Callable[[str, float], None]


class VerificationError(StudioError):
    """The merged model does not reproduce base + adapter; `report` says by how much."""

    def __init__(self, message: str, hint: str, report: dict) -> None:
        super().__init__(message, hint, kind="internal")
        self.report = report


@dataclass
class Probe:
    """One verification prompt: the reference model's tokens and logits on it."""

    label: str  # the prompt as people read it
    ids: torch.Tensor  # [1, n]: the rendered prompt and the reference's greedy continuation
    prompt_len: int
    logits: torch.Tensor  # the reference's logits on `ids` (VERIFY_DTYPE)


def prompt_texts(tokenizer, cfg: RunConfig | None) -> list[tuple[str, str]]:
    """(label, text to tokenise): the fixed chat prompts and one prompt from the run's data."""
    prompts = list(CHAT_PROMPTS)
    data_format = "messages"
    if cfg is not None and cfg.data.path:
        try:
            data = load_dataset_file(cfg.data.path, cfg.data.format, cfg.data.columns)
            data_format = data.format
            prompt = next((row_prompt(r, data.format).strip() for r in data.rows if row_prompt(r, data.format)), "")
            if prompt:
                prompts.append(prompt)
        except (StudioError, OSError) as exc:
            log.info("No prompt from the run's data (%s); verifying with the fixed prompts", exc)
    if not tokenizer.chat_template:
        return [(p, p) for p in prompts]
    texts = []
    for i, prompt in enumerate(prompts):
        if i == len(CHAT_PROMPTS) and data_format == "text":
            texts.append((prompt, prompt))  # plain-text data trains continuation, not chat
            continue
        rendered = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        texts.append((prompt, rendered))
    return texts


def load_fp32_base(cfg: RunConfig) -> tuple[torch.nn.Module, str]:
    """The run's base model, loaded fresh in float32 on the CPU (8-bit ignored: never merge into
    quantized weights; the CPU leaves the GPU to any training that runs meanwhile)."""
    model_dir = resolve_model_dir(parse_model_ref(cfg.model.name_or_path))
    settings = ModelSettings(name_or_path=cfg.model.name_or_path, dtype="float32", load_in_8bit=False)
    return load_model(settings, model_dir, "cpu"), model_dir


def _encode(tokenizer, prompt: str, templated: bool) -> torch.Tensor:
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=not templated)["input_ids"]
    return ids[:, -MAX_PROMPT_TOKENS:]


@torch.no_grad()
def _generate(model, tokenizer, prompt_ids: torch.Tensor) -> torch.Tensor:
    out = model.generate(
        input_ids=prompt_ids,
        attention_mask=torch.ones_like(prompt_ids),
        do_sample=False,
        max_new_tokens=MAX_NEW_TOKENS,
        pad_token_id=tokenizer.pad_token_id,
        use_cache=True,
    )
    return out[:, prompt_ids.shape[1] :]


@torch.no_grad()
def _logits(model, ids: torch.Tensor) -> torch.Tensor:
    return model(input_ids=ids).logits.to(VERIFY_DTYPE)


def reference_probes(model, tokenizer, texts: list[tuple[str, str]]) -> list[Probe]:
    """Greedy continuations and logits of the reference (the unmerged PeftModel)."""
    model.eval()
    probes = []
    for label, prompt in texts:
        prompt_ids = _encode(tokenizer, prompt, templated=prompt != label)
        ids = torch.cat([prompt_ids, _generate(model, tokenizer, prompt_ids)], dim=1)
        probes.append(Probe(label, ids, prompt_ids.shape[1], _logits(model, ids)))
    return probes


def compare(model, tokenizer, probes: list[Probe], tolerance: float, dtype: str = "float32") -> dict:
    """How far `model` is from the reference on every probe, and whether its greedy answers are the same."""
    model.eval()
    worst, matched, samples = 0.0, 0, []
    for probe in probes:
        worst = max(worst, (_logits(model, probe.ids) - probe.logits).abs().max().item())
        prompt_ids = probe.ids[:, : probe.prompt_len]
        generated = _generate(model, tokenizer, prompt_ids)
        reference = probe.ids[:, probe.prompt_len :]
        same = generated.shape == reference.shape and torch.equal(generated, reference)
        matched += int(same)
        # Shown to people: end-of-turn markers are noise there; the match above compares token ids.
        decoded = [tokenizer.decode(ids[0], skip_special_tokens=True) for ids in (reference, generated)]
        samples.append({"prompt": probe.label[:200], "reference": decoded[0], "merged": decoded[1], "match": same})
    return {
        "dtype": dtype,
        "max_logit_diff": worst,
        "tolerance": tolerance,
        "passed": worst <= tolerance,
        "generations_matched": matched,
        "prompts": len(probes),
        "generations_match": matched == len(probes),
        "samples": samples,
    }


def save_model(model, tokenizer, folder: Path) -> None:
    """safetensors weights, config, generation config and tokenizer: what from_pretrained reads."""
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)


def load_saved(folder: Path, dtype: torch.dtype):
    """A saved model as stored (`dtype`), lifted to the verification arithmetic."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
    # transformers' wrapped PreTrainedModel.to is annotated as if self were its first argument.
    return model.to(VERIFY_DTYPE)  # type: ignore[arg-type]


def _tmp_beside(out: Path, tag: str) -> Path:
    tmp = out.parent / f".{out.name}.{tag}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    return tmp


def merge_run(paths: RunPaths, out: str | Path, dtype: str = "float32", phase: Phase | None = None) -> dict:
    """Merge, verify and save the run's adapter to `out` (replaced atomically); returns the report.

    Raises VerificationError when the merged model does not reproduce base + adapter; `out` is then
    left as it was."""
    from peft import PeftModel

    if dtype not in EXPORT_DTYPES:
        raise StudioError(
            text("exports.unknown_dtype", dtype=dtype),
            text("exports.choose_one", choices=", ".join(EXPORT_DTYPES)),
            kind="config",
        )

    def step(name: str, progress: float) -> None:
        log.info("%s", name)
        if phase:
            phase(name, progress)

    started, out = time.time(), Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cfg = RunConfig.load(paths.config)
    step("loading the base model in float32", 0.05)
    base, _ = load_fp32_base(cfg)  # load_model logs the folder it came from
    tokenizer = load_tokenizer(str(paths.adapter))  # the run's tokenizer, with the model's own chat template
    step("loading the adapter", 0.15)
    model = PeftModel.from_pretrained(base, str(paths.adapter)).to(VERIFY_DTYPE)
    step("running base + adapter (unmerged) on the verification prompts", 0.2)
    probes = reference_probes(model, tokenizer, prompt_texts(tokenizer, cfg))
    with model.disable_adapter():
        effect = max((_logits(model, p.ids) - p.logits).abs().max().item() for p in probes)
    step("merging the adapter into the weights", 0.45)
    merged = model.merge_and_unload().to(torch.float32)  # W + BA summed in float64, rounded once
    notes: list[str] = []
    report = {
        "run_id": paths.run_id,
        "base_model": public_base(cfg.model.name_or_path).id,  # verification.json leaves the machine: no path
        "dtype": dtype,
        "max_new_tokens": MAX_NEW_TOKENS,
        "prompts": len(probes),
        "adapter_effect": effect,
        "notes": notes,
    }
    if cfg.model.quantized:  # peft could merge into the quantized weights; the export is never built on them
        notes.append(
            f"the adapter was trained on a {cfg.model.quantized} base; it was merged into the base's full-precision "
            "(float32) weights, loaded again for the merge, and verified against them"
        )
    tmp = _tmp_beside(out, "tmp")
    try:
        step("saving the float32 merge", 0.5)
        save_model(merged, tokenizer, tmp)
        del merged, model, base  # from here on at most one model is in memory
        _verify_saved(tmp, tokenizer, probes, report, step)
        _finish_report(report, started)
        if not report["passed"]:
            raise VerificationError(_failure_message(report), text("engine.verification_failed_hint"), report)
        step("writing the model card", 0.95)
        _write_json(tmp / "verification.json", report)
        (tmp / "README.md").write_text(model_card(paths, "merged", report, dtype), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        tmp.replace(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    step("done", 1.0)
    return report


def _verify_saved(folder: Path, tokenizer, probes: list[Probe], report: dict, step: Callable) -> None:
    """Compare the float32 merge in `folder` with the reference; then cast it in place and compare again."""
    dtype = report["dtype"]
    step("verifying the float32 merge loaded back from disk", 0.6)
    report["float32"] = compare(load_saved(folder, torch.float32), tokenizer, probes, FLOAT32_TOLERANCE)
    if not report["float32"]["passed"] or dtype == "float32":
        return
    step(f"casting to {dtype} and saving", 0.8)
    _cast_in_place(folder, tokenizer, getattr(torch, dtype))
    step(f"verifying the {dtype} copy loaded back from disk", 0.85)
    scale = max(1.0, max(p.logits.abs().max().item() for p in probes))
    report["cast"] = compare(
        load_saved(folder, getattr(torch, dtype)), tokenizer, probes, CAST_TOLERANCE[dtype] * scale, dtype
    )
    report["cast"]["tolerance_rule"] = (
        f"{CAST_TOLERANCE[dtype]:.0%} of the largest logit ({scale:.3g}): "
        f"the weights rounded to {dtype}, computed in float64"
    )


def _cast_in_place(folder: Path, tokenizer, dtype: torch.dtype) -> None:
    model = load_saved(folder, torch.float32).to(dtype)
    shutil.rmtree(folder)
    save_model(model, tokenizer, folder)


def _finish_report(report: dict, started: float) -> None:
    parts = [report[k] for k in ("float32", "cast") if k in report]
    report["passed"] = all(p["passed"] for p in parts) and (report["dtype"] == "float32" or "cast" in report)
    report["seconds"] = round(time.time() - started, 2)
    if report["adapter_effect"] == 0:
        report["notes"].append(
            "the adapter does not change the outputs (its B matrices are zero): the merged model equals the base model"
        )
    for part in parts:
        if part["passed"] and not part["generations_match"]:
            report["notes"].append(
                f"{part['dtype']}: some greedy answers differ although the logits agree within "
                "the tolerance: a near tie between two tokens"
            )


def _failure_message(report: dict) -> str:
    # A float32 merge that passed failed only in its cast copy, which _verify_saved then always made.
    part = report["cast"] if report["float32"]["passed"] else report["float32"]
    return text(
        "engine.verification_failed", dtype=part["dtype"], diff=part["max_logit_diff"], tolerance=part["tolerance"]
    )


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
