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
import struct
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lora_studio import settings
from lora_studio.config import RunConfig
from lora_studio.errors import ModelError, StudioError
from lora_studio.modelref import parse_model_ref
from lora_studio.runs import RunPaths, list_runs, read_status

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
PICKLE_FILE = "adapter_model.bin"
UPLOAD_NOTE = "lora_studio_upload.json"  # where an imported adapter remembers the name it was uploaded as
ADAPTER_STATES = ("completed", "stopped")  # runs whose adapter/ was saved at the end
# What an adapter folder may hold; anything else in an upload (optimizer state, pickles, scripts) is left out.
KEEP_SUFFIXES = (".json", ".safetensors", ".txt", ".model", ".jinja", ".md", ".tiktoken")
MAX_UNPACKED_FACTOR = 2  # unpacked size limit, as a multiple of the upload limit (safetensors barely compress)
_HEADER_LIMIT = 100 * 2**20
_LORA_KEY = re.compile(r"^(?P<module>.+)\.(?P<part>lora_A|lora_B|lora_embedding_A|lora_embedding_B|"
                       r"lora_magnitude_vector)(?:\.[^.]+)?(?:\.weight)?$")


@dataclass(frozen=True)
class AdapterInfo:
    key: str  # "run:<run_id>" or "upload:<hash>": stable across refreshes
    label: str
    path: Path
    base_model: str  # the reference to load as its base (a run's model setting, else what peft recorded)
    source: str  # "run" or "upload"
    run_id: str = ""


def adapters_dir() -> Path:
    return settings.uploads_dir() / "adapters"


def read_adapter_config(folder: Path) -> dict:
    """adapter_config.json as a dict; raises in words when it is missing, unreadable or not LoRA."""
    path = Path(folder) / CONFIG_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(f"{Path(folder).name} has no {CONFIG_FILE}, so it is not a PEFT adapter",
                         "Upload the folder that peft's save_pretrained wrote (or a zip of it)") from exc
    except (OSError, ValueError) as exc:
        raise ModelError(f"{CONFIG_FILE} in {Path(folder).name} cannot be read ({exc})".splitlines()[0],
                         "Save the adapter again with peft's save_pretrained") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{CONFIG_FILE} in {Path(folder).name} is not a JSON object",
                         "Save the adapter again with peft's save_pretrained")
    peft_type = str(data.get("peft_type", "")).upper()
    if peft_type != "LORA":
        raise ModelError(f"{Path(folder).name} is a {peft_type or 'unknown'} adapter; the Playground loads LoRA",
                         "Pick a LoRA adapter (peft_type LORA in adapter_config.json)")
    return data


def check_adapter_folder(folder: Path) -> dict:
    """The adapter's config when the folder holds a loadable adapter; refuses pickle weights unless allowed."""
    folder = Path(folder)
    config = read_adapter_config(folder)
    if (folder / WEIGHTS_FILE).is_file():
        return config
    if (folder / PICKLE_FILE).is_file():
        if settings.allow_pickle_adapters():
            return config
        raise ModelError(f"{folder.name} holds pickle weights ({PICKLE_FILE}), which can run code when loaded",
                         f"Save it as {WEIGHTS_FILE} (peft's save_pretrained does by default), or have the "
                         "operator start LoRA Studio with LORA_STUDIO_ALLOW_PICKLE=1 if it comes from someone trusted")
    raise ModelError(f"{folder.name} has no weights ({WEIGHTS_FILE})",
                     "Upload the whole adapter folder: adapter_config.json and adapter_model.safetensors")


# ---- discovery ---------------------------------------------------------------------------------
def _run_adapter_info(paths: RunPaths) -> AdapterInfo:
    base = ""
    try:
        base = RunConfig.load(paths.config).model.name_or_path
    except (StudioError, OSError, ValueError):
        pass  # fall back to what peft recorded below
    if not base:
        base = _recorded_base(paths.adapter)
    return AdapterInfo(f"run:{paths.run_id}", f"{paths.run_id} (run)", paths.adapter, _display(base), "run",
                       paths.run_id)


