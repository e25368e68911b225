"""The Playground engine on a tiny random Llama with two adapters trained differently."""

from __future__ import annotations

import gc
import shutil
import threading
import time
import weakref
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, LlamaConfig

from lora_studio.adapters import AdapterInfo
from lora_studio.engine.inference import GenerationSettings, Playground
from lora_studio.engine.train import train
from lora_studio.errors import ModelError
from lora_studio.runs import RunPaths, create_run, update_status
from tests.conftest import SAMPLES
from tests.integration.helpers import logits, tiny_config

HELLO = [{"role": "user", "content": "What is 12 plus 30?"}]
GREEDY = GenerationSettings(max_new_tokens=12, temperature=0)


def _train_run(root: Path, name: str, model_dir: Path, data: Path, *overrides: str) -> RunPaths:
    cfg = tiny_config(model_dir, data, "training.max_steps=8", "training.learning_rate=0.01", *overrides)
    paths = RunPaths(root / name)
    create_run(paths, cfg)
    result = train(cfg, paths)
    update_status(paths, state=result.state, step=result.step, max_steps=result.max_steps)
    return paths


@pytest.fixture(scope="session")
def pg_model_dir(tmp_path_factory, tiny_model_dir) -> Path:
    """The tiny Llama with an untied output head: a tied random one echoes its last input token, so every
    greedy answer would be the same newlines and could not tell adapters apart."""
    out = tmp_path_factory.getbasetemp() / "playground-tiny-untied"  # one per session, shared by two modules
    if (out / "config.json").is_file():
        return out
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    config = AutoConfig.from_pretrained(tiny_model_dir)
    config.tie_word_embeddings = False
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def trained_runs(tmp_path_factory, pg_model_dir) -> dict[str, RunPaths]:
    """Two finished runs on the tiny model: chat data vs instruction data, different seeds and ranks."""
    root = tmp_path_factory.getbasetemp() / "playground-runs"  # one per session, shared by two modules
    names = {"chat": "20240101-000001-chat", "instr": "20240101-000002-instr"}
    if all((root / name / "adapter").is_dir() for name in names.values()):
        return {key: RunPaths(root / name) for key, name in names.items()}
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    chat = root / "chat.jsonl"
    chat.write_text("\n".join((SAMPLES / "chat-assistant.jsonl").read_text().splitlines()[:40]) + "\n")
    instructions = root / "instructions.jsonl"
    instructions.write_text("\n".join((SAMPLES / "instructions.jsonl").read_text().splitlines()[:40]) + "\n")
    return {
        "chat": _train_run(root, names["chat"], pg_model_dir, chat),
        "instr": _train_run(root, names["instr"], pg_model_dir, instructions, "training.seed=7", "lora.r=8"),
    }


def info_of(paths: RunPaths, base: Path) -> AdapterInfo:
    return AdapterInfo(f"run:{paths.run_id}", f"{paths.run_id} (run)", paths.adapter, str(base), "run", paths.run_id)


@pytest.fixture
def loaded(pg_model_dir, trained_runs) -> Playground:
    playground = Playground()
    playground.load_base(str(pg_model_dir))
    for paths in trained_runs.values():
        playground.load_adapter(info_of(paths, pg_model_dir))
    yield playground
    playground.unload_base()


def keys(trained_runs) -> tuple[str, str]:
    return f"run:{trained_runs['chat'].run_id}", f"run:{trained_runs['instr'].run_id}"


def test_switching_adapters_changes_outputs_and_disabling_gives_the_base_exactly(loaded, pg_model_dir, trained_runs):
    chat, instr = keys(trained_runs)
    fresh = AutoModelForCausalLM.from_pretrained(pg_model_dir)  # never touched by peft
    expected = logits(fresh, loaded.tokenizer)
    with loaded.use(chat) as model:
        with_chat = logits(model, loaded.tokenizer)
    with loaded.use(instr) as model:
        with_instr = logits(model, loaded.tokenizer)
    with loaded.use("") as model:
        assert isinstance(model, PeftModel)  # the base answers with the adapters disabled, not reloaded
        base = logits(model, loaded.tokenizer)
    assert torch.equal(base, expected)
    assert not torch.allclose(with_chat, expected, atol=1e-4)
    assert not torch.allclose(with_chat, with_instr, atol=1e-4)
    with loaded.use(chat) as model:  # switching back gives the same adapter's outputs again
        assert torch.equal(logits(model, loaded.tokenizer), with_chat)


