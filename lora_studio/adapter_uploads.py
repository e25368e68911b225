"""Importing an uploaded adapter (a zip, or its files) safely, before any weights load.

An uploaded zip is never passed to `extractall`: each entry is checked (no absolute path, no `..`, no link) and
copied by hand into uploads/adapters/<content hash>/, then the folder is checked like any adapter.
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
from pathlib import Path, PurePosixPath

from lora_studio import settings
from lora_studio.adapter_checks import CONFIG_FILE, PICKLE_FILE, WEIGHTS_FILE, check_adapter_folder, recorded_base
from lora_studio.adapters import MAX_NAME_CHARS, UPLOAD_NOTE, AdapterInfo, adapters_dir
from lora_studio.errors import ModelError
from lora_studio.messages import text

# What an adapter folder may hold; anything else in an upload (optimizer state, pickles, scripts) is left out.
KEEP_SUFFIXES = (".json", ".safetensors", ".txt", ".model", ".jinja", ".md", ".tiktoken")
MAX_UNPACKED_FACTOR = 2  # unpacked size limit, as a multiple of the upload limit (safetensors barely compress)
MAX_ZIP_ENTRIES = 1000  # an adapter folder holds a handful of files


# ---- uploads -----------------------------------------------------------------------------------
def _check_upload_size(path: Path) -> None:
    limit = settings.max_upload_bytes()
    size = path.stat().st_size
    if size > limit:
        raise ModelError(
            text("datafile.too_big", name=path.name, size=size / 2**20, limit=limit / 2**20),
            text("adapters.too_big_hint"),
        )


def _unsafe_reason(info: zipfile.ZipInfo) -> str:
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return text("adapters.zip.absolute_path")
    if ".." in PurePosixPath(name).parts:
        return text("adapters.zip.parent_path")
    if stat.S_ISLNK(info.external_attr >> 16):
        return text("adapters.zip.symbolic_link")
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
            text("adapters.zip.no_config", name=zip_name, config=CONFIG_FILE), text("adapters.zip.no_config_hint")
        )
    if len(roots) > 1:
        raise ModelError(
            text("adapters.zip.several", name=zip_name, count=len(roots), folders=", ".join(roots[:3])),
            text("adapters.zip.several_hint"),
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
    label = text("adapters.label.uploaded", name=original_name)
    return AdapterInfo(f"upload:{digest}", label, target, recorded_base(target), "upload")


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
        raise ModelError(text("adapters.zip.unreadable", name=name), text("adapters.zip.unreadable_hint")) from exc
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > MAX_ZIP_ENTRIES:
            raise ModelError(
                text("adapters.zip.too_many_files", name=name, count=len(members)), text("adapters.zip.own_files_hint")
            )
        for member in archive.infolist():
            reason = _unsafe_reason(member)
            if reason:
                raise ModelError(
                    text("adapters.zip.refused", name=name, entry=member.filename[:MAX_NAME_CHARS], reason=reason),
                    text("adapters.zip.own_files_hint"),
                )
        limit = settings.max_upload_bytes() * MAX_UNPACKED_FACTOR
        if sum(m.file_size for m in members) > limit:
            raise ModelError(
                text("adapters.zip.too_big", name=name, limit=limit / 2**20), text("adapters.zip.too_big_hint")
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
                text("adapters.zip.broken", name=name, error=f"{type(exc).__name__}: {str(exc)[:120]}"),
                text("adapters.zip.broken_hint"),
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
        raise ModelError(text("adapters.no_upload"), text("adapters.no_upload_hint"))
    if len(files) == 1 and files[0].suffix.lower() == ".zip":
        return import_zip(files[0])
    return import_files(files)
