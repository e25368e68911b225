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

log = logging.getLogger(__name__)
_SAFE_RE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class Sample:
    name: str
    path: Path
    description: str


SAMPLE_DESCRIPTIONS = {
    "chat-assistant.jsonl": "200 short chats with 'Pip', a cheerful one-sentence assistant (messages)",
    "instructions.jsonl": "120 Alpaca-style instructions: rewrite, classify, extract (instruction/input/output)",
    "support-faq.csv": "60 customer-support questions and answers in a CSV with its own column names",
    "preference-pairs.jsonl": "160 questions, each with a chosen answer (Pip's) and a rejected one, for DPO or ORPO",
}


def list_samples() -> list[Sample]:
    folder = settings.SAMPLES_DIR
    found = [p for p in sorted(folder.iterdir()) if p.suffix.lower() in SUPPORTED_SUFFIXES] if folder.is_dir() else []
    return [Sample(p.name, p, SAMPLE_DESCRIPTIONS.get(p.name, "")) for p in found]


def sample_path(name: str) -> Path:
    for sample in list_samples():
        if sample.name == name:
            return sample.path
    raise DataError(
        f"There is no sample dataset named '{name}'", f"Pick one of: {', '.join(s.name for s in list_samples())}"
    )


def store_upload(temp_path: str | Path, original_name: str | None = None) -> Path:
    """Copy an uploaded file to uploads/<content hash>/<its own name>, so every message names the
    file as the user knows it and two different files with one name never collide."""
    source = Path(temp_path)
    name = Path(original_name or source.name).name
    if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        raise DataError(f"'{name}' is not a supported data file", f"Upload one of: {', '.join(SUPPORTED_SUFFIXES)}")
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
        raise DataError(f"'{dataset_id}' is not a hub dataset id", "Write it as owner/name, e.g. tatsu-lab/alpaca")
    if settings.hub_offline():
        raise DataError(
            f"Cannot fetch '{dataset_id}': the Hugging Face Hub is offline here (HF_HUB_OFFLINE)",
            "Upload the file instead, or pick a sample dataset",
        )
    import datasets

    try:
        dataset = datasets.load_dataset(dataset_id, split=split)
    except Exception as exc:  # network, auth and missing-split errors all mean "cannot fetch"
        raise DataError(
            f"Cannot fetch hub dataset '{dataset_id}' ({type(exc).__name__}: {exc})".splitlines()[0],
            "Check the id and your network, or upload the file instead",
        ) from exc
    folder = settings.uploads_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"hub-{_SAFE_RE.sub('-', dataset_id)}-{split}.jsonl"
    dataset.to_json(str(target), lines=True, force_ascii=False)
    return target