def test_two_adapters_trained_differently_give_different_greedy_answers(loaded, trained_runs):
    chat, instr = keys(trained_runs)
    answers = {target: loaded.generate(target, HELLO, GREEDY) for target in ("", chat, instr)}
    assert len(set(answers.values())) == 3, answers
    assert loaded.generate(chat, HELLO, GREEDY) == answers[chat]  # greedy: the same answer every time


def test_streaming_gives_the_text_of_plain_greedy_generate(loaded, trained_runs):
    chat, _ = keys(trained_runs)
    generation = loaded.stream(chat, HELLO, GREEDY)
    pieces = list(generation)
    tokenizer = loaded.adapters[chat].tokenizer
    prompt = tokenizer.apply_chat_template(HELLO, tokenize=False, add_generation_prompt=True)
    inputs = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")
    with loaded.use(chat) as model:
        out = model.generate(
            **inputs, max_new_tokens=GREEDY.max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id
        )
    new_tokens = out[0, inputs["input_ids"].shape[1] :]
    assert len(pieces) > 1  # it really streamed
    assert "".join(pieces) == tokenizer.decode(new_tokens, skip_special_tokens=True)
    assert generation.tokens == len(new_tokens) and generation.tokens_per_s() > 0


def test_the_same_seed_gives_the_same_sampled_answer(loaded, trained_runs):
    chat, _ = keys(trained_runs)
    sampled = GenerationSettings(max_new_tokens=16, temperature=1.0, top_p=1.0, top_k=0, seed=3)
    first = loaded.generate(chat, HELLO, sampled)
    assert loaded.generate(chat, HELLO, sampled) == first
    sampled.seed = 4
    assert loaded.generate(chat, HELLO, sampled) != first


def test_unloading_an_adapter_frees_it_and_the_last_one_leaves_the_plain_base(loaded, pg_model_dir, trained_runs):
    chat, instr = keys(trained_runs)
    before = loaded.memory()
    name = loaded.adapters[chat].name
    after = loaded.unload_adapter(chat)
    assert name not in loaded.model.peft_config and chat not in loaded.adapters
    assert not [n for n, _ in loaded.model.named_parameters() if f".{name}." in n]
    assert chat not in after.adapter_bytes and after.adapter_bytes[instr] == before.adapter_bytes[instr]
    assert after.base_bytes == before.base_bytes
    loaded.unload_adapter(instr)
    assert not isinstance(loaded.model, PeftModel)
    assert not [n for n, _ in loaded.model.named_parameters() if "lora_" in n]
    fresh = AutoModelForCausalLM.from_pretrained(pg_model_dir)
    assert torch.equal(logits(loaded.model, loaded.tokenizer), logits(fresh, loaded.tokenizer))
    loaded.load_adapter(info_of(trained_runs["chat"], pg_model_dir))  # a new PeftModel on the same base
    assert loaded.generate(chat, HELLO, GREEDY) != loaded.generate("", HELLO, GREEDY)


def test_unloading_the_base_frees_everything(loaded):
    model = weakref.ref(loaded.base)
    report = loaded.unload_base()
    gc.collect()
    assert model() is None and not loaded.loaded and not loaded.adapters
    assert report.base_bytes == 0 and report.adapter_bytes == {}
    with pytest.raises(ModelError, match="No base model is loaded"):
        loaded.stream("", HELLO, GREEDY)


