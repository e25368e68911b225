"""LoRA training: peft's LoraConfig (LoRA, DoRA, LoRA+, 8-/4-bit bases) + TRL's SFTTrainer, or its DPO/ORPO
trainers for pairs of answers (engine/preference.py), and a standard PEFT adapter at the end."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import torch
from trl import SFTConfig, SFTTrainer

from lora_studio.adapters import start_adapter
from lora_studio.config import MUTATING_INITS, PREFERENCE_METHODS, RunConfig
from lora_studio.engine import distributed, dropout, speedups
from lora_studio.engine.callbacks import MetricsCallback, StopFileCallback, StopNow, sample_callbacks, save_stopped
from lora_studio.engine.dataset_build import build_datasets, loss_settings
from lora_studio.engine.models import load_for_training, needs_conversion, resolve_dtype
from lora_studio.engine.preference import make_preference_trainer
from lora_studio.errors import ConfigError
from lora_studio.estimates import optimizer_steps
from lora_studio.launch import check_startable
from lora_studio.messages import text
from lora_studio.metrics import MetricRow
from lora_studio.modelcard import ADAPTER_CONFIG, data_stats, shareable_adapter_config, write_data_stats
from lora_studio.modelref import public_base
from lora_studio.reporting import PROJECT, logs_line, report_env
from lora_studio.runs import RunPaths, resumable_checkpoint

log = logging.getLogger(__name__)

# peft's names for our init choices; "default" is peft's Kaiming-A / zero-B start.
_PEFT_INIT: dict[str, bool | Literal["gaussian", "olora", "pissa"]] = {
    "default": True,
    "gaussian": "gaussian",
    "olora": "olora",
    "pissa": "pissa",
}
# Inits that rewrite the base weights: the saved adapter is converted back to plain LoRA.


@dataclass
class TrainResult:
    state: str  # "completed" or "stopped"
    step: int
    max_steps: int
    final_loss: float | None
    adapter_dir: Path
    trainable_params: int
    total_params: int
    model: object = field(default=None, repr=False)  # the trained PeftModel, for in-process callers
    compiled: bool = False  # the steps ran through torch.compile (its speed is kept apart from eager speeds)


def build_peft_model(model, cfg: RunConfig, start_adapter: Path | None = None):
    """The model with a trainable LoRA adapter: a new one as the config says, or (start_adapter) the adapter of an
    earlier run, trained further as it is (its rank, layers and kind come with it)."""
    from peft import LoraConfig, PeftModel, get_peft_model, prepare_model_for_kbit_training

    if cfg.model.quantized:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.training.gradient_checkpointing)
    if start_adapter is not None:
        peft_model = PeftModel.from_pretrained(model, str(start_adapter), is_trainable=True)
        log.info("continuing the adapter in %s", start_adapter)
        return _fast_dropout(peft_model, cfg)
    lora = LoraConfig(
        r=int(cfg.lora.r),
        # peft annotates lora_alpha as int; a float alpha works (scaling = alpha / r) and the project allows one.
        lora_alpha=float(cfg.lora.alpha),  # type: ignore[arg-type]
        lora_dropout=float(cfg.lora.dropout),
        target_modules=cfg.lora.target_modules,
        init_lora_weights=_PEFT_INIT[cfg.lora.init],
        use_rslora=bool(cfg.lora.use_rslora),
        use_dora=bool(cfg.lora.use_dora),
        bias=cast(
            Literal["none", "all", "lora_only"], cfg.lora.bias
        ),  # one of config.LORA_BIASES, checked by validate()
        task_type="CAUSAL_LM",
    )
    try:
        peft_model = get_peft_model(model, lora)
    except ValueError as exc:
        if "target modules" in str(exc).lower() or "target_modules" in str(exc):
            raise ConfigError(f"lora.target_modules: {exc}".splitlines()[0], text("engine.bad_targets_hint")) from exc
        raise
    return _fast_dropout(peft_model, cfg)


def _fast_dropout(peft_model, cfg: RunConfig):
    if cfg.training.fast_dropout and all(p.device.type == "cpu" for p in peft_model.parameters()):
        swapped = dropout.install(peft_model)
        if swapped:
            log.info(
                "LoRA dropout %.4g on %d layers draws its masks from 16-bit random integers (CPU)",
                cfg.lora.dropout,
                swapped,
            )
    return peft_model


def loraplus_optimizer(peft_model, cfg: RunConfig):
    """LoRA+ (lora.loraplus_lr_ratio > 0): peft's optimizer that trains the B matrices that many times faster than
    the A matrices; None leaves the Trainer's own AdamW."""
    ratio = float(cfg.lora.loraplus_lr_ratio)
    if ratio <= 0:
        return None
    from peft.optimizers import create_loraplus_optimizer

    return create_loraplus_optimizer(
        peft_model,
        torch.optim.AdamW,
        lr=float(cfg.training.learning_rate),
        loraplus_lr_ratio=ratio,
        weight_decay=float(cfg.training.weight_decay),
    )


