"""Putting LoRA adapters on the Playground's shared model and taking them off again, all or nothing.

`AdapterAttachment` is the part of `inference.Playground` that changes the model's structure: whether an
adapter fits the loaded base, attaching it (undone, and checked undone, when peft fails half-way), reloading
the base from disk when an undo cannot be proven, and detaching one. The Playground takes its lock around
every call; these methods assume it is held and run their torch work on the torch thread.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch

from lora_studio.adapter_checks import WEIGHTS_FILE, check_adapter_folder, fit_problems, safetensors_shapes
from lora_studio.adapters import AdapterInfo, same_base, usable
from lora_studio.config import ModelSettings
from lora_studio.engine.generation import on_torch_thread
from lora_studio.engine.models import load_model, load_tokenizer
from lora_studio.errors import ModelError, StudioError
from lora_studio.messages import english, text

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)


@dataclass
class LoadedAdapter:
    key: str  # AdapterInfo.key
    name: str  # the name inside the PeftModel (peft forbids dots)
    info: AdapterInfo
    tokenizer: PreTrainedTokenizerBase = field(repr=False)
    bytes: int = 0
    warning: str = ""  # in English, remembering how to say it again (messages.english): pages of any language read it


def _peft_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", key)


def _structure(model) -> list[tuple[str, int, tuple[int, ...]]]:
    """Every parameter's name, storage and shape: equal before and after means nothing was added or swapped."""
    return [(name, param.data_ptr(), tuple(param.shape)) for name, param in model.named_parameters()]


def _strip_adapter_layers(module) -> None:
    """Put back the plain layers peft wrapped (what `unload()` does, for a model peft never finished wrapping)."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    for child_name, child in list(module.named_children()):
        if isinstance(child, BaseTunerLayer):
            setattr(module, child_name, child.get_base_layer())
        elif hasattr(child, "original_module") and hasattr(child, "modules_to_save"):
            setattr(module, child_name, child.original_module)
        else:
            _strip_adapter_layers(child)
    if hasattr(module, "peft_config"):
        del module.peft_config


def module_dims(model) -> dict[str, tuple[int, int]]:
    """Layer name → (inputs, outputs) for every linear and embedding layer, as peft's keys name them."""
    dims = {}
    for name, module in model.named_modules():
        if hasattr(module, "in_features") and hasattr(module, "out_features"):
            dims[name] = (int(module.in_features), int(module.out_features))
        elif isinstance(module, torch.nn.Embedding):
            dims[name] = (module.num_embeddings, module.embedding_dim)
    return dims


