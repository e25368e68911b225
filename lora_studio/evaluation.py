"""Evaluate, the core side: which rows and models, where results live, and the evaluation worker process.

    runs/<run_id>/eval/status.json          the latest evaluation job of that run: state, phase, rows done, ETA
    runs/<run_id>/eval/eval.log             the worker's stdout and stderr
    runs/<run_id>/eval/<eval_id>/spec.json  what was asked: rows, models, generation settings
    runs/<run_id>/eval/<eval_id>/summary.json, rows.jsonl   the scores (written to a hidden folder, then renamed:
                                            a cancelled or crashed evaluation leaves no half-written summary)

An evaluation of no run (the base or an uploaded adapter on a file) lives in <home>/evaluations/ the same way.
The rows come from the run's own held-out split (the same `split_indices` the Data tab and training use) or
from any file the Data tab reads (`load_dataset_file`, with its detection, mapping and messages). The worker
(`engine/eval_worker.py`) generates every model's answers in batches and scores them with `scoring.py`.
No torch here: the web server and the CLI refuse bad input before a process starts.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lora_studio import processes, settings
from lora_studio.adapters import AdapterInfo, same_base, usable
from lora_studio.config import RunConfig
from lora_studio.dataset_files import ROW_KEY
from lora_studio.dataset_rows import LoadedData, load_dataset_file, split_indices
from lora_studio.errors import ConfigError, DataError, ModelError
from lora_studio.generation_config import GenerationSettings
from lora_studio.messages import english, text
from lora_studio.processes import WorkerStatus
from lora_studio.runs import RunPaths, _status_lock, list_runs, tail_lines, write_json_atomic

BASE_LABEL = "base"
SPEC_FILE, SUMMARY_FILE, ROWS_FILE = "spec.json", "summary.json", "rows.jsonl"
DEFAULT_BATCH = 16  # bench/eval_generate.py: 3.2x one row at a time on 2 CPU cores (8: 2.4x)
MAX_NEW_TOKENS = 256  # answers longer than this are cut (the summary says the cap used)
GRACE_S = 10.0
START_S = 300.0  # a worker that has not reported its pid this long after it was begun never started
MODEL_METRICS = ("loss", "perplexity", "answer_tokens", "seconds_per_row")  # measured by the worker itself
# Pairs of answers: the share of pairs whose chosen answer the model finds more likely than the rejected one
# (summed log-probabilities, teacher-forced: what DPO's implicit reward compares).
PREFERENCE_METRIC = "preference_accuracy"


@dataclass
class EvalStatus(WorkerStatus):
    """eval/status.json: the latest evaluation of one home folder."""

    state: str = "idle"  # idle | running | completed | failed | cancelled
    eval_id: str = ""
    rows_done: int = 0  # answers written so far, all models together
    rows_total: int = 0
    eta_s: float | None = None
    result: str = ""  # the finished evaluation's folder


@dataclass
class EvalRow:
    """One row to answer: the conversation before the reference, and the reference answer."""

    row: int  # the row (or line) number in the source file
    messages: list[dict]  # system/user/assistant turns before the answer
    reference: str
    raw_prompt: str = ""  # prompt/completion rows: the prompt as written, for a model without a chat template
    rejected: str = ""  # pairs of answers: the rejected one (the chosen one is the reference)


@dataclass
class EvalRows:
    rows: list[EvalRow]
    source: str  # "split" or "file"
    path: str  # the data file
    data_format: str
    skipped: list[dict] = field(default_factory=list)  # {"row": n, "reason": "..."}: listed, not evaluated
    run_id: str = ""  # the run whose held-out split it is


@dataclass
class EvalModel:
    label: str  # "base", a run id, or an uploaded adapter's name
    adapter: str = ""  # the adapter folder ('' for the base)
    run_id: str = ""


# ---- where -------------------------------------------------------------------------------------
def eval_root(paths: RunPaths | None) -> Path:
    """The eval/ folder of a run, or <home>/evaluations for an evaluation that involves no run."""
    return paths.root / "eval" if paths is not None else settings.studio_home() / "evaluations"


def status_path(root: Path) -> Path:
    return root / "status.json"


def log_path(root: Path) -> Path:
    return root / "eval.log"


def read_eval_status(root: Path) -> EvalStatus:
    try:
        data = json.loads(status_path(root).read_text(encoding="utf-8"))
        return EvalStatus.from_dict(data) if isinstance(data, dict) else EvalStatus()
    except (OSError, ValueError):
        return EvalStatus()


def update_eval_status(root: Path, **changes: object) -> EvalStatus:
    root.mkdir(parents=True, exist_ok=True)
    with _status_lock(RunPaths(root)):
        status = read_eval_status(root)
        status.change(changes)
        write_json_atomic(status_path(root), asdict(status))
    return status


# ---- rows --------------------------------------------------------------------------------------
def _eval_row(row: dict, fmt: str) -> tuple[EvalRow | None, str]:
    number = int(row.get(ROW_KEY) or 0)
    if fmt == "prompt_completion":
        return EvalRow(number, [{"role": "user", "content": row["prompt"]}], row["completion"], row["prompt"]), ""
    if fmt == "preference":
        prompt = as_turns(row["prompt"], "user")
        chosen, rejected = (_answer_text(row[k]) for k in ("chosen", "rejected"))
        if not any(t["role"] == "user" for t in prompt):
            return None, text("evals.skip.no_user_before_answers")
        raw = row["prompt"] if isinstance(row["prompt"], str) else ""
        return EvalRow(number, prompt, chosen, raw, rejected), ""
    if fmt == "messages":
        turns = row["messages"]
        last = max((i for i, t in enumerate(turns) if t["role"] == "assistant"), default=-1)
        if last < 0 or not turns[last]["content"].strip():
            return None, text("evals.skip.no_assistant_reply")
        if not any(t["role"] == "user" for t in turns[:last]):
            return None, text("evals.skip.no_user_before_reply")
        return EvalRow(number, turns[:last], turns[last]["content"]), ""
    return None, text("evals.skip.plain_text")


def as_turns(value: str | list, role: str) -> list[dict]:
    """Text as a one-turn chat; chat turns as they are (pairs of answers hold either)."""
    return [{"role": role, "content": value}] if isinstance(value, str) else value


def _answer_text(value: str | list) -> str:
    return value if isinstance(value, str) else "\n\n".join(t["content"] for t in value if t["role"] == "assistant")


def rows_from_data(data: LoadedData, indices: list[int] | None = None) -> tuple[list[EvalRow], list[dict]]:
    """(rows to evaluate, skipped rows with the reason) from loaded data, optionally only `indices`."""
    if data.format == "text":
        raise DataError(text("evals.plain_text", name=data.path.name), text("evals.plain_text_hint"))
    skipped = [{"row": issue.row, "reason": issue.message} for issue in data.errors]
    rows = []
    for i in indices if indices is not None else range(len(data.rows)):
        row, reason = _eval_row(data.rows[i], data.format)
        if row is None:
            skipped.append({"row": data.rows[i].get(ROW_KEY), "reason": reason})
        else:
            rows.append(row)
    return rows, skipped


def _require_rows(rows: list[EvalRow], skipped: list[dict], where: str) -> None:
    if rows:
        return
    message = (
        text("evals.no_rows_first", where=where, row=skipped[0]["row"], reason=skipped[0]["reason"])
        if skipped
        else text("evals.no_rows", where=where)
    )
    raise DataError(message, text("evals.no_rows_hint"))


def split_rows(paths: RunPaths, limit: int = 0) -> EvalRows:
    """The run's held-out rows: exactly the ones the Data tab showed as eval and training evaluated on."""
    cfg = RunConfig.load(paths.config)
    if cfg.data.eval_fraction <= 0:
        raise DataError(text("evals.no_held_out", run_id=paths.run_id), text("evals.no_held_out_hint"))
    if not cfg.data.path or not Path(cfg.data.path).is_file():
        raise DataError(
            text("evals.data_gone", run_id=paths.run_id, path=cfg.data.path or text("evals.none_recorded")),
            text("evals.data_gone_hint"),
        )
    data = load_dataset_file(cfg.data.path, cfg.data.format, cfg.data.columns)
    _, eval_idx = split_indices(len(data.rows), cfg.data.eval_fraction, cfg.training.seed)
    rows, skipped = rows_from_data(data, eval_idx)
    _require_rows(rows, skipped, text("evals.split_of_run", run_id=paths.run_id))
    return EvalRows(rows[:limit] if limit else rows, "split", str(cfg.data.path), data.format, skipped, paths.run_id)


