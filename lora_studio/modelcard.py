"""What an export tells the world: the model card (README.md) of an exported adapter or merged model, the
adapter's config with its base named publicly, the data statistics a card shows, and the verification report.

Plain text from the run folder: base model, data file and row count (data_stats.json, written by training),
LoRA settings, steps, losses and the merge's verification. The base is always named by its public id
(modelref.public_base), never by a path of this machine. Core: no torch, and nothing secret ever goes in.
"""

from __future__ import annotations

import json
from pathlib import Path

from lora_studio.config import RunConfig
from lora_studio.errors import ConfigError, StudioError
from lora_studio.messages import speaking, text
from lora_studio.modelref import PublicBase, public_base
from lora_studio.runs import RunPaths, run_summary, write_json_atomic
from lora_studio.settings import EMBEDDED_MODEL_NAME

ADAPTER_CONFIG = "adapter_config.json"


# ---- the data statistics, written at training time -------------------------------------------------
def data_stats(
    file: str | Path, rows: int, data_format: str, train_rows: int, eval_rows: int, train_tokens: int | None = None
) -> dict:
    """What a model card says about the training data (file name only, never its folder)."""
    return {
        "file": Path(file).name,
        "rows": int(rows),
        "format": data_format,
        "train_rows": int(train_rows),
        "eval_rows": int(eval_rows),
        "train_tokens": None if train_tokens is None else int(train_tokens),
    }


def write_data_stats(paths: RunPaths, stats: dict) -> None:
    write_json_atomic(paths.data_stats, stats)


def read_data_stats(paths: RunPaths) -> dict | None:
    """The run's data_stats.json, or None for a run trained before LoRA Studio wrote it (or a damaged file)."""
    try:
        data = json.loads(paths.data_stats.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("rows"), int) else None


def _data_line(paths: RunPaths, cfg: RunConfig | None) -> str:
    stats = read_data_stats(paths)
    if stats is None:
        name = Path(cfg.data.path).name if cfg is not None and cfg.data.path else "unknown"
        return f"{name} (statistics not recorded: the run was trained before LoRA Studio kept them)"
    line = f"{stats.get('file') or 'unknown'} ({stats['rows']} rows, {stats.get('format') or 'unknown format'})"
    if stats.get("eval_rows"):
        line += f"; {stats.get('train_rows', '?')} for training, {stats['eval_rows']} held out for evaluation"
    if stats.get("train_tokens"):
        line += f"; {stats['train_tokens']:,} training tokens per epoch"
    return line


# ---- the base, named publicly ------------------------------------------------------------------------
def run_base(paths: RunPaths) -> PublicBase:
    """The public name of the base the run trained on."""
    try:
        return public_base(RunConfig.load(paths.config).model.name_or_path)
    except (StudioError, OSError, ValueError) as exc:  # a run folder without a readable config: nothing to name
        return PublicBase(f"unknown ({type(exc).__name__})", False)