def test_an_adapter_trained_on_another_model_is_refused_in_words(tmp_path, trained_runs, pg_model_dir):
    other = tmp_path / "other-tiny"
    tokenizer = AutoTokenizer.from_pretrained(pg_model_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=256,
    )
    AutoModelForCausalLM.from_config(config).save_pretrained(other)
    tokenizer.save_pretrained(other)
    playground = Playground()
    playground.load_base(str(other))
    with pytest.raises(ModelError, match="does not fit") as err:
        playground.load_adapter(info_of(trained_runs["chat"], pg_model_dir))
    message = err.value.one_line()
    assert f"trained on {pg_model_dir}" in message
    assert "layers this model does not have" in message and "takes 64 inputs here but 128" in message
    assert "Load the base it was trained on" in err.value.hint
    assert not playground.adapters and not isinstance(playground.model, PeftModel)  # nothing half-loaded


def test_same_shapes_under_another_name_load_with_a_warning(tmp_path, trained_runs, pg_model_dir):
    copy = Path(shutil.copytree(pg_model_dir, tmp_path / "renamed-model"))
    playground = Playground()
    playground.load_base(str(copy))
    adapter = info_of(trained_runs["chat"], pg_model_dir)
    loaded = playground.load_adapter(adapter)
    assert "not on" in loaded.warning and "answers may not make sense" in loaded.warning
    assert playground.snapshot()["adapters"][0]["warning"] == loaded.warning


def test_stop_ends_an_answer_early_and_a_load_waits_for_the_answer(loaded):
    generation = loaded.stream("", HELLO, GenerationSettings(max_new_tokens=400, temperature=1.0, top_k=0))
    pieces = iter(generation)
    next(pieces)
    unloading = threading.Thread(target=loaded.unload_base)
    unloading.start()
    unloading.join(timeout=0.3)
    assert unloading.is_alive() and loaded.loaded  # the unload waits: the model stays under the answer
    loaded.stop()
    list(pieces)
    unloading.join(timeout=30)
    assert generation.stopped and generation.tokens < 400
    assert not loaded.loaded


def test_a_conversation_longer_than_the_context_says_what_to_do(loaded):
    long = [{"role": "user", "content": "word " * 1100}]
    with pytest.raises(ModelError, match="exceeds this model's 1024-token context") as err:
        loaded.stream("", long, GREEDY)
    assert "Clear" in err.value.hint
    assert loaded.generate("", HELLO, GREEDY) is not None  # the lock was given back


def test_loading_and_every_answer_run_on_one_torch_thread(pg_model_dir, trained_runs, monkeypatch):
    """One OpenMP team for the Playground: a load in a request thread and answers in fresh threads made
    libgomp stop spinning and generate 0.6x as fast (bench/playground_generate.py)."""
    from lora_studio.engine import inference

    seen: list[str] = []
    real_load, real_attach = inference.load_model, Playground._attach
    monkeypatch.setattr(
        inference, "load_model", lambda *a, **k: seen.append(threading.current_thread().name) or real_load(*a, **k)
    )
    monkeypatch.setattr(
        Playground, "_attach", lambda self, *a: seen.append(threading.current_thread().name) or real_attach(self, *a)
    )
    playground = Playground()
    threading.Thread(target=playground.load_base, args=(str(pg_model_dir),)).start()  # like a request thread
    deadline = time.time() + 60
    while not playground.loaded and time.time() < deadline:
        time.sleep(0.05)
    playground.load_adapter(info_of(trained_runs["chat"], pg_model_dir))
    chat, _ = keys(trained_runs)
    real_generate = playground.model.generate

    def generate(**kwargs):
        seen.append(threading.current_thread().name)
        return real_generate(**kwargs)

    monkeypatch.setattr(playground.model, "generate", generate)
    for target in (chat, ""):
        "".join(playground.stream(target, HELLO, GREEDY))
    playground.unload_base()
    assert len(seen) == 4 and len(set(seen)) == 1 and seen[0].startswith("lora-studio-torch"), seen


