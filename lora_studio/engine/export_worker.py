"""Subprocess entry for one export of a finished run:

    python -m lora_studio.engine.export_worker merge --run-dir DIR --out DIR [--dtype float32|bfloat16|float16]
    python -m lora_studio.engine.export_worker push --run-dir DIR --folder DIR --repo-id OWNER/NAME [--public]

It moves runs/<id>/exports/status.json through running → completed / failed / cancelled with a phase,
a progress fraction and, on failure, an error and a hint. A push reads its token from HF_TOKEN in its
environment only; the token is scrubbed from every message this process writes. The CLI calls
`run_merge()` in-process; the dashboard starts this module as its own process.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import time
import traceback
from pathlib import Path

from lora_studio import settings
from lora_studio.errors import ConfigError, StudioError
from lora_studio.exports import (
    EXPORT_DTYPES,
    TOKEN_ENV,
    check_exportable,
    check_repo_id,
    poll_export,
    scrub,
    update_export_status,
)
from lora_studio.messages import english, remember_how_to_say_again
from lora_studio.processes import process_start_time
from lora_studio.runs import RunPaths

log = logging.getLogger("lora_studio.export")
NETWORK_HINT = "Check the network connection, or download the .zip and upload it yourself"


def _begin(paths: RunPaths, **fields: object) -> None:
    update_export_status(
        paths,
        state="running",
        pid=os.getpid(),
        pid_start=process_start_time(os.getpid()),
        started=time.time(),
        finished=None,
        error="",
        error_kind="",
        hint="",
        progress=0.0,
        cancel_requested=False,
        **fields,
    )


def _fail(paths: RunPaths, exc: BaseException, secrets: list[str | None], **fields: object) -> int:
    """Record a failure in words (secrets scrubbed) and return the exit code 1."""
    from lora_studio.engine.worker import classify

    kind, message, hint = classify(exc)
    message, hint = scrub(message, secrets), scrub(hint, secrets)
    if kind == "internal" and not isinstance(exc, StudioError):
        log.error("%s", scrub(traceback.format_exc(), secrets))
    update_export_status(
        paths, state="failed", phase="failed", finished=time.time(), error=message, error_kind=kind, hint=hint, **fields
    )
    log.error("Export failed: %s", StudioError(message, hint, kind).one_line())
    return 1


def _interrupted(paths: RunPaths) -> None:
    update_export_status(
        paths,
        state="cancelled",
        phase="cancelled",
        finished=time.time(),
        error=english("jobs.cancelled_by_user"),
        error_kind="",
        hint="",
    )


def run_merge(run_dir: str | Path, out: str | Path, dtype: str = "float32") -> int:
    """Merge, verify and save; 0 when verified, 1 when it failed. Refusals raise ConfigError first."""
    paths = RunPaths(run_dir)
    check_exportable(paths)
    _check_out(Path(out))
    _check_idle(paths)
    from lora_studio.engine.merge import VerificationError, merge_run  # after the checks: a refusal is instant

    _begin(paths, action="merge", dtype=dtype, target=str(out), phase="starting", verification=None, url="", repo_id="")

    def phase(name: str, progress: float) -> None:
        update_export_status(paths, phase=name, progress=round(progress, 3))

    try:
        report = merge_run(paths, out, dtype, phase)
    except KeyboardInterrupt:
        _interrupted(paths)
        raise
    except VerificationError as exc:
        return _fail(paths, exc, [], verification=exc.report)
    except Exception as exc:  # noqa: BLE001 - every failure is reported in words
        return _fail(paths, exc, [])
    update_export_status(
        paths, state="completed", phase="verified and saved", progress=1.0, finished=time.time(), verification=report
    )
    log.info("Merged model saved to %s (verified: max logit difference %.2e)", out, report["float32"]["max_logit_diff"])
    return 0


def _check_out(out: Path) -> None:
    """Refuse to replace a folder that holds something other than an earlier export."""
    if out.is_file():
        raise ConfigError(f"--out {out} is a file", "Give a folder for the merged model")
    if out.is_dir() and any(out.iterdir()) and not (out / "verification.json").is_file():
        raise ConfigError(
            f"--out {out} already holds other files",
            "Give a new or empty folder (an earlier merge written there is replaced)",
        )


def _check_idle(paths: RunPaths) -> None:
    status = poll_export(paths)
    if status.state == "running" and status.pid != os.getpid():
        raise ConfigError(
            f"Run {paths.run_id} is being exported already ({status.action}: {status.phase})",
            "Wait for it to finish, or cancel it in the Merge & Export tab",
        )


def _push_error(exc: BaseException) -> StudioError:
    """The Hub's failures in words a user can act on."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if isinstance(exc, OfflineModeIsEnabled):
        return StudioError(
            "The Hugging Face Hub is switched off here (HF_HUB_OFFLINE is set)", NETWORK_HINT, kind="config"
        )
    if isinstance(exc, HfHubHTTPError):
        code = getattr(getattr(exc, "response", None), "status_code", None)
        if code == 401:
            return StudioError(
                "The Hugging Face Hub refused the token (401)",
                "Paste a valid token with write access (huggingface.co/settings/tokens)",
                kind="config",
            )
        if code == 403:
            return StudioError(
                "The token may not write to this repository (403)",
                "Use a token with write access to it, or a repository id in your own namespace",
                kind="config",
            )
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return StudioError(
            f"The Hugging Face Hub answered with an error ({first})",
            "Check the repository id and the token, then try again",
        )
    if isinstance(exc, (ConnectionError, TimeoutError, OSError)) or "connect" in type(exc).__name__.lower():
        return StudioError(f"Cannot reach the Hugging Face Hub ({type(exc).__name__})", NETWORK_HINT)
    raise exc