def shareable_adapter_config(adapter: Path, base: PublicBase) -> str:
    """adapter_config.json of `adapter` with `base_model_name_or_path` set to the base's public id (peft records
    the folder it loaded the base from: a path of this machine, useless anywhere else)."""
    try:
        config = json.loads((Path(adapter) / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            text(
                "card.adapter_config_unreadable",
                file=f"{Path(adapter).name}/{ADAPTER_CONFIG}",
                error=type(exc).__name__,
            ),
            text("card.adapter_config_unreadable_hint"),
        ) from exc
    if not isinstance(config, dict):
        raise ConfigError(
            text("card.adapter_config_not_object", file=f"{Path(adapter).name}/{ADAPTER_CONFIG}"),
            text("card.adapter_config_not_object_hint"),
        )
    config["base_model_name_or_path"] = base.id
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def _base_label(base: PublicBase) -> str:
    if base.embedded:
        return f"`{base.id}` as {EMBEDDED_MODEL_NAME}: its Q4_1 GGUF, dequantised to float32"
    return f"`{base.id}`" if base.hub else f"{base.id} (a local model: not on the Hugging Face Hub under this name)"


def _embedded_note(base: PublicBase, kind: str) -> list[str]:
    if not base.embedded:
        return []
    what = "adapter" if kind == "adapter" else "model"
    return [
        f"The {what} was trained on LoRA Studio's embedded copy of [{base.id}](https://huggingface.co/{base.id}): "
        "its Q4_1 GGUF, dequantised to float32. "
        + (
            "It loads on the Hub's checkpoint the same way, but its answers there can differ slightly. "
            "`python -m lora_studio prepare-model --hub-cache` registers the very weights it was trained on "
            f"under `{base.id}` in the Hugging Face cache: the code below, run with `HF_HUB_OFFLINE=1`, then "
            "loads them without a network."
            if kind == "adapter"
            else "The merged weights are those weights plus the adapter."
        ),
        "",
    ]


def _usage(paths: RunPaths, kind: str, base: PublicBase, dtype: str) -> str:
    if kind == "adapter":
        folder = f"{paths.run_id}-adapter"
        load_base = f'base = AutoModelForCausalLM.from_pretrained("{base.id}")'
        if not base.hub:
            load_base += "  # the folder of that model on your machine"
        return (
            "from peft import PeftModel\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
            f"{load_base}\n"
            f'model = PeftModel.from_pretrained(base, "{folder}")  # this folder, or its Hub repository id\n'
            f'tokenizer = AutoTokenizer.from_pretrained("{folder}")'
        )
    folder = f"{paths.run_id}-merged-{dtype}"
    return (
        "from transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
        f'model = AutoModelForCausalLM.from_pretrained("{folder}")  # this folder, or its Hub repository id\n'
        f'tokenizer = AutoTokenizer.from_pretrained("{folder}")'
    )


def adapter_export_files(paths: RunPaths) -> dict[str, str]:
    """The files an exported adapter (zip or push) has in place of the run's own: the card, the public config."""
    return {
        "README.md": model_card(paths, "adapter"),
        ADAPTER_CONFIG: shareable_adapter_config(paths.adapter, run_base(paths)),
    }


# ---- the card ----------------------------------------------------------------------------------------
def verification_summary(report: dict | None) -> str:
    """The verification report in a few lines of Markdown, in the current language: for the dashboard and the CLI,
    and in English for the model card (model_card asks for it so). The notes and the tolerance rule come from the
    report as the merge wrote them (English: verification.json leaves the machine with the model)."""
    if not report:
        return text("card.not_verified")
    lines = []
    for key in ("float32", "cast"):
        part = report.get(key)
        if not part:
            continue
        label = text("card.check.float32") if key == "float32" else text("card.check.cast", dtype=part.get("dtype", ""))
        rule = part.get("tolerance_rule")
        lines.append(
            text(
                "card.check.passed" if part.get("passed") else "card.check.failed",
                label=label,
                diff=part["max_logit_diff"],
                tolerance=part["tolerance"],
                rule=text("card.check.rule", rule=rule) if rule else "",
                tokens=report.get("max_new_tokens", "?"),
                matched=part["generations_matched"],
                prompts=part["prompts"],
            )
        )
    if report.get("adapter_effect") is not None:
        lines.append(text("card.adapter_effect", effect=report["adapter_effect"]))
    for note in report.get("notes", []):
        lines.append(f"- {note}")
    verdict = "card.verified" if report.get("passed") else "card.verification_failed"
    return text(verdict, prompts=report.get("prompts", "?")) + "\n\n" + "\n".join(lines)


def method_line(cfg: RunConfig) -> str:
    """How the adapter was trained, in one line: the method and its settings, where it started, the base's
    precision while training."""
    t = cfg.training
    method = {
        "sft": "supervised fine-tuning (SFT)",
        "dpo": f"DPO (beta {t.dpo_beta:g}, {t.dpo_loss} loss)",
        "orpo": f"ORPO (lambda {t.orpo_lambda:g})",
    }.get(t.method, str(t.method))
    if t.method == "sft" and t.neftune_noise_alpha:
        method += f", NEFTune noise {t.neftune_noise_alpha:g}"
    start = str(cfg.lora.start_from or "").strip()
    parts = [method, f"continued from the adapter of run {Path(start).name}" if start else "a new adapter"]
    if cfg.model.quantized:
        parts.append(f"base held in {cfg.model.quantized} while training")
    return "; ".join(parts)


def model_card(paths: RunPaths, kind: str, verification: dict | None = None, dtype: str = "") -> str:
    """README.md for an exported adapter (`kind` "adapter") or merged model ("merged")."""
    summary = run_summary(paths)
    cfg = summary.config
    base = public_base(cfg.model.name_or_path) if cfg else PublicBase("unknown", False)
    done, total = summary.steps
    lora = cfg.lora if cfg else None
    lora_line = (
        f"r={lora.r}, alpha={lora.alpha:g}, dropout={lora.dropout:g}, target modules: "
        f"{lora.target_modules if isinstance(lora.target_modules, str) else ', '.join(lora.target_modules)}, "
        f"init: {lora.init}, rsLoRA: {'yes' if lora.use_rslora else 'no'}, DoRA: {'yes' if lora.use_dora else 'no'}"
        + (f", LoRA+ ratio {lora.loraplus_lr_ratio:g}" if lora.loraplus_lr_ratio else "")
        if lora
        else "unknown"
    )
    what = "LoRA adapter" if kind == "adapter" else f"merged model ({dtype})"
    front = [
        "---",
        f"library_name: {'peft' if kind == 'adapter' else 'transformers'}",
        *([f"base_model: {base.id}"] if base.hub else []),
        f"tags: [lora, lora-studio{', ' + cfg.training.method if cfg and cfg.training.method != 'sft' else ''}]",
        "---",
    ]
    rows = [
        ("Base model", _base_label(base)),
        ("Training data", _data_line(paths, cfg)),
        ("LoRA", lora_line),
        ("Method", method_line(cfg) if cfg else "unknown"),
        ("Training steps", f"{done} of {total or '?'} ({summary.status.state})"),
        *(
            (name, "—" if v is None else f"{v:.4f}")
            for name, v in (("Final train loss", summary.final_loss), ("Eval loss", summary.eval_loss))
        ),
    ]
    body = [
        f"# {paths.run_id}: {what}",
        "",
        "Fine-tuned with LoRA Studio.",
        "",
        "| | |",
        "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in rows),
        "",
        *_embedded_note(base, kind),
        "## Use it",
        "",
        "```python",
        _usage(paths, kind, base, dtype),
        "```",
        "",
    ]
    if kind == "merged" or verification:
        with speaking("en"):  # the card goes out with the model, to other people's machines: English
            checks = verification_summary(verification)
        body += ["## Verification", "", checks, ""]
    return "\n".join([*front, "", *body])
