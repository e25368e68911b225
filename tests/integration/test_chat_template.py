"""The marked training template for SmolLM2 must render exactly what the model's own template
renders, and mark exactly the assistant replies (with their end-of-turn token) for the loss."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from lora_studio.engine.dataset_build import training_chat_template

CONVERSATIONS = [
    [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello there"}],
    [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "and 3+3?"},
        {"role": "assistant", "content": "6"},
    ],
]


@pytest.fixture(scope="module")
def tokenizer(embedded_dir):
    return AutoTokenizer.from_pretrained(embedded_dir)


@pytest.mark.parametrize("messages", CONVERSATIONS)
def test_marked_template_renders_identically(tokenizer, messages):
    marked = training_chat_template(tokenizer)
    assert marked and "{% generation %}" in marked
    for prompt in (False, True):
        own = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=prompt)
        ours = tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=prompt, chat_template=marked
        )
        assert ours == own


def test_assistant_mask_covers_exactly_the_replies_and_their_end_token(tokenizer):
    messages = CONVERSATIONS[1]
    out = tokenizer.apply_chat_template(
        messages, chat_template=training_chat_template(tokenizer), return_assistant_tokens_mask=True, return_dict=True
    )
    masked = [t for t, m in zip(out["input_ids"], out["assistant_masks"], strict=True) if m]
    assert tokenizer.decode(masked) == "4<|im_end|>6<|im_end|>"


def test_a_template_that_cannot_be_marked_falls_back_to_none(tokenizer):
    other = AutoTokenizer.from_pretrained(tokenizer.name_or_path)
    other.chat_template = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    assert training_chat_template(other) is None
