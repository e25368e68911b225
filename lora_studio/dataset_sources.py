"""Datasets the user brings: uploads copied into the studio's home, shipped samples, hub datasets."""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from lora_studio import settings
from lora_studio.dataset_files import SUPPORTED_SUFFIXES, check_size
from lora_studio.errors import DataError
from lora_studio.messages import text

log = logging.getLogger(__name__)
_SAFE_RE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class Sample:
    name: str
    path: Path
    description: str


# A shipped sample's file name → the message id of its description (read in the current language).
SAMPLE_DESCRIPTION_IDS = {
    "chat-assistant.jsonl": "source.sample.chat_assistant",
    "instructions.jsonl": "source.sample.instructions",
    "support-faq.csv": "source.sample.support_faq",
    "preference-pairs.jsonl": "source.sample.preference_pairs",
}


def list_samples() -> list[Sample]:
    """The shipped samples, each described in the current language."""
    folder = settings.SAMPLES_DIR
    found = [p for p in sorted(folder.iterdir()) if p.suffix.lower() in SUPPORTED_SUFFIXES] if folder.is_dir() else []
    return [Sample(p.name, p, _description(p.name)) for p in found]


def _description(name: str) -> str:
    message_id = SAMPLE_DESCRIPTION_IDS.get(name)
    return text(message_id) if message_id else ""


def sample_path(name: str) -> Path:
    for sample in list_samples():
        if sample.name == name:
            return sample.path
    raise DataError(
        text("source.no_sample", name=name),
        text("source.no_sample_hint", names=", ".join(s.name for s in list_samples())),
    )


def store_upload(temp_path: str | Path, original_name: str | None = None) -> Path:
    """Copy an uploaded file to uploads/<content hash>/<its own name>, so every message names the
    file as the user knows it and two different files with one name never collide."""
    source = Path(temp_path)
    name = Path(original_name or source.name).name
    if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        raise DataError(
            text("source.unsupported", name=name),
            text("source.unsupported_hint", suffixes=", ".join(SUPPORTED_SUFFIXES)),
        )
    check_size(source, settings.max_upload_bytes())
    digest = hashlib.sha256()
    with source.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    folder = settings.uploads_dir() / digest.hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / _SAFE_RE.sub("-", name)
    if not target.exists():
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(source, tmp)
        tmp.replace(target)
    return target


STALE_STAGING_S = 3600  # an import or a copy takes seconds; one this old was cut off (a crash, a kill)


def sweep_staging(now: float | None = None) -> list[Path]:
    """Remove half-written copies a cut-off upload left in uploads/: `.<name>.tmp` dataset copies and
    `adapters/.<hash>.tmp-<pid>` adapter imports, once they are stale. Returns what was removed."""
    now = time.time() if now is None else now
    folder = settings.uploads_dir()
    removed = []
    for path in [*folder.glob("*/.*.tmp"), *folder.glob("adapters/.*.tmp-*")]:
        try:
            if path.is_symlink() or now - path.lstat().st_mtime < STALE_STAGING_S:
                continue
            remove_entry(path)
            removed.append(path)
        except OSError as exc:
            log.info("Could not remove the stale copy %s: %s", path, exc)
    return removed


def remove_entry(path: Path) -> None:
    """Delete a file or a whole folder (raises OSError when it is in use or gone: sweeps try again later)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def fetch_hub_dataset(dataset_id: str, split: str = "train") -> Path:
    """Download a hub dataset split and keep it as JSONL in uploads/ (needs the network)."""
    dataset_id = dataset_id.strip()
    if not re.match(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$", dataset_id):
        raise DataError(text("source.bad_hub_id", dataset=dataset_id), text("source.bad_hub_id_hint"))
    if settings.hub_offline():
        raise DataError(text("source.hub_offline", dataset=dataset_id), text("source.hub_offline_hint"))
    import datasets

    try:
        dataset = datasets.load_dataset(dataset_id, split=split)
    except Exception as exc:  # network, auth and missing-split errors all mean "cannot fetch"
        raise DataError(
            text("source.fetch_failed", dataset=dataset_id, error=f"{type(exc).__name__}: {exc}").splitlines()[0],
            text("source.fetch_failed_hint"),
        ) from exc
    folder = settings.uploads_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"hub-{_SAFE_RE.sub('-', dataset_id)}-{split}.jsonl"
    dataset.to_json(str(target), lines=True, force_ascii=False)
    return target