# ---- a failed adapter load leaves the shared model exactly as it was (issue 11, finding 2) -----------
def _copy_adapter(paths: RunPaths, folder: Path) -> Path:
    shutil.copytree(paths.adapter, folder)
    return folder


def _outputs(playground: Playground, targets: list[str]) -> dict[str, torch.Tensor]:
    out = {}
    for target in targets:
        with playground.use(target) as model:
            out[target] = logits(model, playground.tokenizer)
    return out


def test_a_cut_safetensors_file_is_refused_before_peft_touches_the_base(tmp_path, pg_model_dir, trained_runs):
    playground = Playground()
    playground.load_base(str(pg_model_dir))
    before = _outputs(playground, [""])
    broken = _copy_adapter(trained_runs["chat"], tmp_path / "cut")
    weights = broken / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    info = AdapterInfo("upload:cut", "cut (uploaded)", broken, str(pg_model_dir), "upload")
    with pytest.raises(ModelError, match=r"cut.*safetensors"):
        playground.load_adapter(info)
    assert not isinstance(playground.model, PeftModel)
    assert torch.equal(_outputs(playground, [""])[""], before[""])
    playground.unload_base()


@pytest.mark.parametrize("already_loaded", [0, 1])
def test_a_load_that_fails_inside_peft_is_undone(tmp_path, monkeypatch, pg_model_dir, trained_runs, already_loaded):
    """peft injects LoRA layers into the base before it reads the weights; a read that fails then (here: a
    SafetensorError raised by peft's weight loader) must leave the base, and any adapter already loaded,
    answering exactly as before, and say in words what happened."""
    import peft.peft_model
    from safetensors import SafetensorError

    playground = Playground()
    playground.load_base(str(pg_model_dir))
    if already_loaded:
        playground.load_adapter(info_of(trained_runs["instr"], pg_model_dir))
    targets = ["", *playground.adapters]
    before = _outputs(playground, targets)
    structure = [name for name, _ in playground.model.named_parameters()]

    def broken_read(*args, **kwargs):
        raise SafetensorError("Error while deserializing header: incomplete metadata, file not fully covered")

    monkeypatch.setattr(peft.peft_model, "load_peft_weights", broken_read)
    info = AdapterInfo("upload:x", "odd.zip (uploaded)", trained_runs["chat"].adapter, str(pg_model_dir), "upload")
    with pytest.raises(ModelError) as refused:
        playground.load_adapter(info)
    message = refused.value.one_line()
    assert "odd.zip could not be loaded (SafetensorError" in message and "as it was before" in message
    assert "upload:x" not in playground.adapters
    assert [name for name, _ in playground.model.named_parameters()] == structure
    after = _outputs(playground, targets)
    for target in targets:
        assert torch.equal(after[target], before[target]), target
    monkeypatch.undo()
    playground.load_adapter(info_of(trained_runs["chat"], pg_model_dir))  # and a good adapter still loads
    assert len(playground.adapters) == 1 + already_loaded
    playground.unload_base()


def test_damaged_tokenizer_files_in_an_adapter_are_refused_in_words(tmp_path, pg_model_dir, trained_runs):
    """A tokenizer_config.json transformers cannot use raised TypeError/ValueError: a bare 'Error' in the UI."""
    playground = Playground()
    playground.load_base(str(pg_model_dir))
    folder = _copy_adapter(trained_runs["chat"], tmp_path / "tok")
    (folder / "tokenizer_config.json").write_text('{"tokenizer_class": ["not", "a", "class"], "model_max_length": {}}')
    (folder / "tokenizer.json").write_text("{broken")
    info = AdapterInfo("upload:tok", "tok.zip (uploaded)", folder, str(pg_model_dir), "upload")
    with pytest.raises(ModelError, match=r"tok\.zip's tokenizer files cannot be read"):
        playground.load_adapter(info)
    assert not playground.adapters and not isinstance(playground.model, PeftModel)
    playground.unload_base()
