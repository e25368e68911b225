"""Command line: `python -m lora_studio {prepare-model,train,serve,inspect,export,merge,chat,adapters,presets}`
(`train` lives in cli_train.py).

Every failure ends with one line on stderr saying what happened and what to do, and a
non-zero exit: 1 when training failed, 2 when the input was refused before training started.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from lora_studio import logs, settings
from lora_studio.cli_evaluate import add_parser as add_evaluate_parser
from lora_studio.cli_evaluate import parse_map
from lora_studio.cli_help import generation_settings_epilog, run_settings_epilog
from lora_studio.cli_train import cmd_train, fail
from lora_studio.config import COLUMN_ROLES, DATA_FORMATS, DataSettings
from lora_studio.dataset_rows import load_dataset_file
from lora_studio.errors import ModelError, StudioError
from lora_studio.exports import EXPORT_DTYPES
from lora_studio.gguf_files import GGUF_TYPES
from lora_studio.messages import LANGUAGES, field_label
from lora_studio.presets import list_presets
from lora_studio.runs import (
    RunPaths,
)

log = logging.getLogger("lora_studio")


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return int(text)


def cmd_prepare_model(args: argparse.Namespace) -> int:
    from lora_studio.engine.models import ensure_embedded_model, register_embedded_in_hub_cache

    path = ensure_embedded_model(force=args.force)
    print(f"{settings.EMBEDDED_MODEL_NAME} is ready at {path}")
    if args.hub_cache:
        snapshot = register_embedded_in_hub_cache()
        print(f"{settings.EMBEDDED_PUBLIC_ID} is in the Hugging Face cache at {snapshot} (loads with HF_HUB_OFFLINE=1)")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from lora_studio.server import serve  # the dashboard: loaded for this command only

    serve(args.host, args.port, args.auth, args.lang)
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    """The Data tab's checks for scripts and CI: non-zero exit when an error would block training."""
    from lora_studio.dataset_rows import FormatUnknownError

    mapping = parse_map(args.map or [])
    try:
        data = load_dataset_file(args.file, args.format, mapping, max_bytes=settings.max_upload_bytes())
    except FormatUnknownError as exc:
        return fail(
            f"{exc.message}. Say which to use: --map COLUMN=prompt --map COLUMN=completion, "
            "or --map COLUMN=messages, or --map COLUMN=text",
            2,
        )
    print(f"file:     {data.path} ({data.kind}, {data.encoding})")
    print(f"format:   {data.format} ({data.reason})")
    print(f"rows:     {len(data.rows)} usable")
    _print_tokens(data, args)
    for issue in data.issues:
        print(f"{issue.severity}: {issue}")
    print(f"issues:   {len(data.errors)} error(s), {len(data.warnings)} warning(s)")
    if data.errors:
        return fail(f"{len(data.errors)} problem(s) block training; fix the rows listed above", 1)
    return 0


def _print_tokens(data, args: argparse.Namespace) -> None:
    if args.no_tokens:
        return
    from lora_studio.estimates import token_lines
    from lora_studio.messages import text

    try:
        from lora_studio.engine.preview import Previewer  # lazy: loads a tokenizer

        lines = token_lines(Previewer(data, args.model, not args.full_loss).stats(args.max_length))
    except StudioError as exc:
        lines = [text("tokens.unavailable", problem=exc.one_line())]
    for line in lines:
        print(f"tokens:   {line.replace('**', '')}")


def cmd_chat(args: argparse.Namespace) -> int:
    """One answer to PROMPT from a base model, with a run's or an imported adapter: the Playground's engine."""
    from lora_studio.adapters import find_adapter, run_adapter
    from lora_studio.generation_config import parse_overrides

    generation = parse_overrides(args.set or [])  # refused before any weights load
    info = None
    if args.adapter:
        info = find_adapter(args.adapter) if args.adapter.startswith(("run:", "upload:")) else run_adapter(args.adapter)
        if info.problem:
            raise ModelError(f"Adapter {info.name} cannot be used: {info.problem}", "Pick another with `adapters list`")
    base = args.model or (info.base_model if info and info.base_model else settings.EMBEDDED_MODEL_NAME)
    from lora_studio.engine.inference import Playground

    playground = Playground()
    playground.load_base(base)
    target = playground.load_adapter(info).key if info else ""
    for piece in playground.stream(target, [{"role": "user", "content": args.prompt}], generation):
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    playground.unload_base()
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """The run's adapter as a zip (PEFT files, tokenizer, model card), and/or a verified GGUF file."""
    from lora_studio.errors import ConfigError
    from lora_studio.exports import adapter_zip

    if not args.adapter_zip and not args.gguf:
        raise ConfigError("Nothing to export", "Pass --adapter-zip OUT.zip and/or --gguf TYPE")
    paths = RunPaths(args.run_dir)
    if args.adapter_zip:
        print(f"adapter zip: {adapter_zip(paths, args.adapter_zip)}")
    if args.gguf:
        return _export_gguf(paths, args.gguf, args.out)
    return 0


