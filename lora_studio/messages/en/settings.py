"""English: the settings' labels and help (RunConfig and generation fields), and where report_to's logs are."""

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
    "model.load_in_4bit.label": "Load the base in 4-bit (QLoRA)",
    "model.load_in_4bit.help": "Keeps the frozen base model in 4-bit numbers (bitsandbytes NF4, the QLoRA recipe): "
    "about a quarter of the memory, slower, and answers a little less exact than full precision. Merging always "
    "starts again from the full-precision base. Not together with 8-bit.",
    "lora.r.label": "Rank (r)",
    "lora.r.help": "Size of the adapter. Higher learns more detail but costs more memory and time; 8 or 16 suit "
    "most tasks.",
    "lora.alpha.label": "Alpha (scaling)",
    "lora.alpha.help": "How strongly the adapter's changes count: they are scaled by alpha ÷ rank. Twice the rank "
    "is a common choice.",
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
    "lora.use_dora.label": "DoRA (weight-decomposed LoRA)",
    "lora.use_dora.help": "Learns the size and the direction of each weight change separately. Sometimes better at "
    "low ranks, but slower (about 1.5× the time per step here) and not always better: try it against plain LoRA.",
    "lora.loraplus_lr_ratio.label": "LoRA+ learning-rate ratio",
    "lora.loraplus_lr_ratio.help": "LoRA+ trains the adapter's second matrix this many times faster than the first, "
    "which often learns faster at the same cost. 16 is the paper's suggestion; 0 = off (plain LoRA).",
    "lora.start_from.label": "Start from",
    "lora.start_from.help": "A new adapter on the base model, or the adapter of an earlier run, trained further "
    "(e.g. a supervised run first, then DPO). Its size and layers come from that run.",
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
    "training.method.label": "Training method",
    "training.method.help": "sft learns to write the answers in your examples. dpo and orpo learn from pairs of "
    "answers which one is better (data with prompt, chosen and rejected): dpo keeps close to the model it starts "
    "from, orpo also learns the chosen answers and needs no reference pass.",
    "training.dpo_beta.label": "DPO beta",
    "training.dpo_beta.help": "How closely DPO keeps to the model it starts from: higher stays closer, lower moves "
    "further towards the chosen answers. 0.1 is usual.",
    "training.dpo_loss.label": "DPO loss",
    "training.dpo_loss.help": "sigmoid is standard DPO; ipo is steadier when pairs are easy to tell apart; hinge "
    "stops pushing once a pair is clearly won; robust allows for some pairs being labelled the wrong way round.",
    "training.orpo_lambda.label": "ORPO lambda",
    "training.orpo_lambda.help": "Weight of ORPO's preference term next to learning the chosen answer. 0.1 is the "
    "paper's value; higher pushes harder away from the rejected answers.",
    "training.max_prompt_length.label": "Max prompt length (tokens)",
    "training.max_prompt_length.help": "For dpo and orpo: a longer prompt keeps only its last tokens, so the "
    "answers still fit within the max length. 0 = no limit of its own.",
    "training.neftune_noise_alpha.label": "NEFTune noise",
    "training.neftune_noise_alpha.help": "Adds random noise to the inputs while training (sft only), which can make "
    "answers to open questions better; it does not help every task. 5 is usual; 0 = off.",
    "training.num_epochs.label": "Epochs",
    "training.num_epochs.help": "How many times training goes through all your examples (not used when Max steps is "
    "above 0).",
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
    "training.padding_free.label": "Batches without padding",
    "training.padding_free.help": "auto lays the rows of a batch end to end instead of padding the short ones to the "
    "longest, whenever that is less work, so no time goes into filler tokens: the same loss, faster when row lengths "
    "differ. Used for supervised training when the model's attention can keep the rows apart (most models); never "
    "pads as usual.",
    "training.compile.label": "Compile the model (torch.compile)",
    "training.compile.help": "Compiling fuses small operations into faster ones but costs minutes before the first "
    "step. auto compiles only when a compiled run of the same settings on this machine showed that this run is long "
    "enough to win that time back; always compiles (and teaches auto what it gains); never does not compile. On the "
    "benchmark's CPU, compiled steps were slower with LoRA dropout and 1.1x faster without it, after minutes.",
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
    "training.evaluate_at_end.label": "Evaluate when training ends",
    "training.evaluate_at_end.help": "When training completes, score the base model and the new adapter on the "
    "held-out rows (up to 200), as the Evaluate tab does, so the Runs tab shows the scores at once. Needs an eval "
    "fraction above 0; takes a little longer before the run is free.",
    "training.report_to.label": "Also send training curves to",
    "training.report_to.help": "Besides the charts here, also send the loss and learning-rate curves to "
    "TensorBoard, Trackio, MLflow or Weights & Biases (wandb); none = only here. Logs stay on this machine (in the "
    "run folder; MLflow in mlruns/ inside the runs folder); W&B uploads only when WANDB_API_KEY is set. The tool "
    "must be installed: pip install tensorboard (or trackio, mlflow, wandb).",
    # ---- where training.report_to's logs are: the Train tab and the training log (lora_studio/reporting.py)
    "report.tensorboard": "📈 TensorBoard logs: `{path}` — open them with `{command}`",
    "report.trackio": "📈 Trackio logs: `{path}` — open them with `{command}`",
    "report.mlflow": "📈 MLflow run `{run}` in `{store}` — open it with `{command}`",
    "report.mlflow_server": "📈 MLflow run `{run}` goes to {store} (your MLFLOW_TRACKING_URI)",
    "report.wandb": "📈 Weights & Biases project `{project}`, run `{run}` (a local copy in `{path}`)",
    "report.wandb_offline": "📈 Weights & Biases, offline ({why}): logs in `{path}` — upload them later with "
    "`{command}`",
    "report.wandb_no_key": "no WANDB_API_KEY in the environment",
    "report.wandb_disabled": "📈 Weights & Biases is turned off by WANDB_MODE=disabled: nothing is logged there",
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
    "generation.repetition_penalty.help": "Makes tokens already written less likely, against answers that loop (1 = "
    "off).",
    "generation.seed.label": "Seed",
    "generation.seed.help": "Fixes the randomness: the same seed and settings give the same answer.",
    "playground.settings_title": "Generation settings",
    "playground.setting_problem": "⚠️ **{label}** {problem}. Change it under *Generation settings*.",
}