def file_rows(path: str | Path, mapping: dict | None = None, limit: int = 0, fmt: str = "auto") -> EvalRows:
    """Every row of a file, read as the Data tab reads it (same detection, mapping and messages)."""
    data = load_dataset_file(path, fmt, mapping, settings.max_upload_bytes())
    rows, skipped = rows_from_data(data)
    _require_rows(rows, skipped, Path(path).name)
    return EvalRows(rows[:limit] if limit else rows, "file", str(path), data.format, skipped)


# ---- models ------------------------------------------------------------------------------------
def models_for(base_ref: str, include_base: bool, adapters: list[AdapterInfo]) -> list[EvalModel]:
    """The models to compare, refusing an adapter that was trained on another base, in words."""
    models = [EvalModel(BASE_LABEL)] if include_base else []
    for info in adapters:
        usable(info)
        if info.base_model and not same_base(info.base_model, base_ref):
            raise ModelError(
                text("evals.other_base", name=info.name, trained_on=info.base_model, base=base_ref),
                text("evals.other_base_hint"),
            )
        models.append(EvalModel(info.run_id or info.name, str(info.path), info.run_id))
    if not models:
        raise ConfigError(text("evals.no_model"), text("evals.no_model_hint"))
    labels = [m.label for m in models]
    if len(set(labels)) != len(labels):
        raise ConfigError(text("evals.picked_twice"), text("evals.picked_twice_hint"))
    return models


