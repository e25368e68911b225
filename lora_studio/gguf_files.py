"""What sits beside an exported GGUF file: an Ollama Modelfile and the commands that run the file. No torch.

runs/<run_id>/gguf/<run_id>-<type>.gguf                 the model, for llama.cpp, Ollama and LM Studio
runs/<run_id>/gguf/<run_id>-<type>.Modelfile            `ollama create <name> -f <that file>`
runs/<run_id>/gguf/<run_id>-<type>.verification.json    the read-back check (kept alone when it fails)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from lora_studio.messages import speaking, text
from lora_studio.runs import RunPaths

GGUF_TYPES = ("q8_0", "f16", "bf16", "f32")  # q8_0 first: a quarter of f32's size, the usual choice
# ChatML (SmolLM2, Qwen, …) in Ollama's Go template syntax.
_CHATML = (
    "{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}"
    "<|im_start|>assistant\n"
)
_LLAMA3 = (
    "{{- if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}"
    "{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}<|eot_id|>{{ end }}"
    "<|start_header_id|>assistant<|end_header_id|>\n\n"
)
_DEFAULT_SYSTEM = re.compile(r"<\|im_start\|>system(?:\n|\\n)([^{}'\"]+?)<\|im_end\|>")


def gguf_dir(paths: RunPaths) -> Path:
    return paths.root / "gguf"


def gguf_path(paths: RunPaths, qtype: str) -> Path:
    return gguf_dir(paths) / f"{paths.run_id}-{qtype}.gguf"


def beside(gguf: Path, suffix: str) -> Path:
    return gguf.with_suffix(suffix)


def ollama_name(gguf: Path) -> str:
    return re.sub(r"[^a-z0-9_.-]+", "-", gguf.stem.lower()).strip("-") or "lora-studio"


def modelfile(gguf: Path, chat_template: str | None) -> str:
    """An Ollama Modelfile: FROM the file, the chat template in Ollama's syntax, its stop tokens, its default
    system prompt. A template this does not know is left to Ollama, which reads the GGUF's own."""
    lines = [f"FROM ./{gguf.name}"]
    template = chat_template or ""
    if "<|im_start|>" in template:
        lines += [f'TEMPLATE """{_CHATML}"""', 'PARAMETER stop "<|im_end|>"', 'PARAMETER stop "<|im_start|>"']
        default = _DEFAULT_SYSTEM.search(template)
        if default:
            lines.append(f'SYSTEM """{default.group(1)}"""')
    elif "<|start_header_id|>" in template:
        lines += [f'TEMPLATE """{_LLAMA3}"""', 'PARAMETER stop "<|eot_id|>"']
    return "\n".join(lines) + "\n"


def run_commands(gguf: Path, here: bool = True) -> list[str]:
    """How to run the file: Ollama with the Modelfile beside it, or llama.cpp's chat. `here`: with this
    machine's folder (the dashboard, the CLI); otherwise from the file's own folder (the model card)."""
    name = ollama_name(gguf)
    ollama = f"ollama create {name} -f {beside(gguf, '.Modelfile').name} && ollama run {name}"
    if not here:
        return [ollama, f"llama-cli -m {gguf.name} -cnv"]
    return [f"cd {gguf.parent} && {ollama}", f"llama-cli -m {gguf} -cnv"]


def write_card(paths: RunPaths, base_id: str) -> Path:
    """gguf/README.md: what the files are, how each was checked and how to run it, with no path of this machine."""
    lines = [
        "---",
        f"base_model: {base_id}",
        "tags: [gguf, lora, lora-studio]",
        "---",
        f"# {paths.run_id} (GGUF)",
        "",
        f"The LoRA adapter of run `{paths.run_id}` merged into `{base_id}` and written as GGUF by LoRA Studio for "
        "llama.cpp, Ollama and LM Studio. Each file was read back with transformers' GGUF loader and compared with "
        "the merged model before it was kept.",
    ]
    for gguf in sorted(gguf_dir(paths).glob("*.gguf")):
        report = read_report(gguf)
        if not report or not report.get("passed"):
            continue
        commands = "\n".join(run_commands(gguf, here=False))
        with speaking("en"):  # the card goes out with the files, to other people's machines: English
            summary = report_summary(report)
        lines += ["", f"## {gguf.name}", "", summary, "", "```bash", commands, "```"]
    card = gguf_dir(paths) / "README.md"
    card.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return card


def read_report(gguf: Path) -> dict | None:
    try:
        data = json.loads(beside(gguf, ".verification.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def report_summary(report: dict) -> str:
    """The verification in one paragraph, in the current language (the CLI and the tab; the card asks for it in
    English)."""
    verdict = "ggufs.summary.passed" if report.get("passed") else "ggufs.summary.failed"
    parts = [
        text(verdict, type=report.get("type"), reader=report.get("reader")),
        text("ggufs.summary.same_ids" if report.get("same_token_ids") else "ggufs.summary.different_ids"),
        text(
            "ggufs.summary.greedy",
            share=100 * float(report.get("greedy_agreement", 0)),
            prompts=len(report.get("prompts") or []),
            needed=100 * float(report.get("min_agreement", 1)),
        ),
    ]
    if report.get("next_token_agreement") is not None:
        parts.append(text("ggufs.summary.next_token", share=100 * float(report["next_token_agreement"])))
    tolerance = report.get("logit_tolerance")
    diff = report.get("max_logit_diff", 0)
    if tolerance is not None:
        parts.append(text("ggufs.summary.logits_allowed", diff=diff, tolerance=tolerance))
    else:
        parts.append(text("ggufs.summary.logits_quantized", diff=diff))
    return text("ggufs.summary", parts=text("ggufs.summary.separator").join(parts))
