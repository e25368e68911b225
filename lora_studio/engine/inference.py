"""The Playground engine: one base model per server process, LoRA adapters beside it, answers streamed.

Adapters live in one PeftModel (the first via `PeftModel.from_pretrained`, the rest via `load_adapter`),
switched with `set_adapter`; the base answers inside `disable_adapter()`, so a switch never reloads the
base. One lock covers load, unload and each whole generation: nothing changes the model under an answer.

All of its torch work runs on one thread (`engine.generation.on_torch_thread`: why, there).
"""

from __future__ import annotations

import gc
import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch
from transformers import StoppingCriteriaList

from lora_studio.adapter_checks import WEIGHTS_FILE, check_adapter_folder, fit_problems, safetensors_shapes
from lora_studio.adapters import AdapterInfo, same_base, usable
from lora_studio.config import ModelSettings
from lora_studio.engine.generation import (
    TORCH_THREAD,
    Generation,
    GenerationSettings,
    explain,
    on_torch_thread,
)
from lora_studio.engine.models import load_model, load_tokenizer, resolve_device, resolve_model_dir
from lora_studio.errors import ModelError, StudioError
from lora_studio.modelref import parse_model_ref

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)
BASE = ""  # the target that answers with the base model (every adapter disabled)
LOCK_WAIT_S = 60.0


@dataclass
class LoadedAdapter:
    key: str  # AdapterInfo.key
    name: str  # the name inside the PeftModel (peft forbids dots)
    info: AdapterInfo
    tokenizer: PreTrainedTokenizerBase = field(repr=False)
    bytes: int = 0
    warning: str = ""


@dataclass
class MemoryReport:
    device: str = ""
    base_bytes: int = 0
    adapter_bytes: dict[str, int] = field(default_factory=dict)  # adapter key → parameter bytes
    cuda_allocated: int | None = None


def _peft_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", key)


def _release_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _param_bytes(params) -> int:
    return sum(p.numel() * p.element_size() for p in params)


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