def make_sft_config(
    cfg: RunConfig, paths: RunPaths, device: str, has_eval: bool, assistant_only: bool, compile_model: bool = False
) -> SFTConfig:
    neftune = float(cfg.training.neftune_noise_alpha)
    return SFTConfig(
        **common_args(cfg, paths, device, has_eval, compile_model),
        max_length=int(cfg.data.max_length),
        packing=False,
        assistant_only_loss=assistant_only,
        neftune_noise_alpha=neftune if neftune > 0 else None,
    )


def common_args(
    cfg: RunConfig, paths: RunPaths, device: str, has_eval: bool, compile_model: bool = False
) -> dict[str, Any]:
    """The trainer arguments every method shares (TrainingArguments' fields, as TRL's configs take them);
    `compile_model` is speedups.compile_choice's answer for this run."""
    t = cfg.training
    dtype = resolve_dtype(cfg.model.dtype, device, cfg.model.quantized == "8-bit")
    kwargs: dict[str, Any] = dict(
        output_dir=str(paths.checkpoints),
        per_device_train_batch_size=int(t.batch_size),
        per_device_eval_batch_size=int(t.batch_size),
        gradient_accumulation_steps=int(t.gradient_accumulation),
        learning_rate=float(t.learning_rate),
        lr_scheduler_type=t.lr_scheduler,
        warmup_steps=float(t.warmup_ratio),  # a float in [0, 1) is a ratio of the total steps
        weight_decay=float(t.weight_decay),
        max_grad_norm=float(t.max_grad_norm),
        seed=int(t.seed),
        data_seed=int(t.seed),
        logging_steps=int(t.logging_steps),
        logging_first_step=True,  # a first point on the chart as soon as one step is done
        save_strategy="steps",
        save_steps=int(t.save_steps),
        save_total_limit=2,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=int(t.eval_steps),
        # "none" or one tool; where it writes is set in the environment while training (reporting_environment).
        report_to=str(t.report_to),
        run_name=paths.run_id,
        project=PROJECT,  # Trackio's project
        trackio_static_space_id=False,  # local-first: Trackio never creates a Space on the Hub
        disable_tqdm=True,
        use_cpu=device == "cpu",
        bf16=device == "cuda" and dtype == torch.bfloat16,
        fp16=device == "cuda" and dtype == torch.float16,
        activation_checkpointing=bool(t.gradient_checkpointing),
        # Non-reentrant checkpointing works with frozen inputs, so peft needs no input-grad hook.
        activation_checkpointing_kwargs={"use_reentrant": False} if t.gradient_checkpointing else None,
        dataloader_pin_memory=device == "cuda",
        # Several CPU processes talk over gloo (no NCCL there). Only then: with one process accelerate would
        # look for a process group that does not exist.
        ddp_backend="gloo" if device == "cpu" and distributed.world_size() > 1 else None,
        # Every LoRA weight takes part in each forward pass: DDP need not search the graph for unused ones.
        ddp_find_unused_parameters=False,
        use_liger_kernel=speedups.liger(device, speedups.installed("liger_kernel")).on,
        torch_compile=compile_model,
    )
    if t.max_steps > 0:
        kwargs["max_steps"] = int(t.max_steps)
    else:
        kwargs["num_train_epochs"] = float(t.num_epochs)
    return kwargs


