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
from lora_studio.messages import english, status_words, text
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


def _ended(state: str) -> dict[str, str]:
    """Why an export ended without its worker's word. Written into exports/status.json, which the worker (in
    English) and the CLI also write and read: English words that a page says again in its language."""
    if state != "failed":
        return {"error": english("jobs.cancelled_by_user"), "error_kind": "", "hint": ""}
    return {
        "error": english("exports.worker_dead"),
        "error_kind": "killed",
        "hint": english("exports.worker_dead_hint"),
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
        raise ConfigError(text("exports.not_run_folder", root=paths.root), text("exports.not_run_folder_hint"))
    state = read_status(paths).state
    if state not in EXPORTABLE_STATES:
        raise ConfigError(
            text("exports.not_finished", run_id=paths.run_id, state=status_words(state)),
            text("exports.not_finished_hint"),
        )
    if not (paths.adapter / "adapter_config.json").is_file():
        raise ConfigError(text("exports.no_adapter", run_id=paths.run_id), text("exports.no_adapter_hint"))


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
            error=text("exports.status_unreadable", error=exc),
            error_kind="internal",
            hint=text("exports.status_unreadable_hint"),
        )


def update_export_status(paths: RunPaths, **changes: object) -> ExportStatus:
    """Change some fields under the run's status lock (the server and the worker both write)."""
    paths.exports.mkdir(parents=True, exist_ok=True)
    with _status_lock(paths):
        status = read_export_status(paths)
        status.change(changes)
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
            for name, content in extra.items():
                archive.writestr(f"{top}/{name}", content)
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
        for name, content in adapter_export_files(paths).items():
            (tmp / name).write_text(content, encoding="utf-8")
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
        raise ConfigError(text("exports.zip_is_folder", target=target), text("exports.zip_is_folder_hint"))
    return zip_folder(paths.adapter, target, f"{paths.run_id}-adapter", adapter_export_files(paths))


def merged_zip(paths: RunPaths, dtype: str, out: Path) -> Path:
    folder = merged_dir(paths, dtype)
    if folder not in list_merged(paths):
        raise ConfigError(
            text("exports.no_verified_merge", run_id=paths.run_id, dtype=dtype),
            text("exports.no_verified_merge_hint", dtype=dtype, root=paths.root),
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
        raise ConfigError(text("exports.busy", run_id=busy), text("exports.busy_hint"))


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
        raise ConfigError(
            text("exports.unknown_dtype", dtype=dtype), text("exports.choose_one", choices=", ".join(EXPORT_DTYPES))
        )
    check_exportable(paths)
    _refuse_if_busy(paths)
    target = merged_dir(paths, dtype)
    argv = worker_argv("merge", paths, "--dtype", dtype, "--out", str(target))
    return _launch(paths, argv, action="merge", dtype=dtype, target=str(target))


def start_gguf(paths: RunPaths, qtype: str) -> ExportStatus:
    """Write a verified GGUF file (merging into float32 first when no verified merge exists) in a worker."""
    from lora_studio.gguf_files import GGUF_TYPES, gguf_path

    if qtype not in GGUF_TYPES:
        raise ConfigError(
            text("exports.unknown_gguf_type", qtype=qtype), text("exports.choose_one", choices=", ".join(GGUF_TYPES))
        )
    check_exportable(paths)
    _refuse_if_busy(paths)
    target = gguf_path(paths, qtype)
    return _launch(paths, worker_argv("gguf", paths, "--type", qtype), action="gguf", dtype=qtype, target=str(target))


def check_repo_id(repo_id: str) -> str:
    repo_id = (repo_id or "").strip()
    if not _REPO_ID_RE.match(repo_id) or ".." in repo_id:
        raise ConfigError(
            text("exports.bad_repo_id", repo_id=repo_id) if repo_id else text("exports.no_repo_id"),
            text("exports.bad_repo_id_hint"),
        )
    return repo_id


def push_source(paths: RunPaths, what: str) -> Path:
    """The folder a push uploads: 'adapter' (written fresh with its card) or 'merged-<dtype>' (verified)."""
    if what == "adapter":
        return write_adapter_export(paths)
    if what == "gguf":
        from lora_studio.gguf_files import gguf_dir

        if not any(gguf_dir(paths).glob("*.gguf")):
            raise ConfigError(
                text("exports.no_gguf_to_push", run_id=paths.run_id), text("exports.no_gguf_to_push_hint")
            )
        return gguf_dir(paths)
    dtype = what.removeprefix("merged-")
    folder = merged_dir(paths, dtype)
    if not what.startswith("merged-") or folder not in list_merged(paths):
        raise ConfigError(
            text("exports.no_merged_to_push", run_id=paths.run_id, what=what), text("exports.no_merged_to_push_hint")
        )
    return folder


def start_push(
    paths: RunPaths, what: str, repo_id: str, token: str | None = None, private: bool = True
) -> ExportStatus:
    """Upload the adapter or a merged model to the Hub in a worker; the token goes through its environment."""
    repo_id = check_repo_id(repo_id)
    if settings.hub_offline():
        raise StudioError(text("exports.hub_offline"), text("exports.hub_offline_hint"), kind="config")
    server_token = settings.push_with_server_token()
    if not (token or (server_token and os.environ.get(TOKEN_ENV))):
        raise ConfigError(
            text("exports.no_token"),
            text("exports.no_token_hint_server" if server_token else "exports.no_token_hint_visitor"),
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
            ended.update(phase=ended["state"], **_ended(str(ended["state"])))
            status = ExportStatus.from_dict({**asdict(status), **ended})
            write_json_atomic(status_path(paths), asdict(status))
    return status


def cancel_export(paths: RunPaths) -> str:
    """Terminate the running export (its whole process group), killing it after GRACE_S."""
    status = poll_export(paths)
    worker = processes.attach(status.pid, status.pid_start, paths.root) if status.state == "running" else None
    if worker is None:
        raise ConfigError(text("exports.nothing_running", run_id=paths.run_id), text("exports.nothing_running_hint"))
    update_export_status(paths, cancel_requested=True, phase="cancelling")
    worker.stop(GRACE_S)
    return "cancelling"


def export_log_tail(paths: RunPaths, lines: int = 20) -> str:
    return tail_lines(log_path(paths), lines) or ""