class AdapterAttachment:
    """The adapter machinery of the Playground; its state is the Playground's (set in `Playground.__init__`)."""

    # The plain base, or the PeftModel wrapping it once an adapter is loaded (Any: see Playground.__init__).
    model: Any
    base: PreTrainedModel | None
    tokenizer: PreTrainedTokenizerBase | None
    base_ref: str
    model_dir: str
    device: str
    adapters: dict[str, LoadedAdapter]
    load_settings: ModelSettings

    @property
    def loaded(self) -> bool:
        return self.base is not None

    def check_fit(self, info: AdapterInfo) -> tuple[str, PreTrainedTokenizerBase]:
        """(warning, tokenizer): refuses in words an adapter that cannot sit on this base; warns when only the
        name of the base it was trained on differs. The tokenizer is the adapter's own when it carries one. The
        warning is kept with the adapter, which every page shows: English that remembers how to say it again."""
        if not self.loaded:
            raise ModelError(text("engine.no_base"), text("engine.no_base_hint"))
        assert self.base is not None  # loaded
        config = check_adapter_folder(usable(info).path, info.name)
        recorded = str(config.get("base_model_name_or_path") or "")
        problems = []
        if (info.path / WEIGHTS_FILE).is_file():
            problems = fit_problems(safetensors_shapes(info.path / WEIGHTS_FILE, info.name), module_dims(self.base))
        tokenizer = self._adapter_tokenizer(info)
        vocab = cast(int, self.base.get_input_embeddings().num_embeddings)
        if len(tokenizer) > vocab:
            problems.append(text("engine.tokenizer_too_big", tokens=len(tokenizer), vocab=vocab))
        # A run's own model setting first: what peft recorded is the base's public name (an export's, never a path
        # of this machine), which need not be how this machine loads it.
        named = info.base_model or recorded
        if problems:
            trained_on = named or text("engine.another_model")
            raise ModelError(
                text(
                    "engine.adapter_does_not_fit",
                    label=info.label,
                    base=self.base_ref,
                    trained_on=trained_on,
                    problems=text("runs_core.list_separator").join(problems),
                ),
                text("engine.adapter_does_not_fit_hint", base=info.base_model or trained_on),
            )
        if same_base(recorded, self.base_ref, self.model_dir) or same_base(
            info.base_model, self.base_ref, self.model_dir
        ):
            return "", tokenizer
        warning = english(
            "engine.other_base_warning",
            label=info.label,
            trained_on=named or english("engine.another_model"),
            base=self.base_ref,
        )
        return warning, tokenizer

    def _adapter_tokenizer(self, info: AdapterInfo) -> PreTrainedTokenizerBase:
        """The adapter's own tokenizer when it carries one (its chat template may differ), else the base's."""
        if not (Path(info.path) / "tokenizer_config.json").is_file():
            assert self.tokenizer is not None  # loaded with the base
            return self.tokenizer
        try:
            return load_tokenizer(str(info.path))
        except Exception as exc:  # transformers raises many kinds for damaged tokenizer files
            why = text("engine.no_complete_tokenizer") if isinstance(exc, StudioError) else type(exc).__name__
            raise ModelError(
                text("engine.adapter_tokenizer_unreadable", name=info.name, why=why),
                text("engine.adapter_tokenizer_unreadable_hint"),
            ) from exc

    def _attach(self, info: AdapterInfo, name: str) -> None:
        """Add the adapter to the shared model, all or nothing: peft injects LoRA layers into the base before it
        reads the weights, so a failure half-way (a damaged file, an odd config) is undone here, and checked
        undone, before the error reaches the user. Otherwise the base would answer differently for everyone."""
        from peft import PeftModel

        first = not isinstance(self.model, PeftModel)
        before = _structure(self.model)
        active = None if first else self.model.active_adapter
        try:
            if first:
                assert self.base is not None  # an adapter is loaded only onto a loaded base
                self.model = PeftModel.from_pretrained(self.base, str(info.path), adapter_name=name, is_trainable=False)
            else:
                self.model.load_adapter(str(info.path), adapter_name=name, is_trainable=False)
            self.model.eval()
        except Exception as exc:  # whatever peft, safetensors or torch raised: undone, then told
            log.warning("Loading adapter %s failed; undoing it", info.label, exc_info=True)
            self._undo_attach(name, first, active, before)
            detail = (str(exc).splitlines() or [""])[0][:200]
            raise ModelError(
                text("engine.adapter_load_failed", name=info.name, error=f"{type(exc).__name__}: {detail}"),
                text("engine.adapter_load_failed_hint"),
            ) from exc

    def _undo_attach(self, name: str, first: bool, active: str | None, before: list) -> None:
        if first:
            _strip_adapter_layers(self.base)
            self.model = self.base
        else:
            if name in getattr(self.model, "peft_config", {}):
                self.model.delete_adapter(name)
            if active:
                self.model.set_adapter(active, inference_mode=True)
        if _structure(self.model) != before:  # peft left something behind: start again from the files
            log.warning("Undoing a failed adapter load left the model changed; reloading it from disk")
            self._reload()

    def _reload(self) -> None:
        """Load the base again from disk and put back the adapters that were loaded (they loaded before)."""
        from peft import PeftModel

        kept = list(self.adapters.values())
        model = on_torch_thread(load_model, self.load_settings, self.model_dir, self.device)
        model.eval()
        self.model = self.base = model
        for loaded in kept:
            if isinstance(self.model, PeftModel):
                self.model.load_adapter(str(loaded.info.path), adapter_name=loaded.name, is_trainable=False)
            else:
                self.model = PeftModel.from_pretrained(
                    self.base, str(loaded.info.path), adapter_name=loaded.name, is_trainable=False
                )
        self.model.eval()

    def _detach(self, loaded: LoadedAdapter) -> None:
        """Delete one adapter's weights (already out of `adapters`); the last one gone leaves the plain base."""
        if self.adapters:  # make another one active first, or peft warns that the active one went away
            self.model.set_adapter(next(iter(self.adapters.values())).name, inference_mode=True)
        self.model.delete_adapter(loaded.name)
        if not self.adapters:
            self.model = self.base = self.model.unload()  # the plain modules back, no empty wrappers