@contextmanager
def reporting_environment(tool: str, paths: RunPaths) -> Iterator[dict[str, str]]:
    """The chosen logging tool's variables (reporting.report_env) in this process's environment while the trainer
    is built and trains, then the environment as it was: nothing of it reaches the disk, and a later run in the
    same process starts from the user's own environment."""
    env = report_env(tool, paths)
    if env.get("MLFLOW_TRACKING_URI", "").startswith("sqlite:"):
        paths.mlflow.mkdir(parents=True, exist_ok=True)  # SQLite creates the file, not its folder
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def last_checkpoint(paths: RunPaths) -> str | None:
    checkpoint = resumable_checkpoint(paths)  # the newest complete one, not the Trainer's newest folder
    return str(checkpoint) if checkpoint else None


def save_adapter(peft_model, tokenizer, paths: RunPaths, cfg: RunConfig, chat_template: str | None) -> Path:
    """Write adapter/ atomically: standard PEFT files plus the tokenizer with its own template. Its config names
    the base by its public id (the embedded model's Hub id, never a folder of this machine), so the folder is
    the same here and in an export; LoRA Studio maps that id back to the local weights (models.resolve_model_dir).
    """
    tmp = paths.root / ".adapter.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    kwargs = {}
    if cfg.lora.init in MUTATING_INITS:
        # peft turns the trained OLoRA/PiSSA adapter into a rank-2r plain LoRA that is correct on
        # the original, untouched base weights.
        kwargs["path_initial_model_for_weight_conversion"] = str(paths.adapter_init)
    # Only the trained adapter: DPO may hold a frozen copy of the starting one as its reference ("ref").
    peft_model.save_pretrained(tmp, selected_adapters=["default"], **kwargs)
    # Rewritten after saving, not set before: peft would look the id up on the Hub while it saves.
    (tmp / ADAPTER_CONFIG).write_text(
        shareable_adapter_config(tmp, public_base(cfg.model.name_or_path)), encoding="utf-8"
    )
    tokenizer.chat_template = chat_template
    tokenizer.save_pretrained(tmp)
    if paths.adapter.exists():
        shutil.rmtree(paths.adapter)
    tmp.replace(paths.adapter)
    return paths.adapter


