"""Pre-flight facts about a run, found without loading any weights.

The model is built on the meta device from its config (shapes only, no memory), so the Config
tab can list its real linear layers and count trainable parameters exactly as peft does, for
every settings change. Answers are cached per model name / settings; the bitsandbytes probe runs once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from functools import lru_cache
from typing import Literal, cast

import torch

from lora_studio import settings
from lora_studio.calibration import machine_flops
from lora_studio.config import DTYPES, LORA_BIASES, ConfigIssue, RunConfig
from lora_studio.engine.models import first_line, resolve_device, resolve_dtype, resolve_model_dir
from lora_studio.errors import ConfigError, StudioError
from lora_studio.estimates import ModelFacts
from lora_studio.messages import english, say_again, spoken, text
from lora_studio.modelref import ALTERNATIVES, parse_model_ref

log = logging.getLogger(__name__)

# Sustained training throughput assumed for the rough (unmeasured) ETA, in FLOP/s.
ASSUMED_FLOPS = {"cpu_per_core": 2.5e10, "cuda": 4.0e13}


@lru_cache(maxsize=1)
def device_label() -> str:
    """'cpu' or 'cuda:<GPU name>': speeds measured on one GPU do not hold on another."""
    if resolve_device() == "cuda":
        return f"cuda:{torch.cuda.get_device_name(0)}"
    return "cpu"


@lru_cache(maxsize=1)
def bitsandbytes_status() -> tuple[bool, str]:
    """(usable, why not): import bitsandbytes and run a tiny int8 Linear forward on this device. Probed once for
    pages of every language, so `why` is English that remembers how to say it again (`check` says it)."""
    try:
        import bitsandbytes as bnb
    except Exception as exc:  # noqa: BLE001 - a broken install fails in many ways; all mean "not usable"
        return False, first_line(english("engine.bnb_import", error=f"{type(exc).__name__}: {exc}"))
    device = resolve_device()
    try:
        layer = bnb.nn.Linear8bitLt(16, 8, bias=False, has_fp16_weights=False).to(device)
        dtype = torch.float16 if device == "cuda" else torch.float32
        with torch.no_grad():
            out = layer(torch.randn(2, 16, device=device, dtype=dtype))
        if out.shape != (2, 8) or not torch.isfinite(out).all():
            return False, english("engine.bnb_wrong")
    except Exception as exc:  # noqa: BLE001 - missing kernels surface as RuntimeError, AttributeError, ...
        return False, first_line(
            english("engine.bnb_does_not_run", device=device, error=f"{type(exc).__name__}: {exc}")
        )
    return True, ""


@lru_cache(maxsize=16)
def model_config(name: str):
    """The model's transformers config (config.json only; a converted folder for the embedded model)."""
    from transformers import AutoConfig

    model_dir = resolve_model_dir(parse_model_ref(name))
    try:
        return AutoConfig.from_pretrained(model_dir, trust_remote_code=settings.trust_remote_code())
    except (OSError, ValueError) as exc:
        raise StudioError(
            first_line(text("engine.model_config_unreadable", name=name, error=str(exc))), ALTERNATIVES(), kind="model"
        ) from exc


def meta_model(name: str):
    """A fresh model with every tensor on the meta device: real module tree, no memory."""
    from transformers import AutoModelForCausalLM

    config = model_config(name)
    try:
        with torch.device("meta"):
            return AutoModelForCausalLM.from_config(config, trust_remote_code=settings.trust_remote_code())
    except ValueError as exc:  # e.g. an architecture this transformers does not know, or remote code
        raise StudioError(
            first_line(text("engine.not_causal_lm", name=name, error=str(exc))), ALTERNATIVES(), kind="model"
        ) from exc


def _linear_names(model) -> dict[str, int]:
    """Linear layer short names -> summed weight elements, without the output head."""
    head = model.get_output_embeddings()
    found: dict[str, int] = {}
    for full_name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and module is not head:
            short = full_name.rsplit(".", 1)[-1]
            found[short] = found.get(short, 0) + module.weight.numel()
    return found


@lru_cache(maxsize=16)
def linear_module_names(name: str) -> tuple[str, ...]:
    """The model's linear layer names (q_proj, ..., down_proj for Llama), lm_head excluded."""
    return tuple(sorted(_linear_names(meta_model(name))))


@lru_cache(maxsize=16)
def _all_module_names(name: str) -> frozenset[str]:
    return frozenset(full.rsplit(".", 1)[-1] for full, _ in meta_model(name).named_modules() if full)


def unknown_targets(name: str, targets: str | Iterable[str]) -> list[str]:
    """Listed target modules the model does not have (peft itself only fails when none match)."""
    if isinstance(targets, str):
        return []
    known = _all_module_names(name)
    return [t for t in targets if t not in known]