def _export_gguf(paths: RunPaths, qtype: str, out: str | None) -> int:
    from lora_studio import gguf_files
    from lora_studio.engine.export_worker import run_gguf
    from lora_studio.engine.worker import configure_logging
    from lora_studio.exports import read_export_status

    configure_logging()
    code = run_gguf(paths.root, qtype, out)
    status = read_export_status(paths)  # the verification was logged above, by the export itself
    if code != 0:
        return fail(StudioError(status.error or "the GGUF export failed", status.hint).one_line(), code)
    target = Path(status.target)
    print(f"gguf: {target}")
    print(f"ollama Modelfile: {gguf_files.beside(target, '.Modelfile')}")
    for command in gguf_files.run_commands(target):
        print(f"run: {command}")
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    """Merge into a float32 base, verify against base + adapter, save; exit 1 when verification fails."""
    from lora_studio.engine.export_worker import run_merge
    from lora_studio.engine.worker import configure_logging
    from lora_studio.exports import read_export_status
    from lora_studio.modelcard import verification_summary

    configure_logging()
    paths = RunPaths(args.run_dir)
    code = run_merge(paths.root, Path(args.out), args.dtype)
    status = read_export_status(paths)
    if status.verification:
        print(verification_summary(status.verification).replace("**", ""))
    if code != 0:
        return fail(StudioError(status.error or "the merge failed", status.hint).one_line(), code)
    print(f"merged model: {args.out}")
    return 0


def cmd_adapters_import(args: argparse.Namespace) -> int:
    """The Playground's upload, headless: the same checks, the same folder (uploads/adapters/)."""
    from lora_studio.adapter_uploads import import_upload

    for name in args.files:
        if not Path(name).is_file():
            raise ModelError(
                f"{name} is not a file",
                "Pass the adapter's .zip, or its adapter_config.json and adapter_model.safetensors",
            )
    try:
        info = import_upload(args.files)
    except OSError as exc:  # the disk, not the adapter: still one line that says so
        raise ModelError(
            f"Could not import {Path(args.files[0]).name} ({exc.strerror or exc})",
            "Check the disk space and the permissions of the LoRA Studio home folder",
        ) from exc
    base = f" (trained on {info.base_model})" if info.base_model else ""
    print(f"imported: {info.label}{base} as {info.key}")
    return 0


