"""Merge & Export, the core side: where exports live, their status, the adapter zip, and the export
worker process (started, watched and cancelled here). The model card text is in modelcard.py. No torch.

    runs/<run_id>/merged/<dtype>/        merged model + tokenizer, README.md (model card), verification.json
    runs/<run_id>/exports/status.json    the latest export job: action, state, phase, progress, error, hint
    runs/<run_id>/exports/export.log     the export worker's stdout and stderr
    runs/<run_id>/exports/adapter/       the adapter as exported: PEFT files, tokenizer, README.md
    runs/<run_id>/exports/<run_id>-adapter.zip

A merge or a Hub push runs as `python -m lora_studio.engine.export_worker ...` in its own process group,
like training: the web server stays responsive and the memory is freed when it ends. A Hub token
reaches that process only through its environment (HF_TOKEN), never its argv, and is never written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import threading
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from lora_studio import processes, settings
from lora_studio.errors import ConfigError, StudioError
from lora_studio.modelcard import adapter_export_files
from lora_studio.processes import WorkerStatus
from lora_studio.runs import (
    ADAPTER_STATES,
    RunPaths,
    _status_lock,
    list_runs,
    read_status,
    tail_lines,
    write_json_atomic,
)

EXPORT_DTYPES = ("float32", "bfloat16", "float16")
EXPORTABLE_STATES = ADAPTER_STATES
TOKEN_ENV = "HF_TOKEN"
GRACE_S = 10.0  # a cancelled worker gets this long to end before its group is killed
_REPO_ID_RE = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
_STORED = (".safetensors", ".bin", ".pt", ".gguf")  # already dense: deflating them costs time for nothing
CANCELLED = {"error": "Cancelled by the user", "error_kind": "", "hint": ""}
DEAD = {
    "error": "The export worker stopped before it could report",
    "error_kind": "killed",
    "hint": "See export.log; if the machine ran out of memory, close other programs or stop a training run, "
    "then try again",
}


@dataclass
class ExportStatus(WorkerStatus):
    """exports/status.json: the latest merge or push of one run (the worker's fields and the export's own)."""

    state: str = "idle"  # idle | running | completed | failed | cancelled
    action: str = ""  # "merge", "gguf" or "push"
    progress: float = 0.0  # 0..1
    dtype: str = ""
    target: str = ""  # the folder written (merge) or uploaded (push)
    repo_id: str = ""
    url: str = ""
    verification: dict | None = None  # the last merge's report


# ---- layout ------------------------------------------------------------------------------------
def status_path(paths: RunPaths) -> Path:
    return paths.exports / "status.json"


def log_path(paths: RunPaths) -> Path:
    return paths.exports / "export.log"


def merged_dir(paths: RunPaths, dtype: str) -> Path:
    return paths.merged / dtype


def read_verification(folder: Path) -> dict | None:
    try:
        data = json.loads((Path(folder) / "verification.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def list_merged(paths: RunPaths) -> list[Path]:
    """The run's merged model folders that passed verification (float32 first); each loads with
    `AutoModelForCausalLM.from_pretrained(folder)`."""
    found = []
    for dtype in EXPORT_DTYPES:
        folder = merged_dir(paths, dtype)
        report = read_verification(folder)
        if (folder / "config.json").is_file() and report and report.get("passed"):
            found.append(folder)
    return found


def exportable_runs(root: str | Path) -> list[RunPaths]:
    """Completed or stopped runs with an adapter on disk, newest first."""
    return [
        p
        for p in list_runs(root)
        if read_status(p).state in EXPORTABLE_STATES and (p.adapter / "adapter_config.json").is_file()
    ]


def check_exportable(paths: RunPaths) -> None:
    """Raise ConfigError (with what to do) unless the run is finished and has its adapter."""
    if not paths.config.is_file():
        raise ConfigError(
            f"{paths.root} is not a run folder (no config.yaml)",
            "Pass the folder of a finished run, e.g. one listed in the Runs tab",
        )
    state = read_status(paths).state
    if state not in EXPORTABLE_STATES:
        raise ConfigError(
            f"Run {paths.run_id} is {state}; only a completed or stopped run can be exported",
            "Wait for it to finish, or resume it and let it complete",
        )
    if not (paths.adapter / "adapter_config.json").is_file():
        raise ConfigError(
            f"Run {paths.run_id} has no adapter (adapter/adapter_config.json is missing)",
            "Train it again: the adapter is written when a run completes or is stopped and saved",
        )


# ---- status ------------------------------------------------------------------------------------
def read_export_status(paths: RunPaths) -> ExportStatus:
    try:
        data = json.loads(status_path(paths).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return ExportStatus.from_dict(data)
    except FileNotFoundError:
        return ExportStatus()
    except (ValueError, OSError) as exc:
        return ExportStatus(
            state="failed",
            error=f"exports/status.json is unreadable ({exc})",
            error_kind="internal",
            hint="Start the export again",
        )


def update_export_status(paths: RunPaths, **changes: object) -> ExportStatus:
    """Change some fields under the run's status lock (the server and the worker both write)."""
    paths.exports.mkdir(parents=True, exist_ok=True)
    with _status_lock(paths):
        status = read_export_status(paths)
        for key, value in changes.items():
            setattr(status, key, value)
        write_json_atomic(status_path(paths), asdict(status))
    return status


