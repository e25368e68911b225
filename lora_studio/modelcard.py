"""The model card (README.md) of an exported adapter or merged model, and the verification report in words.

Plain text from the run folder: base model, data file and row count, LoRA settings, steps, losses and the
merge's verification. Core: no torch, and nothing secret ever goes in.
"""

from __future__ import annotations

from pathlib import Path

from lora_studio.config import RunConfig
from lora_studio.errors import StudioError
from lora_studio.modelref import parse_model_ref
from lora_studio.runs import RunPaths, run_summary


def _data_line(cfg: RunConfig | None) -> str:
    if cfg is None or not cfg.data.path:
        return "unknown"
    from lora_studio.dataset_rows import load_dataset_file  # lazy: only a card needs the row count

    name = Path(cfg.data.path).name
    try:
        data = load_dataset_file(cfg.data.path, cfg.data.format, cfg.data.columns)
    except (StudioError, OSError, ValueError):
        return f"{name} (no longer readable, row count unknown)"
    return f"{name} ({len(data.rows)} rows, {data.format})"


def verification_summary(report: dict | None) -> str:
    """The verification report in a few lines of Markdown, for the model card and the dashboard."""
    if not report:
        return "Not verified."
    lines = []
    for key, label in (("float32", "float32 merge vs. base + adapter"), ("cast", "saved {dtype} vs. base + adapter")):
        part = report.get(key)
        if not part:
            continue
        mark = "passed" if part.get("passed") else "FAILED"
        lines.append(
            f"- {label.format(dtype=part.get('dtype', ''))}: **{mark}**, max logit difference "
            f"{part['max_logit_diff']:.2e} (tolerance {part['tolerance']:.0e}"
            f"{'; ' + part['tolerance_rule'] if part.get('tolerance_rule') else ''}); greedy generations of "
            f"{report.get('max_new_tokens', '?')} tokens match for {part['generations_matched']} of "
            f"{part['prompts']} prompts"
        )
    if report.get("adapter_effect") is not None:
        lines.append(f"- the adapter changes the base model's logits by up to {report['adapter_effect']:.3g}")
    for note in report.get("notes", []):
        lines.append(f"- {note}")
    verdict = "✅ Verified" if report.get("passed") else "❌ Verification failed"
    return f"{verdict} on {report.get('prompts', '?')} fixed prompts.\n\n" + "\n".join(lines)


def model_card(paths: RunPaths, kind: str, verification: dict | None = None, dtype: str = "") -> str:
    """README.md for an exported adapter (`kind` "adapter") or merged model ("merged")."""
    summary = run_summary(paths)
    cfg = summary.config
    base = cfg.model.name_or_path if cfg else "unknown"
    try:
        ref = parse_model_ref(base)
        base_label, hub_id = ref.display, ref.value if ref.kind == "hub" else ""
        if ref.kind == "embedded":  # not the Hub's float weights: the GGUF conversion LoRA Studio makes
            base_label += " — dequantised from its Q4_1 GGUF; `python -m lora_studio prepare-model` makes that folder"
    except StudioError:
        base_label, hub_id = base, ""
    done, total = summary.steps
    lora = cfg.lora if cfg else None
    lora_line = (
        f"r={lora.r}, alpha={lora.alpha:g}, dropout={lora.dropout:g}, target modules: "
        f"{lora.target_modules if isinstance(lora.target_modules, str) else ', '.join(lora.target_modules)}, "
        f"init: {lora.init}, rsLoRA: {'yes' if lora.use_rslora else 'no'}"
        if lora
        else "unknown"
    )
    what = "LoRA adapter" if kind == "adapter" else f"merged model ({dtype})"
    front = [
        "---",
        f"library_name: {'peft' if kind == 'adapter' else 'transformers'}",
        *([f"base_model: {hub_id}"] if hub_id else []),
        "tags: [lora, lora-studio]",
        "---",
    ]
    use = (
        "from transformers import AutoModelForCausalLM\nfrom peft import PeftModel\n\n"
        f'base = AutoModelForCausalLM.from_pretrained("{hub_id or "BASE_MODEL"}")\n'
        'model = PeftModel.from_pretrained(base, "THIS_FOLDER")'
        if kind == "adapter"
        else "from transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
        'model = AutoModelForCausalLM.from_pretrained("THIS_FOLDER")\n'
        'tokenizer = AutoTokenizer.from_pretrained("THIS_FOLDER")'
    )
    rows = [
        ("Base model", base_label),
        ("Training data", _data_line(cfg)),
        ("LoRA", lora_line),
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
        "## Use it",
        "",
        "```python",
        use,
        "```",
        "",
    ]
    if kind == "merged" or verification:
        body += ["## Verification", "", verification_summary(verification), ""]
    return "\n".join(front + [""] + body)
