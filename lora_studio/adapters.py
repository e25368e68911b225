"""Adapters the Playground can load: finished runs, merged exports and uploads, found and checked on disk.

Plain file handling (no torch): the web server lists adapters and refuses a bad upload before any
weights load. An uploaded zip is never passed to `extractall`: each entry is checked (no absolute
path, no `..`, no link) and copied by hand into uploads/adapters/<content hash>/. Whether an adapter
fits a base is decided from the tensor shapes in its safetensors header against the base's layers.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import time
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lora_studio import settings
from lora_studio.adapter_checks import CONFIG_FILE, PICKLE_FILE, WEIGHTS_FILE, check_adapter_folder, recorded_base
from lora_studio.config import RunConfig
from lora_studio.errors import ConfigError, ModelError, StudioError
from lora_studio.modelref import parse_model_ref
from lora_studio.runs import ADAPTER_STATES, RunPaths, list_runs, read_status

UPLOAD_NOTE = "lora_studio_upload.json"  # where an imported adapter remembers the name it was uploaded as
# What an adapter folder may hold; anything else in an upload (optimizer state, pickles, scripts) is left out.
KEEP_SUFFIXES = (".json", ".safetensors", ".txt", ".model", ".jinja", ".md", ".tiktoken")
MAX_UNPACKED_FACTOR = 2  # unpacked size limit, as a multiple of the upload limit (safetensors barely compress)
MAX_ZIP_ENTRIES = 1000  # an adapter folder holds a handful of files
MAX_NAME_CHARS = 100  # an uploaded file's name as it is shown


@dataclass(frozen=True)
class AdapterInfo:
    key: str  # "run:<run_id>" or "upload:<hash>": stable across refreshes
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
        f"{paths.run_id} (run)",
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
                f"{name} (uploaded)",
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
            "Delete it and upload a working adapter (saved by peft's save_pretrained)"
            if info.source == "upload"
            else "Train the run again, or pick another adapter",
        )
    return info


def find_adapter(key: str) -> AdapterInfo:
    for info in list_adapters():
        if info.key == key:
            return info
    raise ModelError(f"There is no adapter '{key}' any more", "Refresh the list and pick another adapter")


def run_adapter(run: str | RunPaths) -> AdapterInfo:
    """The adapter of one run (its id under the runs folder, or its folder), or an error that says why it has
    none yet."""
    paths = run if isinstance(run, RunPaths) else RunPaths(settings.runs_dir() / run)
    run_id = paths.run_id
    if not paths.config.is_file():
        raise ModelError(f"There is no run '{run_id}'", "Pick a run listed on the Runs tab")
    state = read_status(paths).state
    if state not in ADAPTER_STATES or not (paths.adapter / CONFIG_FILE).is_file():
        raise ModelError(
            f"Run {run_id} has no adapter to try ({state})",
            "An adapter is saved when a run completes or is stopped with 'Stop and save'",
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
            f"lora.start_from: run {info.run_id} trained its adapter on {info.base_model}, not on "
            f"{cfg.model.name_or_path}",
            f"Pick the same base model ({info.base_model}), or start from the base model instead",
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
                found.append((f"{paths.run_id}{suffix} (merged)", str(folder)))
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


# ---- uploads -----------------------------------------------------------------------------------
def _check_upload_size(path: Path) -> None:
    limit = settings.max_upload_bytes()
    size = path.stat().st_size
    if size > limit:
        raise ModelError(
            f"{path.name} is {size / 2**20:.0f} MB, above the {limit / 2**20:.0f} MB upload limit",
            "Use a smaller adapter, or raise LORA_STUDIO_MAX_UPLOAD_MB when starting LoRA Studio",
        )


def _unsafe_reason(info: zipfile.ZipInfo) -> str:
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    if ".." in PurePosixPath(name).parts:
        return "a '..' path that points outside the folder"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link"
    return ""


def _keep(name: str) -> bool:
    # The pickle is staged so the check can refuse it by name; it is never loaded unless allowed.
    return name.endswith(KEEP_SUFFIXES) or name == PICKLE_FILE


def _adapter_root(members: list[zipfile.ZipInfo], zip_name: str) -> str:
    """The one folder inside the zip that holds adapter_config.json ('' for the zip's top level)."""
    roots = sorted(
        {str(PurePosixPath(m.filename).parent) for m in members if PurePosixPath(m.filename).name == CONFIG_FILE}
    )
    if not roots:
        raise ModelError(
            f"{zip_name} holds no {CONFIG_FILE}, so it is not a PEFT adapter",
            "Zip the folder that peft's save_pretrained wrote",
        )
    if len(roots) > 1:
        raise ModelError(
            f"{zip_name} holds {len(roots)} adapters ({', '.join(roots[:3])})", "Upload one adapter per zip"
        )
    return "" if roots[0] == "." else roots[0]


def _finish_import(tmp: Path, digest: str, original_name: str) -> AdapterInfo:
    """Validate the staged folder, then move it into place (a half-imported adapter is never listed)."""
    try:
        check_adapter_folder(tmp, original_name)
        if (tmp / WEIGHTS_FILE).is_file():
            (tmp / PICKLE_FILE).unlink(missing_ok=True)  # safetensors wins: never keep a pickle we do not need
        (tmp / UPLOAD_NOTE).write_text(json.dumps({"name": original_name, "imported": time.time()}), encoding="utf-8")
        target = adapters_dir() / digest
        if target.exists():
            shutil.rmtree(target)
        tmp.replace(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return AdapterInfo(f"upload:{digest}", f"{original_name} (uploaded)", target, recorded_base(target), "upload")


def _digest(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def _staging(digest: str) -> Path:
    tmp = adapters_dir() / f".{digest}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def import_zip(zip_path: str | Path, original_name: str | None = None) -> AdapterInfo:
    """Unpack an uploaded adapter zip into uploads/adapters/<hash>/, refusing unsafe entries and pickles."""
    source = Path(zip_path)
    name = Path(original_name or source.name).name[:MAX_NAME_CHARS]
    _check_upload_size(source)
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelError(f"{name} is not a readable zip file", "Zip the adapter folder again and upload it") from exc
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > MAX_ZIP_ENTRIES:
            raise ModelError(
                f"{name} holds {len(members):,} files; an adapter folder holds a handful",
                "Zip only the adapter folder's own files",
            )
        for member in archive.infolist():
            reason = _unsafe_reason(member)
            if reason:
                raise ModelError(
                    f"{name} was refused: entry '{member.filename[:MAX_NAME_CHARS]}' is {reason}",
                    "Zip only the adapter folder's own files",
                )
        limit = settings.max_upload_bytes() * MAX_UNPACKED_FACTOR
        if sum(m.file_size for m in members) > limit:
            raise ModelError(
                f"{name} unpacks to more than {limit / 2**20:.0f} MB",
                "Zip only the adapter files, or raise LORA_STUDIO_MAX_UPLOAD_MB",
            )
        root = _adapter_root(members, name)
        digest = _digest([source])
        tmp = _staging(digest)
        try:
            for member in members:
                path = PurePosixPath(member.filename)
                if str(path.parent) == (root or ".") and _keep(path.name):
                    with archive.open(member) as src, (tmp / path.name).open("wb") as dst:
                        shutil.copyfileobj(src, dst)
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            # A damaged entry (bad checksum, cut short), an encrypted one, or a compression zipfile cannot read.
            raise ModelError(
                f"{name} cannot be unpacked ({type(exc).__name__}: {str(exc)[:120]})",
                "Zip the adapter folder again (plain zip, no password) and upload it",
            ) from exc
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return _finish_import(tmp, digest, Path(name).stem)


def import_files(paths: Sequence[str | Path], original_name: str = "adapter") -> AdapterInfo:
    """Import the files of an adapter folder (uploaded as several files): kept by their own names."""
    files = sorted((Path(p) for p in paths), key=lambda p: p.name)
    for path in files:
        _check_upload_size(path)
    digest = _digest(files)
    tmp = _staging(digest)
    for path in files:
        if _keep(path.name):
            shutil.copyfile(path, tmp / path.name)
    return _finish_import(tmp, digest, original_name)


def import_upload(paths: Sequence[str | Path]) -> AdapterInfo:
    """A zip, or the files of an adapter folder, as the browser uploaded them."""
    files = [Path(p) for p in paths or []]
    if not files:
        raise ModelError(
            "No file was uploaded",
            "Drop an adapter .zip, or its adapter_config.json and adapter_model.safetensors together",
        )
    if len(files) == 1 and files[0].suffix.lower() == ".zip":
        return import_zip(files[0])
    return import_files(files)
