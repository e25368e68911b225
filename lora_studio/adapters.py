"""Adapters the Playground can load: finished runs, merged exports and uploads, found and checked on disk.

Plain file handling (no torch): the web server lists adapters before any weights load. Importing an upload is
`adapter_uploads.py`. Whether an adapter fits a base is decided from the tensor shapes in its safetensors header
against the base's layers (`adapter_checks.py`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lora_studio import settings
from lora_studio.adapter_checks import CONFIG_FILE, check_adapter_folder, recorded_base
from lora_studio.config import RunConfig
from lora_studio.errors import ConfigError, ModelError, StudioError
from lora_studio.messages import status_words, text
from lora_studio.modelref import parse_model_ref
from lora_studio.runs import ADAPTER_STATES, RunPaths, list_runs, read_status

UPLOAD_NOTE = "lora_studio_upload.json"  # where an imported adapter remembers the name it was uploaded as
MAX_NAME_CHARS = 100  # an uploaded file's name as it is shown


@dataclass(frozen=True)
class AdapterInfo:
    key: str  # "run:<run_id>" or "upload:<hash>": stable across refreshes
    # The name and where it comes from, in the language of the listing: "<run id> (run)". Every language writes
    # it as "<name> (<where from>)", which `name` relies on.
    label: str
    path: Path
    base_model: str  # the reference to load as its base (a run's model setting, else what peft recorded)
    source: str  # "run" or "upload"
    run_id: str = ""
    problem: str = ""  # why it cannot be loaded ('' when it can): listed, never loaded

    @property
    def name(self) -> str:
        """What the user calls it in messages: the run id, or the uploaded file's name."""
        return self.label.rsplit(" (", 1)[0]


def adapters_dir() -> Path:
    return settings.uploads_dir() / "adapters"


# ---- discovery ---------------------------------------------------------------------------------
def _problem(folder: Path, name: str) -> str:
    """Why the adapter in `folder` cannot be loaded, as one line ('' when it can). Never raises: a listing
    (the Playground's, the CLI's, the one built at server start) shows an unusable adapter, it does not fail."""
    try:
        check_adapter_folder(folder, name)
    except StudioError as exc:
        return exc.message
    return ""


def _run_adapter_info(paths: RunPaths) -> AdapterInfo:
    base = ""
    try:
        base = RunConfig.load(paths.config).model.name_or_path
    except (StudioError, OSError, ValueError):
        base = ""  # fall back to what peft recorded below
    if not isinstance(base, str) or not base:
        base = recorded_base(paths.adapter)
    return AdapterInfo(
        f"run:{paths.run_id}",
        text("adapters.label.run", name=paths.run_id),
        paths.adapter,
        _display(base),
        "run",
        paths.run_id,
        _problem(paths.adapter, paths.run_id),
    )


def run_adapters(root: Path | None = None) -> list[AdapterInfo]:
    """Completed or stopped runs that saved an adapter, newest first."""
    found = []
    for paths in list_runs(root or settings.runs_dir()):
        if (paths.adapter / CONFIG_FILE).is_file() and read_status(paths).state in ADAPTER_STATES:
            found.append(_run_adapter_info(paths))
    return found


def _upload_name(path: Path) -> str:
    try:
        name = json.loads((path / UPLOAD_NOTE).read_text(encoding="utf-8"))["name"]
    except (OSError, ValueError, KeyError, TypeError):
        return path.name
    return name[:MAX_NAME_CHARS] if isinstance(name, str) and name.strip() else path.name


def uploaded_adapters() -> list[AdapterInfo]:
    folder = adapters_dir()
    if not folder.is_dir():
        return []
    found = []
    # Names starting with a dot are imports still being staged.
    for path in sorted(
        p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / CONFIG_FILE).is_file()
    ):
        name = _upload_name(path)
        problem = _problem(path, name)
        found.append(
            AdapterInfo(
                f"upload:{path.name}",
                text("adapters.label.uploaded", name=name),
                path,
                "" if problem else recorded_base(path),
                "upload",
                problem=problem,
            )
        )
    return found


def list_adapters() -> list[AdapterInfo]:
    return [*run_adapters(), *uploaded_adapters()]


def usable(info: AdapterInfo) -> AdapterInfo:
    """`info` when it can be loaded; otherwise the reason, in words."""
    if info.problem:
        raise ModelError(
            info.problem,
            text("adapters.unusable_upload_hint") if info.source == "upload" else text("adapters.unusable_run_hint"),
        )
    return info


def find_adapter(key: str) -> AdapterInfo:
    for info in list_adapters():
        if info.key == key:
            return info
    raise ModelError(text("adapters.gone", key=key), text("adapters.gone_hint"))