def train(
    cfg: RunConfig,
    paths: RunPaths,
    on_row: Callable[[MetricRow], None] | None = None,
    on_phase: Callable[[str, dict], None] | None = None,
    resume: bool = False,
) -> TrainResult:
    """Train one LoRA adapter for `cfg` inside the run directory `paths`."""

    def phase(name: str, **info) -> None:
        log.info("%s", name)
        if on_phase:
            on_phase(name, info)

    _quiet_progress_bars()
    phase("reading data")
    data = check_startable(cfg)  # the same checks as the CLI and the dashboard made before it was queued
    where = logs_line(cfg.training.report_to, paths)  # the Train tab shows the same line
    if where and distributed.is_main():
        log.info("%s", where)
    checkpoint = last_checkpoint(paths) if resume else None
    if resume and checkpoint is None:
        raise ConfigError(text("engine.no_checkpoint", run_id=paths.run_id), text("engine.no_checkpoint_hint"))

    converting = needs_conversion(cfg.model.name_or_path)
    phase("loading model: converting it to safetensors first (once, about 30 s)" if converting else "loading model")
    model, tokenizer, device, _ = load_for_training(cfg.model)
    torch.manual_seed(int(cfg.training.seed))
    started_from = start_adapter(cfg)
    peft_model = build_peft_model(model, cfg, started_from.path if started_from else None)
    trainable, total = peft_model.get_nb_trainable_parameters()
    log.info(
        "trainable parameters: %s of %s (%.3f%%) on %s",
        f"{trainable:,}",
        f"{total:,}",
        100 * trainable / max(total, 1),
        device,
    )
    phase("model ready", trainable_params=int(trainable), total_params=int(total), device=device)
    if cfg.lora.init in MUTATING_INITS and distributed.is_main() and not paths.adapter_init.exists():
        peft_model.save_pretrained(paths.adapter_init)  # the starting point peft converts against

    phase("tokenising")
    original_template = tokenizer.chat_template
    assistant_only, tokenizer.chat_template = loss_settings(tokenizer, data.format, cfg.data.assistant_only_loss)
    train_ds, eval_ds = build_datasets(data, cfg.data, int(cfg.training.seed), tokenizer)
    compiled = speedups.compile_for(cfg, optimizer_steps(len(train_ds), cfg))
    speedups.choose_labelled_only(device, compiled)
    metrics_cb = MetricsCallback(paths.metrics, on_row)
    stop_cb = StopFileCallback(paths.stop)
    # transformers reads the logging tool's variables when it builds the tool's callback and when training begins.
    with reporting_environment(cfg.training.report_to, paths):
        trainer_kwargs: dict[str, Any] = dict(
            model=peft_model,
            train_dataset=train_ds,
            eval_dataset=eval_ds,
            processing_class=tokenizer,
            # Metrics first: the first loss point is written before the starting point's sample answers, whose
            # time the metrics then leave out of speed and ETA. A stop skips the answers: it saves at once.
            callbacks=[
                metrics_cb,
                *sample_callbacks(
                    cfg, data, paths, tokenizer, original_template, metrics_cb.exclude, lambda: stop_cb.stopped
                ),
                stop_cb,
            ],
            optimizers=(loraplus_optimizer(peft_model, cfg), None),
        )
        trainer: Any
        if cfg.training.method in PREFERENCE_METHODS:
            common = common_args(cfg, paths, device, eval_ds is not None, compiled)
            fresh = started_from is None and cfg.lora.init not in MUTATING_INITS
            trainer = make_preference_trainer(cfg, common, reference_is_base=fresh, **trainer_kwargs)
        else:
            args = make_sft_config(cfg, paths, device, eval_ds is not None, assistant_only, compiled)
            trainer = SFTTrainer(args=args, **trainer_kwargs)
        _quiet_printer(trainer)
        if cfg.training.method not in PREFERENCE_METHODS:
            speedups.choose_padding_free(trainer, cfg, peft_model)
        if device == "cuda" and distributed.is_main():
            log.info("%s", speedups.liger(device, speedups.installed("liger_kernel")).line("Liger kernels"))
        if distributed.is_main():  # for the model card: export reads it instead of parsing the data again
            n_eval = len(eval_ds) if eval_ds is not None else 0
            stats = data_stats(
                data.path, len(data.rows), data.format, len(train_ds), n_eval, _tokens(trainer.train_dataset)
            )
            write_data_stats(paths, stats)

        phase("training", max_steps=trainer.args.max_steps)
        try:
            with stop_cb.interrupt(peft_model) if not compiled else nullcontext():
                trainer.train(resume_from_checkpoint=checkpoint)
        except StopNow:
            save_stopped(trainer)
    state = trainer.state
    phase("saving adapter")
    adapter = paths.adapter  # rank 0 alone writes it; DDP keeps the adapter weights equal on every rank
    if distributed.is_main():
        adapter = save_adapter(peft_model, tokenizer, paths, cfg, original_template)
    losses = [h["loss"] for h in state.log_history if "loss" in h]
    return TrainResult(
        "stopped" if stop_cb.stopped else "completed",
        state.global_step,
        state.max_steps,
        losses[-1] if losses else None,
        adapter,
        int(trainable),
        int(total),
        peft_model,
        compiled,
    )


def _tokens(dataset) -> int | None:
    """Tokens in one pass over the tokenised training set (read from its Arrow column, not row by row)."""
    import pyarrow.compute as pc

    names = dataset.column_names
    # SFT: input_ids; DPO: the prompt is seen twice (before each answer); ORPO: both whole sequences.
    columns = (
        ["input_ids"]
        if "input_ids" in names
        else ["prompt_ids", "prompt_ids", "chosen_ids", "rejected_ids"]
        if "chosen_ids" in names
        else ["chosen_input_ids", "rejected_input_ids"]
    )
    try:
        return sum(int(pc.sum(pc.list_value_length(dataset.data.column(c))).as_py() or 0) for c in columns)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:  # not tokenised up front, or another layout
        log.info("Training tokens not counted (%s)", exc)
        return None


def _quiet_progress_bars() -> None:
    """The run reports its own phases and progress lines; per-file bars would flood train.log."""
    import datasets
    from transformers.utils import logging as hf_logging

    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()


def _quiet_printer(trainer) -> None:
    """Our MetricsCallback prints one line per log; the Trainer's raw dict printer would double it."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