@lru_cache(maxsize=64)
def _counts(name: str, r: int, targets: str | tuple[str, ...], bias: str) -> tuple[int, int, int, int]:
    """(trainable, all, base, quantizable) parameter counts with the adapter applied on meta."""
    from peft import LoraConfig, get_peft_model

    model = meta_model(name)
    base = sum(p.numel() for p in model.parameters())
    quantizable = sum(_linear_names(model).values())
    # The count does not depend on the init; olora/pissa cannot factorise meta tensors, so use the default.
    lora = LoraConfig(
        r=r,
        target_modules=targets if isinstance(targets, str) else list(targets),
        bias=cast(Literal["none", "all", "lora_only"], bias),  # one of config.LORA_BIASES, checked by validate()
        task_type="CAUSAL_LM",
    )
    try:
        peft_model = get_peft_model(model, lora)
    except ValueError as exc:
        raise ConfigError(str(exc).splitlines()[0], text("engine.pick_existing_layers")) from exc
    trainable, total = peft_model.get_nb_trainable_parameters()
    return int(trainable), int(total), int(base), int(quantizable)


def _device_memory(device: str) -> int | None:
    if device == "cuda":
        return int(torch.cuda.get_device_properties(0).total_memory)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def inspect(cfg: RunConfig) -> ModelFacts:
    """Facts for `cfg`; raises StudioError (model cannot be found) or ConfigError (bad target modules)."""
    name = str(cfg.model.name_or_path).strip()
    targets = cfg.lora.target_modules
    missing = unknown_targets(name, targets)
    if missing:
        raise ConfigError(
            text("engine.no_such_layer", layers=", ".join(missing)),
            text("engine.no_such_layer_hint", layers=", ".join(linear_module_names(name))),
        )
    key = targets if isinstance(targets, str) else tuple(str(t) for t in targets)
    trainable, total, base, quantizable = _counts(name, int(cfg.lora.r), key, cfg.lora.bias)
    config = model_config(name)
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    device = resolve_device()
    dtype = resolve_dtype(cfg.model.dtype, device, cfg.model.quantized == "8-bit")
    label = device_label()
    measured = machine_flops(label, cfg.model.quantized)
    if measured:
        flops, runs = measured
    else:
        flops = ASSUMED_FLOPS["cuda"] if device == "cuda" else ASSUMED_FLOPS["cpu_per_core"] * (os.cpu_count() or 1)
        runs = 0
    return ModelFacts(
        model=name,
        trainable_params=trainable,
        all_params=total,
        base_params=base,
        quantizable_params=quantizable,
        hidden_size=int(getattr(text_config, "hidden_size", 0) or 0),
        num_layers=int(getattr(text_config, "num_hidden_layers", 0) or 0),
        vocab_size=int(getattr(text_config, "vocab_size", 0) or 0),
        device=label,
        dtype_bytes=torch.empty((), dtype=dtype).element_size(),
        device_memory=_device_memory(device),
        assumed_flops=flops,
        flops_runs=runs,
    )


def check(cfg: RunConfig) -> tuple[ModelFacts | None, list[ConfigIssue]]:
    """(facts, issues only the torch side can see): bad model, missing layers, 8-bit unusable here."""
    issues: list[ConfigIssue] = []
    quantized = cfg.model.quantized
    if quantized:
        usable, why = bitsandbytes_status()
        if not usable:
            bits = text("check.quantized_8bit") if quantized == "8-bit" else text("check.quantized_4bit")
            issues.append(
                ConfigIssue(
                    "model.load_in_8bit" if quantized == "8-bit" else "model.load_in_4bit",
                    text("engine.bnb_unusable", bits=bits, why=str(say_again(why, spoken(why)))),
                )
            )
    if not _inspectable(cfg):
        return None, issues  # validate() already names the fields that are wrong
    try:
        return inspect(cfg), issues
    except ConfigError as exc:
        issues.append(ConfigIssue("lora.target_modules", exc.one_line()))
    except StudioError as exc:
        issues.append(ConfigIssue("model.name_or_path", exc.one_line()))
    return None, issues


def _inspectable(cfg: RunConfig) -> bool:
    r, targets = cfg.lora.r, cfg.lora.target_modules
    if isinstance(targets, str):
        targets_ok = bool(targets.strip())
    else:
        targets_ok = isinstance(targets, list) and bool(targets) and all(isinstance(t, str) and t for t in targets)
    return (
        targets_ok
        and bool(str(cfg.model.name_or_path).strip())
        and isinstance(r, int)
        and r >= 1
        and cfg.lora.bias in LORA_BIASES
        and cfg.model.dtype in DTYPES
    )