class Playground:
    """One loaded base model and the adapters loaded on it. Thread-safe; one generation at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # released by the generation thread, so not an RLock
        # The plain base, or the PeftModel wrapping it once an adapter is loaded. Any: the PeftModel methods used
        # here reach mypy through nn.Module.__getattr__ (Tensor | Module), and transformers' set_adapter differs.
        self.model: Any = None
        self.base: PreTrainedModel | None = None
        self.tokenizer: PreTrainedTokenizerBase | None = None
        self.base_ref = self.model_dir = self.device = ""
        self.adapters: dict[str, LoadedAdapter] = {}
        self.load_settings = ModelSettings()
        self.current: Generation | None = None

    # ---- the lock ----------------------------------------------------------------------------
    def _acquire(self, action: str) -> None:
        # Bounded: gradio already queues these events one at a time, so a long wait means an answer
        # nobody reads is still finishing; say so rather than hang the request.
        if not self._lock.acquire(timeout=LOCK_WAIT_S):
            raise StudioError(
                f"Cannot {action} now: another answer is still being written",
                "Press Stop, or wait for it to finish and try again",
                kind="config",
            )

    @contextmanager
    def _locked(self, action: str) -> Iterator[None]:
        self._acquire(action)
        try:
            yield
        finally:
            self._lock.release()

    # ---- state -------------------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self.base is not None

    def memory(self) -> MemoryReport:
        if self.model is None:
            return MemoryReport(device=self.device)
        names = {a.name: a.key for a in self.adapters.values()}
        per_adapter = {key: 0 for key in names.values()}
        base_params = []
        for pname, param in self.model.named_parameters():
            owner = next((n for n in names if f".{n}." in f"{pname}." and "lora_" in pname), None)
            if owner is None:
                base_params.append(param)
            else:
                per_adapter[names[owner]] += param.numel() * param.element_size()
        cuda = torch.cuda.memory_allocated() if self.device == "cuda" else None
        return MemoryReport(self.device, _param_bytes(base_params), per_adapter, cuda)

    def snapshot(self) -> dict:
        """What is loaded, as plain data for the UI: base, memory, and each adapter with size and warning."""
        memory = self.memory()
        return {
            "base": self.base_ref,
            "memory": asdict(memory),
            "adapters": [
                {"key": a.key, "label": a.info.label, "bytes": memory.adapter_bytes.get(a.key, 0), "warning": a.warning}
                for a in self.adapters.values()
            ],
        }

    # ---- base --------------------------------------------------------------------------------
    def load_base(self, reference: str, dtype: str = "auto", load_in_8bit: bool = False) -> MemoryReport:
        """Load the base model (replacing any other one); the same base again is a no-op."""
        ref = parse_model_ref(reference)
        with self._locked("load a model"):
            if self.loaded and self.base_ref == ref.display:
                return self.memory()
            self._free()
            model_dir = resolve_model_dir(ref)
            device = resolve_device()
            tokenizer = load_tokenizer(model_dir)
            self.load_settings = ModelSettings(ref.display, dtype, load_in_8bit)
            model = on_torch_thread(load_model, self.load_settings, model_dir, device)
            model.eval()
            self.model = self.base = model
            self.tokenizer, self.base_ref, self.model_dir, self.device = tokenizer, ref.display, model_dir, device
            report = self.memory()
        log.info(
            "Playground base %s loaded: %.1f MB of parameters on %s", ref.display, report.base_bytes / 2**20, device
        )
        return report

    def unload_base(self) -> MemoryReport:
        """Free the base and every adapter."""
        with self._locked("unload the model"):
            self._free()
            return self.memory()

    def _free(self) -> None:
        self.model = self.base = self.tokenizer = None
        self.adapters.clear()
        self.base_ref = self.model_dir = ""
        _release_memory()

    # ---- adapters ----------------------------------------------------------------------------
    def check_fit(self, info: AdapterInfo) -> tuple[str, PreTrainedTokenizerBase]:
        """(warning, tokenizer): refuses in words an adapter that cannot sit on this base; warns when only the
        name of the base it was trained on differs. The tokenizer is the adapter's own when it carries one."""
        if not self.loaded:
            raise ModelError("No base model is loaded", "Choose a base model and press Load first")
        assert self.base is not None  # loaded
        config = check_adapter_folder(usable(info).path, info.name)
        recorded = str(config.get("base_model_name_or_path") or "")
        problems = []
        if (info.path / WEIGHTS_FILE).is_file():
            problems = fit_problems(safetensors_shapes(info.path / WEIGHTS_FILE, info.name), module_dims(self.base))
        tokenizer = self._adapter_tokenizer(info)
        vocab = cast(int, self.base.get_input_embeddings().num_embeddings)
        if len(tokenizer) > vocab:
            problems.append(f"its tokenizer has {len(tokenizer)} tokens, this model's embeddings only {vocab}")
        # A run's own model setting first: what peft recorded is the base's public name (an export's, never a path
        # of this machine), which need not be how this machine loads it.
        trained_on = info.base_model or recorded or "another model"
        if problems:
            raise ModelError(
                f"Adapter {info.label} does not fit {self.base_ref}: it was trained on {trained_on}, "
                f"and {'; '.join(problems)}",
                f"Load the base it was trained on ({info.base_model or trained_on}), or pick an "
                "adapter trained on this model",
            )
        if same_base(recorded, self.base_ref, self.model_dir) or same_base(
            info.base_model, self.base_ref, self.model_dir
        ):
            return "", tokenizer
        return (
            f"{info.label} was trained on {trained_on}, not on {self.base_ref}; it loads because the layer "
            "sizes match, but its answers may not make sense"
        ), tokenizer

    def _adapter_tokenizer(self, info: AdapterInfo) -> PreTrainedTokenizerBase:
        """The adapter's own tokenizer when it carries one (its chat template may differ), else the base's."""
        if not (Path(info.path) / "tokenizer_config.json").is_file():
            assert self.tokenizer is not None  # loaded with the base
            return self.tokenizer
        try:
            return load_tokenizer(str(info.path))
        except Exception as exc:  # transformers raises many kinds for damaged tokenizer files
            why = "no complete tokenizer among them" if isinstance(exc, StudioError) else type(exc).__name__
            raise ModelError(
                f"{info.name}'s tokenizer files cannot be read ({why})",
                "Save them again with the tokenizer's save_pretrained, or upload the adapter without "
                "its tokenizer files (the base model's tokenizer is then used)",
            ) from exc

    def load_adapter(self, info: AdapterInfo) -> LoadedAdapter:
        """Load an adapter onto the base (once; loading it again returns the loaded one)."""
        with self._locked("load an adapter"):
            if info.key in self.adapters:
                return self.adapters[info.key]
            warning, tokenizer = self.check_fit(info)
            name = _peft_name(info.key)
            on_torch_thread(self._attach, info, name)
            loaded = LoadedAdapter(info.key, name, info, tokenizer, warning=warning)
            self.adapters[info.key] = loaded
            loaded.bytes = self.memory().adapter_bytes[info.key]
        log.info("Adapter %s loaded (%.2f MB)", info.label, loaded.bytes / 2**20)
        return loaded

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
                f"{info.name} could not be loaded ({type(exc).__name__}: {detail}); the model is as it was before",
                "Check that the adapter was trained on this base model, or save "
                "it again with peft (and upload it again) if it comes from elsewhere",
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

    def unload_adapter(self, key: str) -> MemoryReport:
        """Delete one adapter's weights; the last one gone leaves the plain base (no LoRA layers at all)."""
        with self._locked("unload an adapter"):
            loaded = self.adapters.pop(key, None)
            if loaded is None:
                return self.memory()
            if self.adapters:  # make another one active first, or peft warns that the active one went away
                self.model.set_adapter(next(iter(self.adapters.values())).name, inference_mode=True)
            self.model.delete_adapter(loaded.name)
            if not self.adapters:
                self.model = self.base = self.model.unload()  # the plain modules back, no empty wrappers
            _release_memory()
            return self.memory()

    # ---- generation --------------------------------------------------------------------------
    def stream(self, target: str, messages: list[dict], settings: GenerationSettings) -> Generation:
        """Start an answer from `target` (BASE or an adapter key) to the chat `messages`; iterate for text."""
        self._acquire("write an answer")  # handed to the generation thread, which releases it when done
        try:
            if not self.loaded:
                raise ModelError("No base model is loaded", "Choose a base model and press Load first")
            if target and target not in self.adapters:
                raise ModelError(f"Adapter {target} is not loaded", "Load it first (choose it and press Load)")
            tokenizer = self.adapters[target].tokenizer if target else self.tokenizer
            assert tokenizer is not None  # loaded with the base
            inputs = self._encode(tokenizer, messages, settings)
            generation = Generation(tokenizer)
            kwargs = {
                **inputs,
                **settings.generate_kwargs(),
                "streamer": generation,
                "stopping_criteria": StoppingCriteriaList([generation]),
                "pad_token_id": tokenizer.pad_token_id,
            }
            self.current = generation
            TORCH_THREAD.submit(self._generate, target, kwargs, settings.seed, generation)
        except BaseException:
            self._lock.release()
            raise
        return generation

    def generate(self, target: str, messages: list[dict], settings: GenerationSettings) -> str:
        """The whole answer at once (the same tokens as the stream)."""
        return "".join(self.stream(target, messages, settings))

    def stop(self) -> None:
        """End the answer being written now (it keeps what it has)."""
        if self.current is not None:
            self.current.stop()

    def _generate(self, target: str, kwargs: dict, seed: int, generation: Generation) -> None:
        try:
            torch.manual_seed(int(seed))  # the same seed and settings give the same sampled answer per target
            with torch.inference_mode(), self._as(target):
                self.model.generate(**kwargs)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            log.exception("Generation failed")
            generation.error = explain(exc)
            generation.text_queue.put(generation.stop_signal)
        finally:
            generation.finished = time.perf_counter()
            self._lock.release()

    @contextmanager
    def use(self, target: str) -> Iterator[object]:
        """The model set to answer as `target` (BASE: adapters disabled), held under the lock while in use."""
        with self._locked("use the model"), torch.inference_mode(), self._as(target):
            yield self.model

    @contextmanager
    def _as(self, target: str) -> Iterator[None]:
        from peft import PeftModel

        if target:
            self.model.set_adapter(self.adapters[target].name, inference_mode=True)
            yield
        else:
            with self.model.disable_adapter() if isinstance(self.model, PeftModel) else nullcontext():
                yield

    def _encode(self, tokenizer, messages: list[dict], settings: GenerationSettings) -> dict:
        assert self.base is not None  # stream() checked that a base is loaded
        conversation = [{"role": "system", "content": settings.system_prompt}] if settings.system_prompt.strip() else []
        conversation += [{"role": m["role"], "content": m["content"]} for m in messages]
        if tokenizer.chat_template:
            text = tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
        else:  # a model without a chat template (a plain base model): plain text, one turn per paragraph
            text = "\n\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in conversation) + "\n\nAssistant:"
        inputs = tokenizer(text, add_special_tokens=False, return_tensors="pt").to(self.base.device)
        limit = getattr(self.base.config, "max_position_embeddings", None)
        length = int(inputs["input_ids"].shape[1])
        if limit and length + settings.max_new_tokens > limit:
            raise ModelError(
                f"The conversation is {length} tokens; with {settings.max_new_tokens} new tokens it "
                f"exceeds this model's {limit}-token context",
                "Press Clear to start a new conversation, or lower max new tokens",
            )
        return dict(inputs)


_PLAYGROUND = Playground()  # empty until a base is chosen: nothing loads at import


def playground() -> Playground:
    """The server's one Playground."""
    return _PLAYGROUND