def run_push(run_dir: str | Path, folder: str | Path, repo_id: str, private: bool = True) -> int:
    """Create the repo (private by default) and upload `folder`; the token comes from HF_TOKEN only."""
    paths = RunPaths(run_dir)
    token = os.environ.get(TOKEN_ENV) or None
    _begin(paths, action="push", target=str(folder), repo_id=repo_id, phase="connecting to the Hub", url="")
    try:
        repo_id = check_repo_id(repo_id)
        if settings.hub_offline():
            raise StudioError(
                "The Hugging Face Hub is switched off here (HF_HUB_OFFLINE is set)", NETWORK_HINT, kind="config"
            )
        markers = ("config.json", "adapter_config.json")
        if not any(Path(folder, m).is_file() for m in markers) and not any(Path(folder).glob("*.gguf")):
            raise ConfigError(f"{folder} holds no model or adapter", "Export it again, then push")
        from huggingface_hub import HfApi

        api = HfApi(token=token)
        try:
            url = str(api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model"))
            update_export_status(paths, phase=f"uploading to {repo_id}", progress=0.2)
            api.upload_folder(
                repo_id=repo_id,
                folder_path=str(folder),
                repo_type="model",
                commit_message=f"Upload {Path(folder).name} of run {paths.run_id} (LoRA Studio)",
            )
        except Exception as exc:  # turned into words below, or re-raised
            raise _push_error(exc) from exc
    except KeyboardInterrupt:
        _interrupted(paths)
        raise
    except Exception as exc:  # noqa: BLE001 - every failure is reported in words, token scrubbed
        return _fail(paths, exc, [token])
    update_export_status(paths, state="completed", phase="pushed", progress=1.0, finished=time.time(), url=url)
    log.info("Pushed %s to %s", folder, url)
    return 0


def run_gguf(run_dir: str | Path, qtype: str, out: str | Path | None = None) -> int:
    """Merge (float32, verified) if not done yet, write the GGUF, read it back and compare; 0 when verified, 1
    when not (the file is removed, the report kept). Refusals raise StudioError before anything is written."""
    from lora_studio import gguf_files
    from lora_studio.exports import list_merged, merged_dir
    from lora_studio.modelref import public_base
    from lora_studio.runs import write_json_atomic

    paths = RunPaths(run_dir)
    check_exportable(paths)
    if qtype not in gguf_files.GGUF_TYPES:
        raise ConfigError(f"Unknown GGUF type '{qtype}'", f"Choose one of {', '.join(gguf_files.GGUF_TYPES)}")
    target = Path(out) if out else gguf_files.gguf_path(paths, qtype)
    if target.suffix != ".gguf" or target.is_dir():
        raise ConfigError(f"--out {target} is not a .gguf file name", "Give a file name ending in .gguf")
    _check_idle(paths)
    from lora_studio.config import RunConfig
    from lora_studio.engine.gguf_export import plan, verify_gguf, write_gguf

    merged = merged_dir(paths, "float32")
    public_id = public_base(RunConfig.load(paths.config).model.name_or_path).id
    _begin(paths, action="gguf", dtype=qtype, target=str(target), phase="starting", verification=None, url="")

    def phase(name: str, progress: float) -> None:
        update_export_status(paths, phase=name, progress=round(progress, 3))

    report_path = gguf_files.beside(target, ".verification.json")
    try:
        if merged in list_merged(paths):
            plan(merged, public_id)  # refuse an unsupported model before any work
        else:
            from lora_studio.engine.merge import merge_run

            phase("merging into a float32 base (needed once)", 0.05)
            merge_run(paths, merged, "float32", lambda name, p: phase(f"merging: {name}", 0.05 + 0.4 * p))
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        phase(f"writing {target.name}", 0.5)
        write_gguf(merged, partial, qtype, public_id, paths.run_id)
        phase("verifying: reading the file back with transformers", 0.75)
        report = verify_gguf(merged, partial, qtype)
        write_json_atomic(report_path, report)
        if not report["passed"]:
            partial.unlink(missing_ok=True)
            raise StudioError(
                f"The GGUF file did not pass verification: {gguf_files.report_summary(report)}",
                f"Nothing was kept but the report ({report_path.name}); export the merged model instead",
                kind="internal",
            )
        partial.replace(target)
        tokenizer_template = _chat_template(merged)
        gguf_files.beside(target, ".Modelfile").write_text(
            gguf_files.modelfile(target, tokenizer_template), encoding="utf-8"
        )
        if target.parent == gguf_files.gguf_dir(paths):
            gguf_files.write_card(paths, public_id)
    except KeyboardInterrupt:
        target.with_name(f".{target.name}.partial").unlink(missing_ok=True)
        _interrupted(paths)
        raise
    except Exception as exc:  # noqa: BLE001 - every failure is reported in words
        target.with_name(f".{target.name}.partial").unlink(missing_ok=True)
        return _fail(paths, exc, [], verification=gguf_files.read_report(target))
    update_export_status(
        paths, state="completed", phase="written and verified", progress=1.0, finished=time.time(), verification=report
    )
    log.info("%s", gguf_files.report_summary(report))
    log.info("GGUF saved to %s", target)
    return 0


def _chat_template(folder: Path) -> str | None:
    import json

    try:
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    template = config.get("chat_template")
    jinja = folder / "chat_template.jinja"
    if not template and jinja.is_file():
        template = jinja.read_text(encoding="utf-8")
    return template if isinstance(template, str) else None


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # Cancel in the dashboard: the same path as Ctrl-C


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lora_studio.engine.export_worker",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="action", required=True)
    merge = sub.add_parser("merge", help="merge the adapter into the base, verify, save")
    merge.add_argument("--run-dir", required=True)
    merge.add_argument("--out", required=True, help="folder for the merged model")
    merge.add_argument("--dtype", default="float32", choices=EXPORT_DTYPES)
    gguf = sub.add_parser("gguf", help="write a verified GGUF file for llama.cpp, Ollama and LM Studio")
    gguf.add_argument("--run-dir", required=True)
    gguf.add_argument("--type", default="q8_0", help="q8_0, f16, bf16 or f32")
    gguf.add_argument("--out", help="the .gguf file (default: runs/<id>/gguf/<id>-<type>.gguf)")
    push = sub.add_parser("push", help="upload an exported folder to the Hugging Face Hub (token: HF_TOKEN)")
    push.add_argument("--run-dir", required=True)
    push.add_argument("--folder", required=True, help="the exported adapter or merged model folder")
    push.add_argument("--repo-id", required=True)
    push.add_argument("--public", action="store_true", help="make a new repository public (default: private)")
    return parser


def main(argv: list[str] | None = None) -> int:
    remember_how_to_say_again()  # the errors written into the status file can be said again on a page
    from lora_studio.engine.worker import configure_logging

    args = build_parser().parse_args(argv)
    configure_logging()
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)  # its messages may quote request details
    signal.signal(signal.SIGTERM, _terminate)
    try:
        if args.action == "merge":
            return run_merge(args.run_dir, args.out, args.dtype)
        if args.action == "gguf":
            return run_gguf(args.run_dir, args.type, args.out)
        return run_push(args.run_dir, args.folder, args.repo_id, private=not args.public)
    except StudioError as exc:  # refused before anything started
        paths = RunPaths(args.run_dir)
        if poll_export(paths).pid == os.getpid():  # started for this job: say why it ends (never over another's)
            update_export_status(
                paths,
                state="failed",
                phase="refused",
                finished=time.time(),
                error=exc.message,
                error_kind=exc.kind,
                hint=exc.hint,
            )
        log.error("Export refused: %s", exc.one_line())
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    from lora_studio.processes import exit_worker

    exit_worker(main())