# ---- the worker --------------------------------------------------------------------------------
def _new_id(root: Path) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    n, eval_id = 1, stamp
    while (root / eval_id).exists() or (root / f".{eval_id}").exists():
        n += 1
        eval_id = f"{stamp}-{n}"
    return eval_id


def write_spec(
    root: Path,
    base: dict,
    models: list[EvalModel],
    rows: EvalRows,
    generation: GenerationSettings,
    batch_size: int = DEFAULT_BATCH,
) -> Path:
    """A new hidden folder holding spec.json; the worker renames it to eval/<id> when the scores are written."""
    if not 1 <= batch_size <= 256:
        raise ConfigError(text("evals.bad_batch", size=batch_size), text("evals.bad_batch_hint"))
    generation.require_valid()
    eval_id = _new_id(root)
    folder = root / f".{eval_id}"
    folder.mkdir(parents=True)
    spec = {
        "id": eval_id,
        "created": time.time(),
        "base": base,
        "models": [asdict(m) for m in models],
        "data": {k: v for k, v in asdict(rows).items() if k != "rows"},
        "rows": [asdict(r) for r in rows.rows],
        "generation": asdict(generation),
        "batch_size": batch_size,
    }
    write_json_atomic(folder / SPEC_FILE, spec)
    return folder


def worker_argv(spec_folder: Path) -> list[str]:
    return processes.module_argv("lora_studio.engine.eval_worker", "--spec", str(spec_folder / SPEC_FILE))


def active_evaluation() -> Path | None:
    """The eval root of the evaluation running now, if any: one at a time (each holds a model in memory)."""
    roots = [eval_root(p) for p in list_runs(settings.runs_dir())] + [eval_root(None)]
    return next((root for root in roots if poll_evaluation(root).state == "running"), None)


def begin(spec_folder: Path) -> dict:
    """Mark the evaluation of a written spec as running (refused while another one runs); returns the spec."""
    root = spec_folder.parent
    if active_evaluation() is not None:
        shutil.rmtree(spec_folder, ignore_errors=True)
        raise ConfigError(text("evals.busy"), text("evals.busy_hint"))
    spec = json.loads((spec_folder / SPEC_FILE).read_text(encoding="utf-8"))
    update_eval_status(
        root,
        **{
            **asdict(EvalStatus()),
            "state": "running",
            "eval_id": spec["id"],
            "rows_total": len(spec["rows"]) * len(spec["models"]),
            "started": time.time(),
            "phase": "starting the evaluation worker",
        },
    )
    return spec


def start_evaluation(spec_folder: Path) -> EvalStatus:
    """Start the worker for a written spec (the dashboard); the CLI runs the worker in its terminal instead."""
    root = spec_folder.parent
    begin(spec_folder)
    try:
        worker = processes.start(worker_argv(spec_folder), log_path(root), "evaluation started", None, root)
    except processes.WorkerStartError as exc:
        shutil.rmtree(spec_folder, ignore_errors=True)
        return update_eval_status(root, **exc.status_fields("the evaluation"))
    return update_eval_status(root, pid=worker.pid, pid_start=worker.pid_start)


def poll_evaluation(root: Path) -> EvalStatus:
    """The status; a worker that died without reporting is marked failed (or cancelled) and its folder removed."""
    processes.reap()
    status = read_eval_status(root)
    if status.state != "running":
        return status
    if not status.pid:  # begun, the worker not reporting yet: dead only if it never did within START_S
        if time.time() - (status.started or 0) < START_S:
            return status
    elif processes.attach(status.pid, status.pid_start, root):
        return status
    else:
        processes.signal_group(status.pid, signal.SIGKILL)
    with _status_lock(RunPaths(root)):
        status = read_eval_status(root)
        if status.pid and processes.attach(status.pid, status.pid_start, root):
            return status  # the worker reported in meanwhile
        if status.state == "running":
            state = "cancelled" if status.cancel_requested else "failed"
            ended = _ended(state)
            status = EvalStatus.from_dict({**asdict(status), **ended, "state": state, "phase": state})
            status.finished = time.time()
            write_json_atomic(status_path(root), asdict(status))
    shutil.rmtree(root / f".{status.eval_id}", ignore_errors=True)
    return status


def cancel_evaluation(root: Path) -> str:
    status = poll_evaluation(root)
    worker = processes.attach(status.pid, status.pid_start, root) if status.state == "running" else None
    if worker is None:
        raise ConfigError(text("evals.not_running"), text("evals.not_running_hint"))
    update_eval_status(root, cancel_requested=True, phase="cancelling")
    worker.stop(GRACE_S)
    return "cancelling"


def eval_log_tail(root: Path, lines: int = 20) -> str:
    return tail_lines(log_path(root), lines) or ""


def _ended(state: str) -> dict[str, str]:
    """Why an evaluation ended without its worker's word, in English words (status.json is also the worker's and
    the CLI's) that a page says again in its language."""
    if state == "cancelled":
        return {"error": english("jobs.cancelled_by_user"), "error_kind": "", "hint": ""}
    return {
        "error": english("evals.worker_dead"),
        "error_kind": "killed",
        "hint": english("evals.worker_dead_hint"),
    }