def scrub(text: str, secrets: list[str | None]) -> str:
    """`text` with every secret replaced, for anything that may be shown or written."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


# ---- the adapter and zips -----------------------------------------------------------------------
def zip_folder(folder: Path, out: Path, top: str, extra: dict[str, str] | None = None) -> Path:
    """Zip `folder` into `out` under one top folder, atomically; `extra` text files replace namesakes."""
    folder, out, extra = Path(folder), Path(out), extra or {}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            for file in sorted(p for p in folder.rglob("*") if p.is_file()):
                name = file.relative_to(folder).as_posix()
                if name not in extra:
                    method = zipfile.ZIP_STORED if file.suffix in _STORED else zipfile.ZIP_DEFLATED
                    archive.write(file, f"{top}/{name}", compress_type=method)
            for name, text in extra.items():
                archive.writestr(f"{top}/{name}", text)
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def write_adapter_export(paths: RunPaths) -> Path:
    """exports/adapter/ (what a push uploads): the run's adapter and tokenizer, its model card as README.md and
    its config naming the base by its public id."""
    check_exportable(paths)
    out = paths.exports / "adapter"
    tmp = paths.exports / f".adapter.tmp-{os.getpid()}-{threading.get_ident()}"
    try:
        shutil.copytree(paths.adapter, tmp)
        for name, text in adapter_export_files(paths).items():
            (tmp / name).write_text(text, encoding="utf-8")
        shutil.rmtree(out, ignore_errors=True)
        tmp.replace(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def adapter_zip(paths: RunPaths, out: str | Path | None = None) -> Path:
    """The adapter with its model card as a zip (default exports/<run_id>-adapter.zip); unzipped, it loads
    with `PeftModel.from_pretrained(base, "<run_id>-adapter")`, the base named by its public id in its
    adapter_config.json and card. The run's own files are only read."""
    check_exportable(paths)
    target = Path(out) if out else paths.exports / f"{paths.run_id}-adapter.zip"
    if target.is_dir():
        raise ConfigError(f"{target} is a folder", "Give a file name ending in .zip")
    return zip_folder(paths.adapter, target, f"{paths.run_id}-adapter", adapter_export_files(paths))


def merged_zip(paths: RunPaths, dtype: str, out: Path) -> Path:
    folder = merged_dir(paths, dtype)
    if folder not in list_merged(paths):
        raise ConfigError(
            f"Run {paths.run_id} has no verified {dtype} merge",
            f"Press Merge with dtype {dtype} first (or: python -m lora_studio merge --run-dir "
            f"{paths.root} --out DIR --dtype {dtype})",
        )
    return zip_folder(folder, out, f"{paths.run_id}-merged-{dtype}")


# ---- the worker process ------------------------------------------------------------------------
def worker_argv(action: str, paths: RunPaths, *options: str) -> list[str]:
    """argv of one export worker (a list: no shell; never a secret in it, since /proc shows argv)."""
    return processes.module_argv("lora_studio.engine.export_worker", action, "--run-dir", str(paths.root), *options)


def active_export(root: str | Path) -> str | None:
    """The run id whose export is running now, if any (one at a time: a merge holds a model twice in memory)."""
    for paths in list_runs(root):
        if poll_export(paths).state == "running":
            return paths.run_id
    return None


def _refuse_if_busy(paths: RunPaths) -> None:
    busy = active_export(paths.root.parent)
    if busy:
        raise ConfigError(f"An export of run {busy} is running", "Wait for it to finish, or cancel it")


def _launch(
    paths: RunPaths, argv: list[str], token: str | None = None, keep_server_token: bool = True, **fields_: object
) -> ExportStatus:
    # A visitor of a public Space must not push with the owner's token; a token goes through the environment.
    env = processes.worker_env({TOKEN_ENV: token} if token else None, () if keep_server_token else (TOKEN_ENV,))
    update_export_status(
        paths,
        **{
            **asdict(ExportStatus()),
            **fields_,
            "state": "running",
            "started": time.time(),
            "phase": "starting the export worker",
        },
    )
    try:
        worker = processes.start(argv, log_path(paths), f"{fields_.get('action')} started", env, paths.root)
    except processes.WorkerStartError as exc:
        return update_export_status(paths, **exc.status_fields("the export"))
    return update_export_status(paths, pid=worker.pid, pid_start=worker.pid_start)


def start_merge(paths: RunPaths, dtype: str) -> ExportStatus:
    """Merge the run's adapter into its base, verify and save it to merged/<dtype>/ in a worker process."""
    if dtype not in EXPORT_DTYPES:
        raise ConfigError(f"Unknown dtype '{dtype}'", f"Choose one of {', '.join(EXPORT_DTYPES)}")
    check_exportable(paths)
    _refuse_if_busy(paths)
    target = merged_dir(paths, dtype)
    argv = worker_argv("merge", paths, "--dtype", dtype, "--out", str(target))
    return _launch(paths, argv, action="merge", dtype=dtype, target=str(target))


