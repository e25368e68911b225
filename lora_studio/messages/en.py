"""English: every message of the dashboard, by id (see lora_studio/messages/__init__.py)."""

MESSAGES: dict[str, str] = {
    # ---- settings: label and help of every RunConfig field ----------------------------------------------
    "model.name_or_path.label": "Base model",
    "model.name_or_path.help": "The model you fine-tune: the embedded SmolLM2 (works offline), a Hugging Face Hub "
    "id (owner/name) or a folder on this machine.",
    "model.dtype.label": "Weight precision",
    "model.dtype.help": "How precisely the base model's weights are held. auto picks bfloat16 on GPUs that support "
    "it and float32 on a CPU.",
    "model.load_in_8bit.label": "Load the base in 8-bit",
    "model.load_in_8bit.help": "Keeps the frozen base model in 8-bit numbers (bitsandbytes): about half the memory, "
    "a little slower.",
    "lora.r.label": "Rank (r)",
    "lora.r.help": "Size of the adapter. Higher learns more detail but costs more memory and time; 8 or 16 suit "
    "most tasks.",
    "lora.alpha.label": "Alpha (scaling)",
    "lora.alpha.help": "How strongly the adapter's changes count: they are scaled by alpha ÷ rank. Twice the rank is "
    "a common choice.",
    "lora.dropout.label": "Adapter dropout",
    "lora.dropout.help": "Share of the adapter's inputs randomly dropped while training, to avoid learning the "
    "examples by heart. 0 to 0.1 is usual.",
    "lora.target_modules.label": "Layers that get an adapter",
    "lora.target_modules.help": "all-linear puts an adapter on every linear layer (recommended); or tick the layers "
    "yourself.",
    "lora.init.label": "Adapter initialisation",
    "lora.init.help": "How the adapter starts. default starts from zero change; olora and pissa start from a "
    "factorisation of the base weights and often learn faster.",
    "lora.use_rslora.label": "Rank-stabilised LoRA",
    "lora.use_rslora.help": "Scales by alpha ÷ √rank instead of alpha ÷ rank, which keeps high ranks stable.",
    "lora.bias.label": "Train biases too",
    "lora.bias.help": "Whether the layers' bias terms learn along with the adapter (none is usual).",
    "data.path.label": "Training data file",
    "data.path.help": "The file of examples: chat messages, prompt/completion pairs or plain text.",
    "data.format.label": "Row format",
    "data.format.help": "What each row holds; auto detects it from the column names.",
    "data.columns.label": "Column mapping",
    "data.columns.help": "Which of your columns hold the messages, prompt, completion or text.",
    "data.eval_fraction.label": "Held out for evaluation",
    "data.eval_fraction.help": "Share of the rows kept aside to measure the model on examples it never trained on "
    "(0 = none).",
    "data.max_length.label": "Max length (tokens)",
    "data.max_length.help": "Longest example the model sees, in tokens; longer rows are cut.",
    "data.assistant_only_loss.label": "Learn from assistant replies only",
    "data.assistant_only_loss.help": "For chats: the model learns to write the assistant's replies, not the user's "
    "turns.",
    "training.num_epochs.label": "Epochs",
    "training.num_epochs.help": "How many times training goes through all your examples (not used when Max steps "
    "is above 0).",
    "training.max_steps.label": "Max steps",
    "training.max_steps.help": "Stop after this many training steps; 0 = use Epochs instead.",
    "training.learning_rate.label": "Learning rate",
    "training.learning_rate.help": "How big each learning step is. Too high and the loss jumps around; too low and "
    "it barely moves. 1e-4 to 1e-3 suits LoRA.",
    "training.lr_scheduler.label": "Learning-rate schedule",
    "training.lr_scheduler.help": "How the learning rate changes during training after the warm-up.",
    "training.warmup_ratio.label": "Warm-up share",
    "training.warmup_ratio.help": "Share of the steps at the start during which the learning rate rises gently.",
    "training.batch_size.label": "Batch size",
    "training.batch_size.help": "Examples processed together in one step (per process). Larger is faster per "
    "example but needs more memory.",
    "training.gradient_accumulation.label": "Gradient accumulation",
    "training.gradient_accumulation.help": "Steps added up before the adapter is updated once: a larger effective "
    "batch without more memory.",
    "training.weight_decay.label": "Weight decay",
    "training.weight_decay.help": "A gentle pull of the adapter's weights towards zero (0 = none).",
    "training.max_grad_norm.label": "Gradient clipping",
    "training.max_grad_norm.help": "Caps the size of each update to keep training stable (0 = no cap).",
    "training.seed.label": "Seed",
    "training.seed.help": "Fixes the randomness (adapter start, shuffling, the evaluation split), so a run can be "
    "repeated exactly.",
    "training.gradient_checkpointing.label": "Gradient checkpointing",
    "training.gradient_checkpointing.help": "Recomputes intermediate results instead of storing them: less memory, "
    "about a third slower.",
    "training.fast_dropout.label": "Fast dropout on a CPU",
    "training.fast_dropout.help": "On a CPU, draws the dropout's random numbers four at a time: the same dropout in "
    "about half the time. GPUs are not affected.",
    "training.logging_steps.label": "Log every (steps)",
    "training.logging_steps.help": "How often a point is added to the loss chart.",
    "training.eval_steps.label": "Evaluate every (steps)",
    "training.eval_steps.help": "How often the held-out examples are measured (when some are held out).",
    "training.save_steps.label": "Checkpoint every (steps)",
    "training.save_steps.help": "How often a checkpoint is saved, so a stopped or crashed run can resume.",
    "training.sample_prompts.label": "Sample prompts",
    "training.sample_prompts.help": "Questions the model answers at each checkpoint, so you can watch its replies "
    "change (one per line; empty = two taken from your data).",
    "training.sample_max_new_tokens.label": "Sample answer length (tokens)",
    "training.sample_max_new_tokens.help": "The longest sample answer, in tokens.",
    "training.sample_every_save.label": "Sample answers at each checkpoint",
    "training.sample_every_save.help": "Write the sample answers before training, at every checkpoint and at the end.",
    "training.num_processes.label": "Processes (one per GPU)",
    "training.num_processes.help": "Train with several processes at once, one per GPU (through accelerate launch); "
    "each takes a full batch per step.",
    "training.accelerate_config.label": "Accelerate config file",
    "training.accelerate_config.help": "For FSDP, DeepSpeed or several machines: the file `accelerate config` "
    "wrote. Empty = plain multi-GPU.",
    # ---- generation settings: label and help of every GenerationSettings field (lora_studio/generation_config.py)
    "generation.system_prompt.label": "System prompt",
    "generation.system_prompt.help": "Told to the model before the conversation, e.g. who it is or how to answer "
    "(optional).",
    "generation.max_new_tokens.label": "Max new tokens",
    "generation.max_new_tokens.help": "The longest answer, in tokens (a token is about three quarters of a word).",
    "generation.temperature.label": "Temperature",
    "generation.temperature.help": "How adventurous the word choice is: 0 = greedy (always the most likely token), "
    "higher = more varied.",
    "generation.top_p.label": "Top-p",
    "generation.top_p.help": "Picks only among the most likely tokens that together make up this share of the "
    "chance (1 = all of them).",
    "generation.top_k.label": "Top-k",
    "generation.top_k.help": "Picks only among this many most likely tokens (0 = off).",
    "generation.repetition_penalty.label": "Repetition penalty",
    "generation.repetition_penalty.help": "Makes tokens already written less likely, against answers that loop "
    "(1 = off).",
    "generation.seed.label": "Seed",
    "generation.seed.help": "Fixes the randomness: the same seed and settings give the same answer.",
    "playground.settings_title": "Generation settings",
    "playground.setting_problem": "⚠️ **{label}** {problem}. Change it under *Generation settings*.",
    # ---- token statistics of a data file (the Data tab and `inspect`) ----------------------------------
    "tokens.unavailable": "Token statistics unavailable: {problem}",
    "tokens.no_rows": "No usable rows to measure.",
    "tokens.sampled": " (measured on the first {measured} of {total} rows)",
    "tokens.per_row": "**Tokens per row**{sampled}: median {median}, max {longest}; {learned} tokens count toward "
    "the loss.",
    "tokens.truncated": "✂️ **{count} row(s)** are longer than max length {max_length} and will be truncated.",
    "tokens.none_truncated": "No row is longer than max length {max_length}.",
    "tokens.dropped": "🗑️ **{count} row(s) will be dropped**: {reasons}. Raise max length to keep them.",
    "tokens.all_long": "⚠️ **Every row is longer than max length {max_length}**: raise max length, or the model "
    "will never see the end of an example.",
    "tokens.nothing_left": "⛔ **No row has anything left to learn** after truncation: training cannot start.",
    # ---- the Config tab ----------------------------------------------------------------------------------
    "config.intro": "Every setting of the run, checked as you change it. Start from a preset or a past run; the "
    "pre-flight panel shows what the run will cost before it starts.",
    "config.advanced": "Advanced settings",
    "config.section.model": "Model",
    "config.section.lora": "LoRA adapter",
    "config.section.training": "Training",
    "config.range.between": "Allowed: {low} to {high}.",
    "config.range.above": "Allowed: more than {low}, up to {high}.",
    "config.range.below": "Allowed: {low} up to (not including) {high}.",
    "config.range.atleast": "Allowed: {low} or more.",
    "config.field_problem": "⚠️ {label}: {problem}",
    "config.all_valid": "✅ **All settings are valid.** The Train tab will run the settings shown under "
    "*Effective config*.",
    "config.blocked": "⛔ **{count} problem(s) block training:** {labels}. Each is explained beside its setting.",
    "config.data_issue": "- ⚠️ **{label}**: {problem} (change it on the Data tab)",
    "config.section_issue": "- ⚠️ **{label}**: {problem}",
    "config.no_preset": "No preset was chosen",
    "config.no_preset_hint": "Pick one from the list",
    "config.preset_loaded": "Preset **{name}**: {description}{note}",
    "config.run_missing": "❌ Run '{run_id}' has no config.yaml. Press 🔄 to list the runs again.",
    "config.run_data_kept": "and its data file **{name}**",
    "config.run_data_unusable": "— its data file cannot be used ({problem}); the dataset shown on the Data tab stays",
    "config.run_data_gone": "`{name}` no longer exists",
    "config.run_data_unrecorded": "was not recorded",
    "config.run_data_missing": "— its data file {gone}: upload it again on the Data tab (the dataset shown there "
    "stays)",
    "config.run_loaded": "Loaded the settings of run **{run_id}** {note}.{extra}",
    "config.not_saved": "❌ Not saved: fix the {count} problem(s) listed above first.",
    "config.saved": "✅ Saved preset **{name}** ({path}); the data file is not part of a preset.",
    "config.measure_no_data": "Choose a dataset on the Data tab first: speed is measured on your rows.",
    "config.measure_fix_first": "Fix the problems listed above first.",
    "config.measure_busy": "Another measurement is running; wait for it to finish.",
    "config.measure_started": "⏱ Measuring speed: loading the model…",
    "config.measuring": "⏱ Measuring speed… {seconds} s (loading the model, then 2 warm-up and 3 timed steps; "
    "log: `{log}`)",
    "config.measure_failed": "❌ Measuring failed: {problem}",
    "config.measured": "✅ Measured {step} s/step, {tokens} tokens/s on {device}.",
    "config.layers_label": "Layers that get an adapter",
    "config.layers_info": "The model's own linear layers (the output head never gets one)",
    "config.preset_label": "Preset",
    "config.preset_info": "Choosing one fills every setting below (the dataset and base model stay)",
    "config.run_label": "…or the settings of a past run",
    "config.run_info": "Its config.yaml, and its data file when it still exists",
    "config.runs_refresh": "🔄 Runs",
    "config.preflight_title": "### Pre-flight",
    "config.checking": "Checking the settings…",
    "config.measure": "⏱ Measure speed",
    "config.save_title": "Save these settings as a preset",
    "config.save_name": "Preset name",
    "config.save_desc": "Description",
    "config.save_desc_hint": "What it is for",
    "config.save_button": "💾 Save as preset",
    "config.effective_title": "Effective config: exactly what the Train tab will run",
    "config.one_per_line": "one per line",
    "config.processes_machine": "This machine has {count} {kind}(s): at most {count} process(es) here.",
    "preflight.waiting": "Pre-flight needs valid model and adapter settings: fix the problems listed above.",
    "preflight.trainable": "**{short} trainable parameters, {share}% of the model** ({count} of {total}; the adapter "
    "is all that learns)",
    "preflight.memory_title": "**Estimated memory on {device}** (hover ⓘ for how each part is counted)",
    "preflight.memory_head": "| part | estimate |\n|---|---|\n",
    "preflight.memory_row": '| {part} <abbr title="{how}">ⓘ</abbr> | {size} |\n',
    "preflight.memory_total": "| **total** | **{size}**{available} |",
    "preflight.part.weights": "model weights",
    "preflight.part.optimizer": "optimizer",
    "preflight.part.activations": "activations",
    "preflight.how.weights": "every weight at {bytes} bytes; the adapter in float32",
    "preflight.how.weights_8bit": "linear layers in 8-bit, the rest at {bytes} bytes; the adapter in float32",
    "preflight.how.optimizer": "AdamW: two float32 states and a float32 gradient per trainable parameter",
    "preflight.how.activations": "batch {batch} × {tokens} tokens × hidden size {hidden} × {layers} layers × "
    "{factor} values, plus the float32 logits",
    "preflight.ram": " of {size} RAM",
    "preflight.gpu_memory": " of {size} GPU memory",
    "preflight.too_big": "\n\n⚠️ The estimate is above this machine's memory: lower the batch size or max length, "
    "turn on gradient checkpointing, or load the base in 8-bit.",
    "config.processes_single": "Only one process can run here: this machine has one {kind}.",
}
