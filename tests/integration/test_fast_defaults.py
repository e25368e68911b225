"""Our defaults train faster than TRL's own (bench/train_throughput.py measures by how much) and
compute the same thing: gradient checkpointing off and float32 on CPU change the speed, not the loss."""

from __future__ import annotations

import json

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import SFTConfig

from lora_studio.config import RunConfig
from lora_studio.engine.models import resolve_dtype
from lora_studio.engine.train import make_sft_config
from lora_studio.runs import RunPaths


def test_our_config_turns_off_what_trl_turns_on_by_default(tmp_path):
    trl_default = SFTConfig(output_dir=str(tmp_path / "trl"), use_cpu=True)
    assert trl_default.gradient_checkpointing and trl_default.bf16  # what a plain script gets
    ours = make_sft_config(RunConfig(), RunPaths(tmp_path / "run"), "cpu", has_eval=False, assistant_only=True)
    assert not ours.gradient_checkpointing and not ours.activation_checkpointing
    assert not ours.bf16 and not ours.fp16
    assert resolve_dtype(RunConfig().model.dtype, "cpu") == torch.float32


def _loss_and_grads(model_dir, batch, checkpointing: bool):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model = get_peft_model(
        model,
        LoraConfig(
            r=4,
            lora_alpha=8,
            lora_dropout=0.0,
            target_modules="all-linear",
            init_lora_weights=False,
            task_type="CAUSAL_LM",
        ),
    )
    model.train()
    loss = model(**batch).loss
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    return loss.detach(), grads


def test_checkpointing_off_gives_the_same_loss_and_gradients(tiny_model_dir, chat_file):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    lines = chat_file.read_text(encoding="utf-8").splitlines()[:4]
    texts = [tokenizer.apply_chat_template(json.loads(line)["messages"], tokenize=False) for line in lines]
    batch = dict(tokenizer(texts, return_tensors="pt", padding=True))
    labels = batch["input_ids"].clone()
    labels[batch["attention_mask"] == 0] = -100
    batch["labels"] = labels

    loss_fast, grads_fast = _loss_and_grads(tiny_model_dir, batch, checkpointing=False)
    loss_ckpt, grads_ckpt = _loss_and_grads(tiny_model_dir, batch, checkpointing=True)
    assert torch.allclose(loss_fast, loss_ckpt, atol=1e-6)
    assert grads_fast.keys() == grads_ckpt.keys() and grads_fast
    for name, grad in grads_fast.items():
        assert torch.allclose(grad, grads_ckpt[name], atol=1e-6, rtol=1e-5), name
    assert any(g.abs().sum() > 0 for g in grads_fast.values())  # the adapter does learn from this batch


# --- the CPU dropout (lora_studio/engine/dropout.py) -------------------------------------------------------


def test_bits_dropout_zeroes_at_the_requested_rate_and_keeps_the_mean():
    from lora_studio.engine.dropout import BitsDropout, representable

    torch.manual_seed(0)
    x = torch.ones(2_000_000)
    for p in (0.05, 0.1, 0.5):
        layer = BitsDropout(p).train()
        out = layer(x)
        dropped = (out == 0).float().mean().item()
        sigma = (p * (1 - p) / x.numel()) ** 0.5
        assert abs(dropped - p) < 5 * sigma, (p, dropped)  # and independent of the 16-bit lanes' positions:
        for lane in range(4):
            lane_rate = (out[lane::4] == 0).float().mean().item()
            assert abs(lane_rate - p) < 5 * 2 * sigma, (p, lane, lane_rate)
        assert abs(representable(p) - p) < 1e-5
        kept = out[out != 0]
        assert torch.allclose(kept, torch.full_like(kept, 1 / (1 - representable(p))))
        assert abs(out.mean().item() - 1.0) < 5 * sigma / (1 - p)


def test_bits_dropout_is_the_identity_in_eval_passes_gradients_through_its_mask_and_repeats_with_a_seed():
    from lora_studio.engine.dropout import BitsDropout

    layer = BitsDropout(0.3)
    x = torch.randn(8, 33, 17, requires_grad=True)
    assert layer.eval()(x) is x
    layer.train()
    torch.manual_seed(7)
    out = layer(x)
    out.sum().backward()
    mask = (out != 0).float()
    assert torch.allclose(x.grad, mask / (1 - 0.3), atol=1e-4)
    torch.manual_seed(7)
    assert torch.equal(layer(x), out)
    assert (mask.mean() - 0.7).abs() < 0.05


def test_a_cpu_run_swaps_every_lora_dropout_and_the_adapter_config_still_says_p(tiny_model_dir, tmp_path):
    from lora_studio.engine.dropout import BitsDropout
    from lora_studio.engine.train import build_peft_model

    cfg = RunConfig()
    cfg.lora.dropout = 0.1
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    peft_model = build_peft_model(model, cfg)
    layers = [m for m in peft_model.modules() if hasattr(m, "lora_dropout") and "default" in m.lora_dropout]
    assert layers and all(isinstance(m.lora_dropout["default"], BitsDropout) for m in layers)
    peft_model.save_pretrained(tmp_path / "adapter")
    assert json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())["lora_dropout"] == 0.1

    cfg.training.fast_dropout = False
    plain = build_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32), cfg)
    assert not any(isinstance(m, BitsDropout) for m in plain.modules())