def _recorded_base(folder: Path) -> str:
    try:
        return str(json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8")).get("base_model_name_or_path")
                   or "")
    except (OSError, ValueError, AttributeError):
        return ""


def run_adapters(root: Path | None = None) -> list[AdapterInfo]:
    """Completed or stopped runs that saved an adapter, newest first."""
    found = []
    for paths in list_runs(root or settings.runs_dir()):
        if (paths.adapter / CONFIG_FILE).is_file() and read_status(paths).state in ADAPTER_STATES:
            found.append(_run_adapter_info(paths))
    return found


def uploaded_adapters() -> list[AdapterInfo]:
    folder = adapters_dir()
    if not folder.is_dir():
        return []
    found = []
    # Names starting with a dot are imports still being staged.
    for path in sorted(p for p in folder.iterdir()
                       if p.is_dir() and not p.name.startswith(".") and (p / CONFIG_FILE).is_file()):
        try:
            name = json.loads((path / UPLOAD_NOTE).read_text(encoding="utf-8"))["name"]
        except (OSError, ValueError, KeyError, TypeError):
            name = path.name
        found.append(AdapterInfo(f"upload:{path.name}", f"{name} (uploaded)", path, _recorded_base(path), "upload"))
    return found


def list_adapters() -> list[AdapterInfo]:
    return [*run_adapters(), *uploaded_adapters()]


def find_adapter(key: str) -> AdapterInfo:
    for info in list_adapters():
        if info.key == key:
            return info
    raise ModelError(f"There is no adapter '{key}' any more", "Refresh the list and pick another adapter")


def run_adapter(run_id: str) -> AdapterInfo:
    """The adapter of one run, or an error that says why it has none yet."""
    paths = RunPaths(settings.runs_dir() / run_id)
    if not paths.config.is_file():
        raise ModelError(f"There is no run '{run_id}'", "Pick a run listed on the Runs tab")
    state = read_status(paths).state
    if state not in ADAPTER_STATES or not (paths.adapter / CONFIG_FILE).is_file():
        raise ModelError(f"Run {run_id} has no adapter to try ({state})",
                         "An adapter is saved when a run completes or is stopped with 'Stop and save'")
    return _run_adapter_info(paths)


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
    return found