def start_gguf(paths: RunPaths, qtype: str) -> ExportStatus:
    """Write a verified GGUF file (merging into float32 first when no verified merge exists) in a worker."""
    from lora_studio.gguf_files import GGUF_TYPES, gguf_path

    if qtype not in GGUF_TYPES:
        raise ConfigError(f"Unknown GGUF type '{qtype}'", f"Choose one of {', '.join(GGUF_TYPES)}")
    check_exportable(paths)
    _refuse_if_busy(paths)
    target = gguf_path(paths, qtype)
    return _launch(paths, worker_argv("gguf", paths, "--type", qtype), action="gguf", dtype=qtype, target=str(target))


def check_repo_id(repo_id: str) -> str:
    repo_id = (repo_id or "").strip()
    if not _REPO_ID_RE.match(repo_id) or ".." in repo_id:
        raise ConfigError(
            f"'{repo_id}' is not a Hub repository id" if repo_id else "No repository id was given",
            "Type it as owner/name, e.g. my-user/my-lora (letters, digits, - _ .)",
        )
    return repo_id


def push_source(paths: RunPaths, what: str) -> Path:
    """The folder a push uploads: 'adapter' (written fresh with its card) or 'merged-<dtype>' (verified)."""
    if what == "adapter":
        return write_adapter_export(paths)
    if what == "gguf":
        from lora_studio.gguf_files import gguf_dir

        if not any(gguf_dir(paths).glob("*.gguf")):
            raise ConfigError(f"Run {paths.run_id} has no GGUF file to push", "Export GGUF first")
        return gguf_dir(paths)
    dtype = what.removeprefix("merged-")
    folder = merged_dir(paths, dtype)
    if not what.startswith("merged-") or folder not in list_merged(paths):
        raise ConfigError(
            f"Run {paths.run_id} has no verified merged model '{what}' to push", "Merge it first, or push the adapter"
        )
    return folder


def start_push(
    paths: RunPaths, what: str, repo_id: str, token: str | None = None, private: bool = True
) -> ExportStatus:
    """Upload the adapter or a merged model to the Hub in a worker; the token goes through its environment."""
    repo_id = check_repo_id(repo_id)
    if settings.hub_offline():
        raise StudioError(
            "The Hugging Face Hub is switched off here (HF_HUB_OFFLINE is set), so nothing can be pushed",
            "Download the .zip instead, or start LoRA Studio without HF_HUB_OFFLINE on a machine with network access",
            kind="config",
        )
    server_token = settings.push_with_server_token()
    if not (token or (server_token and os.environ.get(TOKEN_ENV))):
        raise ConfigError(
            "No Hugging Face token",
            "Paste a token with write access (huggingface.co/settings/tokens)"
            + (
                " or start LoRA Studio with HF_TOKEN set"
                if server_token
                else "; on a Space the server's HF_TOKEN is not lent to visitors unless the operator sets "
                "LORA_STUDIO_SHARE_SERVER_TOKEN=1"
            ),
        )
    check_exportable(paths)
    _refuse_if_busy(paths)
    folder = push_source(paths, what)
    argv = worker_argv("push", paths, "--folder", str(folder), "--repo-id", repo_id, *([] if private else ["--public"]))
    return _launch(
        paths, argv, token=token, keep_server_token=server_token, action="push", target=str(folder), repo_id=repo_id
    )


def poll_export(paths: RunPaths) -> ExportStatus:
    """The export status; a worker that died without reporting is marked failed (or cancelled) here."""
    processes.reap()
    status = read_export_status(paths)
    if status.state != "running" or not status.pid or processes.attach(status.pid, status.pid_start, paths.root):
        return status
    processes.signal_group(status.pid, signal.SIGKILL)  # nothing of it may linger
    with _status_lock(paths):  # read again: the worker may have reported just before it ended
        status = read_export_status(paths)
        if status.state == "running":
            ended = {"finished": time.time(), "state": "cancelled" if status.cancel_requested else "failed"}
            ended.update(phase=ended["state"], **(DEAD if ended["state"] == "failed" else CANCELLED))
            status = ExportStatus.from_dict({**asdict(status), **ended})
            write_json_atomic(status_path(paths), asdict(status))
    return status


def cancel_export(paths: RunPaths) -> str:
    """Terminate the running export (its whole process group), killing it after GRACE_S."""
    status = poll_export(paths)
    worker = processes.attach(status.pid, status.pid_start, paths.root) if status.state == "running" else None
    if worker is None:
        raise ConfigError(f"No export of run {paths.run_id} is running", "Nothing to cancel")
    update_export_status(paths, cancel_requested=True, phase="cancelling")
    worker.stop(GRACE_S)
    return "cancelling"


def export_log_tail(paths: RunPaths, lines: int = 20) -> str:
    return tail_lines(log_path(paths), lines) or ""
