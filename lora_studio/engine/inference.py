"""The Playground engine: one base model per server process, LoRA adapters beside it, answers streamed.

Adapters live in one PeftModel (the first via `PeftModel.from_pretrained`, the rest via `load_adapter`),
switched with `set_adapter`; the base answers inside `disable_adapter()`, so a switch never reloads the
base. One lock covers load, unload and each whole generation: nothing changes the model under an answer.
Putting an adapter on the model and taking it off (fit checks, all-or-nothing attach) is `engine.adapter_attach`.

All of its torch work runs on one thread (`engine.generation.on_torch_thread`: why, there).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from transformers import StoppingCriteriaList

from lora_studio.adapters import AdapterInfo
from lora_studio.config import ModelSettings
from lora_studio.engine.adapter_attach import AdapterAttachment, LoadedAdapter, _peft_name
from lora_studio.engine.generation import (
    Generation,
    GenerationSettings,
    explain,
    on_torch_thread,
    submit_to_torch_thread,
)
from lora_studio.engine.models import load_model, load_tokenizer, resolve_device, resolve_model_dir
from lora_studio.errors import ModelError, StudioError
from lora_studio.messages import say_again, spoken, text
from lora_studio.modelref import parse_model_ref

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)
BASE = ""  # the target that answers with the base model (every adapter disabled)
LOCK_WAIT_S = 60.0


@dataclass
class MemoryReport:
    device: str = ""
    base_bytes: int = 0
    adapter_bytes: dict[str, int] = field(default_factory=dict)  # adapter key → parameter bytes
    cuda_allocated: int | None = None


def _release_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _param_bytes(params) -> int:
    return sum(p.numel() * p.element_size() for p in params)


class Playground(AdapterAttachment):
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
    def _acquire(self, busy: str) -> None:
        """`busy`: the id of the message that says what cannot be done while another answer is being written."""
        # Bounded: gradio already queues these events one at a time, so a long wait means an answer
        # nobody reads is still finishing; say so rather than hang the request.
        if not self._lock.acquire(timeout=LOCK_WAIT_S):
            raise StudioError(text(busy), text("engine.busy_hint"), kind="config")

    @contextmanager
    def _locked(self, busy: str) -> Iterator[None]:
        self._acquire(busy)
        try:
            yield
        finally:
            self._lock.release()

    # ---- state -------------------------------------------------------------------------------
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
                {
                    "key": a.key,
                    "label": a.info.label,
                    "bytes": memory.adapter_bytes.get(a.key, 0),
                    # said when it is read: pages in several languages share the one Playground
                    "warning": str(say_again(a.warning, spoken(a.warning))),
                }
                for a in self.adapters.values()
            ],
        }

    # ---- base --------------------------------------------------------------------------------
    def load_base(self, reference: str, dtype: str = "auto", load_in_8bit: bool = False) -> MemoryReport:
        """Load the base model (replacing any other one); the same base again is a no-op."""
        ref = parse_model_ref(reference)
        with self._locked("engine.busy.load_model"):
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
        with self._locked("engine.busy.unload_model"):
            self._free()
            return self.memory()

    def _free(self) -> None:
        self.model = self.base = self.tokenizer = None
        self.adapters.clear()
        self.base_ref = self.model_dir = ""
        _release_memory()

    # ---- adapters ----------------------------------------------------------------------------
    def load_adapter(self, info: AdapterInfo) -> LoadedAdapter:
        """Load an adapter onto the base (once; loading it again returns the loaded one)."""
        with self._locked("engine.busy.load_adapter"):
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

    def unload_adapter(self, key: str) -> MemoryReport:
        """Delete one adapter's weights; the last one gone leaves the plain base (no LoRA layers at all)."""
        with self._locked("engine.busy.unload_adapter"):
            loaded = self.adapters.pop(key, None)
            if loaded is None:
                return self.memory()
            self._detach(loaded)
            _release_memory()
            return self.memory()

    # ---- generation --------------------------------------------------------------------------
    def stream(self, target: str, messages: list[dict], settings: GenerationSettings) -> Generation:
        """Start an answer from `target` (BASE or an adapter key) to the chat `messages`; iterate for text."""
        self._acquire("engine.busy.answer")  # handed to the generation thread, which releases it when done
        try:
            if not self.loaded:
                raise ModelError(text("engine.no_base"), text("engine.no_base_hint"))
            if target and target not in self.adapters:
                raise ModelError(
                    text("engine.adapter_not_loaded", target=target), text("engine.adapter_not_loaded_hint")
                )
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
            submit_to_torch_thread(self._generate, target, kwargs, settings.seed, generation)
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
        with self._locked("engine.busy.use_model"), torch.inference_mode(), self._as(target):
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
            prompt = tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
        else:  # a model without a chat template (a plain base model): plain text, one turn per paragraph
            prompt = "\n\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in conversation) + "\n\nAssistant:"
        inputs = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").to(self.base.device)
        limit = getattr(self.base.config, "max_position_embeddings", None)
        length = int(inputs["input_ids"].shape[1])
        if limit and length + settings.max_new_tokens > limit:
            raise ModelError(
                text("engine.context_too_long", length=length, new=settings.max_new_tokens, limit=limit),
                text("engine.context_too_long_hint"),
            )
        return dict(inputs)


_PLAYGROUND = Playground()  # empty until a base is chosen: nothing loads at import


def playground() -> Playground:
    """The server's one Playground."""
    return _PLAYGROUND