def base_choices() -> list[tuple[str, str]]:
    """The embedded model, the base models of runs with adapters, and merged exports, without repeats."""
    choices = [(settings.EMBEDDED_MODEL_NAME, settings.EMBEDDED_MODEL_NAME)]
    for info in list_adapters():
        if info.base_model and info.base_model not in {value for _, value in choices} and _loadable(info.base_model):
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
def safetensors_shapes(path: Path) -> dict[str, list[int]]:
    """Tensor name → shape from a safetensors header, without reading the weights."""
    try:
        with open(path, "rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            if size > _HEADER_LIMIT:
                raise ValueError("header too large")
            header = json.loads(fh.read(size))
    except (OSError, ValueError, struct.error) as exc:
        raise ModelError(f"{path.name} is not a readable safetensors file ({exc})".splitlines()[0],
                         "Save the adapter again with peft's save_pretrained") from exc
    return {name: list(meta["shape"]) for name, meta in header.items()
            if name != "__metadata__" and isinstance(meta, dict) and "shape" in meta}


def fit_problems(shapes: dict[str, list[int]], dims: dict[str, tuple[int, int]]) -> list[str]:
    """Why an adapter's tensors cannot sit on a base whose layers have `dims` (module → (inputs, outputs)).

    peft stores lora_A as [r, inputs] and lora_B as [outputs, r] (embeddings: A [r, rows], B [width, r]).
    """
    missing, wrong = [], []
    for key, shape in shapes.items():
        match = _LORA_KEY.match(key.removeprefix("base_model.model."))
        if not match or not shape:
            continue
        module, part = match["module"], match["part"]
        if module not in dims:
            missing.append(module)
            continue
        inputs, outputs = dims[module]
        if part in ("lora_A", "lora_embedding_A") and len(shape) > 1 and shape[1] != inputs:
            wrong.append(f"{module} takes {inputs} inputs here but {shape[1]} in the adapter")
        elif part in ("lora_B", "lora_embedding_B", "lora_magnitude_vector") and shape[0] != outputs:
            wrong.append(f"{module} gives {outputs} outputs here but {shape[0]} in the adapter")
    problems = []
    if missing:
        unique = sorted(set(missing))
        more = f" and {len(unique) - 1} more" if len(unique) > 1 else ""
        problems.append(f"it changes layers this model does not have ({unique[0]}{more})")
    if wrong:
        more = f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""
        problems.append(f"layer sizes differ: {wrong[0]}{more}")
    return problems


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
        raise ModelError(f"{path.name} is {size / 2**20:.0f} MB, above the {limit / 2**20:.0f} MB upload limit",
                         "Use a smaller adapter, or raise LORA_STUDIO_MAX_UPLOAD_MB when starting LoRA Studio")


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
    roots = sorted({str(PurePosixPath(m.filename).parent) for m in members
                    if PurePosixPath(m.filename).name == CONFIG_FILE})
    if not roots:
        raise ModelError(f"{zip_name} holds no {CONFIG_FILE}, so it is not a PEFT adapter",
                         "Zip the folder that peft's save_pretrained wrote")
    if len(roots) > 1:
        raise ModelError(f"{zip_name} holds {len(roots)} adapters ({', '.join(roots[:3])})",
                         "Upload one adapter per zip")
    return "" if roots[0] == "." else roots[0]


def _finish_import(tmp: Path, digest: str, original_name: str) -> AdapterInfo:
    """Validate the staged folder, then move it into place (a half-imported adapter is never listed)."""
    try:
        check_adapter_folder(tmp)
        if (tmp / WEIGHTS_FILE).is_file():
            (tmp / PICKLE_FILE).unlink(missing_ok=True)  # safetensors wins: never keep a pickle we do not need
        (tmp / UPLOAD_NOTE).write_text(json.dumps({"name": original_name, "imported": time.time()}),
                                       encoding="utf-8")
        target = adapters_dir() / digest
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return AdapterInfo(f"upload:{digest}", f"{original_name} (uploaded)", target, _recorded_base(target), "upload")


def _digest(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as fh:
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
    name = Path(original_name or source.name).name
    _check_upload_size(source)
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelError(f"{name} is not a readable zip file", "Zip the adapter folder again and upload it") from exc
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        for member in archive.infolist():
            reason = _unsafe_reason(member)
            if reason:
                raise ModelError(f"{name} was refused: entry '{member.filename}' is {reason}",
                                 "Zip only the adapter folder's own files")
        limit = settings.max_upload_bytes() * MAX_UNPACKED_FACTOR
        if sum(m.file_size for m in members) > limit:
            raise ModelError(f"{name} unpacks to more than {limit / 2**20:.0f} MB",
                             "Zip only the adapter files, or raise LORA_STUDIO_MAX_UPLOAD_MB")
        root = _adapter_root(members, name)
        digest = _digest([source])
        tmp = _staging(digest)
        try:
            for member in members:
                path = PurePosixPath(member.filename)
                if str(path.parent) == (root or ".") and _keep(path.name):
                    with archive.open(member) as src, open(tmp / path.name, "wb") as dst:
                        shutil.copyfileobj(src, dst)
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
    paths = [Path(p) for p in paths or []]
    if not paths:
        raise ModelError("No file was uploaded", "Drop an adapter .zip, or its adapter_config.json and "
                                                 "adapter_model.safetensors together")
    if len(paths) == 1 and paths[0].suffix.lower() == ".zip":
        return import_zip(paths[0])
    return import_files(paths)