def run_adapter(run: str | RunPaths) -> AdapterInfo:
    """The adapter of one run (its id under the runs folder, or its folder), or an error that says why it has
    none yet."""
    paths = run if isinstance(run, RunPaths) else RunPaths(settings.runs_dir() / run)
    run_id = paths.run_id
    if not paths.config.is_file():
        raise ModelError(text("adapters.no_run", run_id=run_id), text("adapters.no_run_hint"))
    state = read_status(paths).state
    if state not in ADAPTER_STATES or not (paths.adapter / CONFIG_FILE).is_file():
        raise ModelError(
            text("adapters.run_no_adapter", run_id=run_id, state=status_words(state)),
            text("adapters.run_no_adapter_hint"),
        )
    return _run_adapter_info(paths)


def start_adapter(cfg: RunConfig) -> AdapterInfo | None:
    """The earlier run whose adapter this config continues (lora.start_from: a run id or a run folder), checked:
    it has a usable adapter, and it was trained on the same base. None when the run starts a new adapter."""
    wanted = cfg.lora.start_from.strip() if isinstance(cfg.lora.start_from, str) else ""
    if not wanted:
        return None
    looks_like_folder = "/" in wanted or "\\" in wanted or wanted.startswith("~")
    run = RunPaths(Path(wanted).expanduser()) if looks_like_folder else wanted
    try:
        info = usable(run_adapter(run))
    except StudioError as exc:
        raise ConfigError(f"lora.start_from: {exc.message}", exc.hint) from exc
    if info.base_model and not same_base(info.base_model, str(cfg.model.name_or_path)):
        raise ConfigError(
            "lora.start_from: "
            + text(
                "adapters.start_other_base", run_id=info.run_id, trained_on=info.base_model, base=cfg.model.name_or_path
            ),
            text("adapters.start_other_base_hint", trained_on=info.base_model),
        )
    return info


def merged_models(root: Path | None = None) -> list[tuple[str, str]]:
    """(label, folder) of every merged export on disk: runs/<id>/merged/ or runs/<id>/merged/<name>/."""
    found = []
    for paths in list_runs(root or settings.runs_dir()):
        if not paths.merged.is_dir():
            continue
        candidates = [paths.merged, *sorted(p for p in paths.merged.iterdir() if p.is_dir())]
        for folder in candidates:
            if (folder / "config.json").is_file():
                suffix = "" if folder == paths.merged else f"/{folder.name}"
                found.append((text("adapters.label.merged", name=f"{paths.run_id}{suffix}"), str(folder)))
        # Exported GGUF files that passed their check load too (converted once, as any local .gguf).
        for gguf in sorted((paths.root / "gguf").glob("*.gguf")):
            if (gguf.with_suffix(".verification.json")).is_file():
                found.append((f"{gguf.name} (GGUF)", str(gguf)))
    return found


def base_choices() -> list[tuple[str, str]]:
    """The embedded model, the base models of runs with adapters, and merged exports, without repeats."""
    choices = [(settings.EMBEDDED_MODEL_NAME, settings.EMBEDDED_MODEL_NAME)]
    for info in list_adapters():
        if info.problem or not info.base_model:
            continue
        if info.base_model not in {value for _, value in choices} and _loadable(info.base_model):
            choices.append((info.base_model, info.base_model))
    return choices + merged_models()


def _loadable(reference: str) -> bool:
    """An upload may name a base folder from another machine: offer only references that could load here."""
    try:
        parse_model_ref(reference)
    except StudioError:
        return False
    return True


def _display(reference: str) -> str:
    """One spelling per model ('embedded' and its aliases become the embedded model's name)."""
    try:
        return parse_model_ref(reference).display
    except StudioError:
        return reference


# ---- does it fit this base? --------------------------------------------------------------------
def model_names(reference: str) -> set[str]:
    """Short names a model goes by (folder name, hub repo name), so one model under two paths matches."""
    text = (reference or "").strip().rstrip("/")
    if not text:
        return set()
    names = {text.lower(), PurePosixPath(text).name.lower()}
    snapshot = re.search(r"models--[^/]+--([^/]+)/snapshots", text)
    if snapshot:
        names.add(snapshot.group(1).lower())
    return names


def same_base(recorded: str, *chosen: str) -> bool:
    """True when the base peft recorded is (by name) one of the references the chosen base goes by."""
    if not recorded:
        return True  # nothing recorded: only the shapes can tell
    wanted = set().union(*(model_names(c) for c in chosen))
    return bool(model_names(recorded) & wanted)
