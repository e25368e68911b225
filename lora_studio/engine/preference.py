"""Preference training: TRL's DPOTrainer and (experimental) ORPOTrainer on pairs of answers.

TRL does the training; this module sets them up the LoRA Studio way:
- DPO's reference is the model with the adapter switched off (no second copy of the base in memory). When the run
  continues an earlier run's adapter (lora.start_from), or the adapter starts from a factorisation of the base
  (OLoRA/PiSSA, which rewrite the base weights), the reference is instead a frozen copy of the starting adapter
  (TRL's "ref" adapter: a copy of the LoRA weights only), so the run is pulled back towards where it started.
- TRL 1.x dropped its own prompt limit: `training.max_prompt_length` keeps the last tokens of a long prompt, so
  the answers fit within max length instead of being cut off.
"""

from __future__ import annotations

import logging
from typing import Any

from trl import DPOConfig, DPOTrainer

from lora_studio.config import RunConfig

log = logging.getLogger(__name__)


class StudioDPOTrainer(DPOTrainer):
    """DPOTrainer with a prompt limit of its own (0 = none) and, for a fresh zero-start adapter, the adapter
    switched off as the reference."""

    def __init__(self, *args, max_prompt_length: int = 0, reference_is_base: bool = True, **kwargs) -> None:
        self.max_prompt_length = int(max_prompt_length)
        super().__init__(*args, **kwargs)
        model: Any = self.model  # a PeftModel: the trainer got one
        peft_config = getattr(model, "peft_config", {})
        if reference_is_base and "ref" in peft_config:
            # TRL copies a PeftModel's adapter as the reference. A fresh default/gaussian adapter changes nothing
            # yet (its B matrices are zero), so the base with adapters off is the same reference, without the copy.
            model.delete_adapter("ref")
            log.info("DPO reference: the base model with the adapter switched off")
        elif "ref" in peft_config:
            log.info("DPO reference: a frozen copy of the adapter this run starts from")

    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        dataset = super()._prepare_dataset(dataset, processing_class, args, dataset_name)
        limit = self.max_prompt_length
        if limit > 0:
            dataset = dataset.map(lambda row: {"prompt_ids": row["prompt_ids"][-limit:]})
        return dataset


def _orpo_classes():
    """TRL keeps ORPO under trl.experimental (it warns on import): imported only when a run asks for it."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from trl.experimental.orpo import ORPOConfig, ORPOTrainer

    class StudioORPOTrainer(ORPOTrainer):
        """ORPOTrainer with the same prompt limit: a long prompt keeps its last tokens."""

        def __init__(self, *args, max_prompt_length: int = 0, **kwargs) -> None:
            self.max_prompt_length = int(max_prompt_length)
            super().__init__(*args, **kwargs)

        def tokenize_row(self, feature, model=None):
            limit = self.max_prompt_length
            if limit > 0:
                ids = self.processing_class(feature["prompt"], add_special_tokens=False)["input_ids"]
                if len(ids) > limit:
                    feature = {**feature, "prompt": self.processing_class.decode(ids[-limit:])}
            return super().tokenize_row(feature, model)

    return ORPOConfig, StudioORPOTrainer


def make_preference_trainer(
    cfg: RunConfig, common: dict[str, Any], *, reference_is_base: bool, **trainer_kwargs: Any
) -> DPOTrainer:
    """The DPO or ORPO trainer for `cfg`, from the arguments every method shares (train.common_args)."""
    t = cfg.training
    if t.method == "dpo":
        args = DPOConfig(
            **common,
            max_length=int(cfg.data.max_length),
            beta=float(t.dpo_beta),
            loss_type=[str(t.dpo_loss)],
            # Dropout is the user's lora.dropout; TRL would switch every dropout off.
            disable_dropout=False,
        )
        return StudioDPOTrainer(
            args=args,
            max_prompt_length=int(t.max_prompt_length),
            reference_is_base=reference_is_base,
            **trainer_kwargs,
        )
    orpo_config, orpo_trainer = _orpo_classes()
    args = orpo_config(
        **common,
        max_length=int(cfg.data.max_length),
        beta=float(t.orpo_lambda),  # the paper's λ: weight of the odds-ratio term next to the chosen answer's loss
        disable_dropout=False,
        remove_unused_columns=False,
    )
    return orpo_trainer(args=args, max_prompt_length=int(t.max_prompt_length), **trainer_kwargs)