def cmd_adapters_list(args: argparse.Namespace) -> int:
    """Every adapter the Playground offers, with the reason when one cannot be loaded."""
    from lora_studio.adapters import list_adapters

    found = list_adapters()
    for info in found:
        state = f"cannot be used: {info.problem}" if info.problem else f"base {info.base_model or 'not recorded'}"
        print(f"{info.key:<40} {info.label:<40} {state}")
    if not found:
        print("No adapters yet: finish a training run, or import one with `adapters import FILE.zip`.")
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    for preset in list_presets():
        origin = "shipped" if preset.builtin else "yours"
        print(f"{preset.name:<18} {origin:<8} {preset.description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    # Usage lines name the command as it was typed: the installed `lora-studio`, or `python -m lora_studio`.
    prog = "lora-studio" if Path(sys.argv[0]).name == "lora-studio" else "python -m lora_studio"
    parser = argparse.ArgumentParser(prog=prog, description="LoRA Studio: LoRA fine-tuning.")
    sub = parser.add_subparsers(dest="command", required=True)

    prep = sub.add_parser("prepare-model", help="convert the embedded SmolLM2 into the model cache")
    prep.add_argument("--force", action="store_true", help="convert again even if a complete copy exists")
    prep.add_argument(
        "--hub-cache",
        action="store_true",
        help=f"also register the converted copy in the Hugging Face cache (HF_HUB_CACHE) as "
        f"{settings.EMBEDDED_PUBLIC_ID}, so exported adapters load offline with plain transformers + peft",
    )
    prep.set_defaults(func=cmd_prepare_model)

    train = sub.add_parser(
        "train",
        help="train a LoRA adapter",
        epilog=run_settings_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--preset", default="quick-start", help="preset name (see: python -m lora_studio presets)")
    train.add_argument("--config", help="a full RunConfig YAML instead of a preset (e.g. a run's config.yaml)")
    train.add_argument("--data", help="training data file (JSONL)")
    train.add_argument("--model", help="model: 'embedded', a hub id or a local folder")
    train.add_argument(
        "--set", action="append", metavar="SECTION.KEY=VALUE", help="override a setting (all of them: see below)"
    )
    train.add_argument("--run-dir", help="run folder (default: a new one under the runs folder)")
    train.add_argument("--resume", action="store_true", help="resume the run in --run-dir from its last checkpoint")
    train.add_argument(
        "--num-processes",
        type=_positive_int,
        metavar="N",
        help="processes to train with, one per GPU (training.num_processes); above 1 the run goes "
        "through accelerate launch (DDP)",
    )
    train.set_defaults(func=cmd_train)

    serve = sub.add_parser("serve", help="start the dashboard")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1; LORA_STUDIO_HOST)")
    serve.add_argument("--port", type=int, help="port (default 7860; LORA_STUDIO_PORT)")
    serve.add_argument(
        "--auth",
        action="append",
        metavar="USER:PASSWORD",
        help="ask for this login (repeat for more users; LORA_STUDIO_AUTH='u1:p1,u2:p2' keeps "
        "passwords out of the process list)",
    )
    serve.add_argument(
        "--lang",
        choices=sorted(LANGUAGES),
        help="the dashboard's language at / (default: the browser's; LORA_STUDIO_LANG). Every language stays "
        "one click away on the page",
    )
    serve.set_defaults(func=cmd_serve)

    inspect = sub.add_parser("inspect", help="check a data file as the Data tab does")
    inspect.add_argument("file", help="data file: .jsonl .json .csv .tsv .parquet .txt")
    inspect.add_argument(
        "--map", action="append", metavar="COLUMN=ROLE", help=f"use COLUMN as one of: {', '.join(COLUMN_ROLES)}"
    )
    inspect.add_argument("--format", default="auto", choices=DATA_FORMATS)
    inspect.add_argument("--model", default=settings.EMBEDDED_MODEL_NAME, help="model whose tokenizer counts tokens")
    inspect.add_argument(
        "--max-length", type=int, default=DataSettings().max_length, help=field_label("data.max_length").lower()
    )
    inspect.add_argument("--full-loss", action="store_true", help="learn from whole conversations, not replies only")
    inspect.add_argument("--no-tokens", action="store_true", help="skip token statistics (no tokenizer load)")
    inspect.set_defaults(func=cmd_inspect)

    export = sub.add_parser(
        "export", help="zip a finished run's adapter with its model card, or write a verified GGUF file"
    )
    export.add_argument("--run-dir", required=True, help="the run folder")
    export.add_argument("--adapter-zip", metavar="OUT.zip", help="where to write the adapter zip")
    export.add_argument(
        "--gguf",
        choices=GGUF_TYPES,
        help="write a GGUF file of this type for llama.cpp, Ollama and LM Studio (merged, read back and checked)",
    )
    export.add_argument("--out", metavar="FILE.gguf", help="the GGUF file (default: RUN/gguf/RUN-TYPE.gguf)")
    export.set_defaults(func=cmd_export)

    merge = sub.add_parser("merge", help="merge a finished run's adapter into its base, verify and save it")
    merge.add_argument("--run-dir", required=True, help="the run folder")
    merge.add_argument("--out", required=True, help="folder for the merged model (safetensors + tokenizer)")
    merge.add_argument("--dtype", default=EXPORT_DTYPES[0], choices=EXPORT_DTYPES)
    merge.set_defaults(func=cmd_merge)

    adapters = sub.add_parser("adapters", help="import or list the adapters the Playground can load")
    adapters_sub = adapters.add_subparsers(dest="adapters_command", required=True)
    imported = adapters_sub.add_parser("import", help="import an adapter (.zip, or its files) with the upload's checks")
    imported.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="an adapter .zip, or adapter_config.json + adapter_model.safetensors (+ tokenizer files)",
    )
    imported.set_defaults(func=cmd_adapters_import)
    listed = adapters_sub.add_parser("list", help="list finished runs' and imported adapters")
    listed.set_defaults(func=cmd_adapters_list)

    chat = sub.add_parser(
        "chat",
        help="answer one prompt with a base model and, optionally, an adapter (as the Playground does)",
        epilog=generation_settings_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    chat.add_argument("prompt", help="the message to answer")
    chat.add_argument("--adapter", help="a run id, or a key listed by `adapters list` (default: the base alone)")
    chat.add_argument("--model", help="base model (default: the adapter's base, else the embedded SmolLM2)")
    chat.add_argument("--set", action="append", metavar="NAME=VALUE", help="a generation setting (see below)")
    chat.set_defaults(func=cmd_chat)

    add_evaluate_parser(sub)

    presets = sub.add_parser("presets", help="list presets")
    presets.set_defaults(func=cmd_presets)
    return parser


def main(argv: list[str] | None = None) -> int:
    logs.to_stdout()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except StudioError as exc:
        return fail(exc.one_line(), 2)
    except KeyboardInterrupt:
        return fail("interrupted; checkpoints saved so far are kept in the run folder", 130)


if __name__ == "__main__":
    sys.exit(main())
