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
    "model.load_in_4bit.label": "Load the base in 4-bit (QLoRA)",
    "model.load_in_4bit.help": "Keeps the frozen base model in 4-bit numbers (bitsandbytes NF4, the QLoRA recipe): "
    "about a quarter of the memory, slower, and answers a little less exact than full precision. Merging always "
    "starts again from the full-precision base. Not together with 8-bit.",
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
    "lora.use_dora.label": "DoRA (weight-decomposed LoRA)",
    "lora.use_dora.help": "Learns the size and the direction of each weight change separately. Sometimes better "
    "at low ranks, but slower (about 1.5× the time per step here) and not always better: try it against plain LoRA.",
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
    "training.max_prompt_length.help": "For dpo and orpo: a longer prompt keeps only its last tokens, so the answers "
    "still fit within the max length. 0 = no limit of its own.",
    "training.neftune_noise_alpha.label": "NEFTune noise",
    "training.neftune_noise_alpha.help": "Adds random noise to the inputs while training (sft only), which can make "
    "answers to open questions better; it does not help every task. 5 is usual; 0 = off.",
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
    "generation.repetition_penalty.help": "Makes tokens already written less likely, against answers that loop "
    "(1 = off).",
    "generation.seed.label": "Seed",
    "generation.seed.help": "Fixes the randomness: the same seed and settings give the same answer.",
    "playground.settings_title": "Generation settings",
    "playground.setting_problem": "⚠️ **{label}** {problem}. Change it under *Generation settings*.",
    # ---- token statistics of a data file (the Data tab and `inspect`) ----------------------------------
    "data.pairs_method": "Pairs of answers train with **DPO** or **ORPO**: pick the *preference-dpo* or "
    "*preference-orpo* preset on the Config tab, or set *Training method* there.",
    "tokens.unavailable": "Token statistics unavailable: {problem}",
    "tokens.no_rows": "No usable rows to measure.",
    "tokens.sampled": " (measured on the first {measured} of {total} rows)",
    "tokens.per_row": "**Tokens per row**{sampled}: median {median}, max {longest}; {learned} tokens count toward "
    "the loss.",
    "tokens.per_pair": "**Tokens per pair**{sampled}: prompt + chosen answer median {median}, max {longest}; "
    "prompt + rejected answer median {rejected_median}, max {rejected_longest}; {learned} answer tokens count "
    "toward the loss.",
    "pairs.chosen_heading": "▶ Prompt and chosen answer:\n",
    "pairs.rejected_heading": "\n\n▶ Rejected answer (after the same prompt):\n",
    "pairs.caption": "Usable pair {position} of {rows} (file {unit} {source}): prompt + chosen {chosen} tokens, "
    "prompt + rejected {rejected} tokens; {learned} answer tokens learned.",
    "pairs.truncated": "Cut at max length {max_length}.",
    "pairs.dropped": "The prompt alone fills max length: training drops this pair.",
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
    "config.start_new": "the base model (a new adapter)",
    "config.start_run": "the adapter of run {run}",
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
    "preflight.how.weights_4bit": "linear layers in 4-bit (NF4 with its scales), the rest at {bytes} bytes; the "
    "adapter in float32",
    "preflight.how.pairs": ", twice: each row is a prompt with its chosen and with its rejected answer",
    "preflight.how.optimizer": "AdamW: two float32 states and a float32 gradient per trainable parameter",
    "preflight.how.activations": "batch {batch} × {tokens} tokens × hidden size {hidden} × {layers} layers × "
    "{factor} values, plus the float32 logits",
    "preflight.ram": " of {size} RAM",
    "preflight.gpu_memory": " of {size} GPU memory",
    "preflight.too_big": "\n\n⚠️ The estimate is above this machine's memory: lower the batch size or max length, "
    "turn on gradient checkpointing, or load the base in 8-bit or 4-bit.",
    "config.processes_single": "Only one process can run here: this machine has one {kind}.",
    # ---- GGUF export (the Merge & Export tab) ----
    "gguf.title": "### GGUF (llama.cpp, Ollama, LM Studio)\nThe merged model as one file that llama.cpp, Ollama "
    "and LM Studio run. Written, then read back and compared with the merged model before it is kept.",
    "gguf.type_label": "GGUF type",
    "gguf.type_info": "q8_0: a quarter of the float32 size, answers nearly always the same; f16/bf16: half; f32: exact",
    "gguf.button": "Export GGUF",
    "gguf.download_none": "Download .gguf",
    "gguf.download": "Download {name}",
    "gguf.none": "No GGUF file yet for this run.",
    "gguf.file": "**{name}** ({size})",
    "gguf.pick_run": "Pick a finished run first.",
    "gguf.started": "⏳ Exporting `{run_id}` as GGUF ({type}) in a separate process: merging first if needed, "
    "then writing and verifying the file. You can leave this tab.",
    # ---- the Evaluate tab ----
    "evaluate.tab": "Evaluate",
    "evaluate.intro": "Is the adapter better than the base? Score the models on rows with known answers: each "
    "model answers every row (greedy: always the most likely word), then its answers are compared with the "
    "references, row by row. It runs in a separate process; you can leave this tab.",
    "evaluate.run_label": "Run",
    "evaluate.run_info": "Its held-out rows, its adapter and its base model; results are saved in its folder",
    "evaluate.refresh": "🔄 Refresh",
    "evaluate.source_label": "Rows to score",
    "evaluate.source.split": "the run's held-out rows",
    "evaluate.source.file": "a file",
    "evaluate.source_info": "The held-out rows are exactly the ones the Data tab showed as eval: training never "
    "learned from them",
    "evaluate.file_label": "Rows file (.jsonl, .json, .csv, .tsv, .parquet)",
    "evaluate.map_label": "Column mapping (optional)",
    "evaluate.map_info": "Only when the columns are not detected: COLUMN=ROLE, comma-separated, e.g. "
    "question=prompt, answer=completion",
    "evaluate.limit_label": "Rows at most",
    "evaluate.bad_limit": "Rows at most cannot be {value}",
    "evaluate.limit_info": "0 = every row. On a CPU, start with 20-50: each model answers each row",
    "evaluate.base_label": "The base model (for comparison)",
    "evaluate.adapters_label": "Adapters",
    "evaluate.adapters_info": "Finished runs and uploaded adapters trained on the same base",
    "evaluate.upload_label": "Upload an adapter (.zip, or its files)",
    "evaluate.settings_title": "How the answers are written",
    "evaluate.batch_label": "Rows answered together",
    "evaluate.batch_info": "More is faster until memory runs out: 16 suits a CPU, 32-64 a GPU. Allowed: 1 to 256.",
    "evaluate.start": "▶ Evaluate",
    "evaluate.cancel": "Cancel",
    "evaluate.results_label": "Results",
    "evaluate.results_info": "Earlier evaluations of this run, newest first",
    "evaluate.scores_title": "### Scores",
    "evaluate.rows_title": "### Row by row",
    "evaluate.filter_label": "Show",
    "evaluate.filter.all": "all rows",
    "evaluate.filter.changed": "changed answers",
    "evaluate.filter.better": "adapter better",
    "evaluate.filter.worse": "adapter worse",
    "evaluate.compare_label": "Adapter compared with the base",
    "evaluate.download_csv": "⬇ Rows (.csv)",
    "evaluate.download_jsonl": "⬇ Rows (.jsonl)",
    "evaluate.log_title": "eval.log",
    "evaluate.no_run": "Pick a run: its held-out rows and adapter are preselected.",
    "evaluate.no_runs": "No finished run yet. Train one first, or score the base or an uploaded adapter on a file.",
    "evaluate.pick_file": "Upload a file with the rows to score first.",
    "evaluate.map_hint": "Say which columns hold what in the column mapping box (under 'a file'), e.g. "
    "question=prompt, answer=completion. The file's columns: {columns}",
    "evaluate.bad_map": "cannot read the column mapping '{item}'",
    "evaluate.bad_map_hint": "Write COLUMN=ROLE pairs separated by commas, with ROLE one of: {roles}",
    "evaluate.run_md": "**{run_id}** · base `{base}` · {held_out}",
    "evaluate.held_out": "{count} held-out row(s)",
    "evaluate.no_held_out": "no held-out rows (eval fraction 0): score it on a file",
    "evaluate.started": "⏳ Scoring {rows} row(s) with {models} in a separate process.",
    "evaluate.skipped": "Skipping {count} row(s) without a reference answer: {rows}.",
    "evaluate.cancelling": "🚫 Cancelling: nothing of this evaluation is saved.",
    "evaluate.progress": "{done} of {total} answers",
    "evaluate.eta": "about {clock} left",
    "evaluate.elapsed": "elapsed {clock}",
    "evaluate.took": "took {clock}",
    "evaluate.state.completed": "✅ Evaluation finished.",
    "evaluate.state.cancelled": "🚫 The evaluation was cancelled; nothing of it was saved.",
    "evaluate.no_results": "No evaluation of this run yet: press **Evaluate**.",
    "evaluate.summary": "{rows} row(s) from {source}, answers of at most {tokens} tokens ({how}); saved in `{folder}`.",
    "evaluate.source_split_of": "the held-out rows of {run_id}",
    "evaluate.greedy": "greedy",
    "evaluate.sampled": "sampled at temperature {temperature}",
    "evaluate.verdict": "**{label}** vs the base: better on **{better}** row(s), worse on **{worse}**, the same on "
    "{same}.",
    "evaluate.compared_on": "A row counts as better when the adapter's answer scores higher on {order} (in that "
    "order).",
    "evaluate.json_applies": "JSON checks are shown: every reference is JSON.",
    "evaluate.json_left_out": "JSON checks are left out: the references are not JSON.",
    "evaluate.no_rows_shown": "No row matches this filter.",
    "evaluate.rows_cut": "Showing the first {shown} of {count} rows; the downloads hold all of them.",
    "evaluate.col.row": "row",
    "evaluate.col.prompt": "prompt",
    "evaluate.col.reference": "reference",
    "evaluate.col.metric": "metric",
    "evaluate.verdict.better": "better",
    "evaluate.verdict.worse": "worse",
    "evaluate.verdict.same": "same",
    "evaluate.metric.exact_match": "Exact match",
    "evaluate.metric.exact_match_loose": "Exact match (ignoring case and spaces)",
    "evaluate.metric.contains": "Contains the reference",
    "evaluate.metric.rougeL": "ROUGE-L (word overlap, 0-1)",
    "evaluate.metric.chrf": "chrF (character overlap, 0-100)",
    "evaluate.metric.bleu": "BLEU (0-100)",
    "evaluate.metric.json_valid": "Valid JSON",
    "evaluate.metric.json_equal": "Same JSON as the reference",
    "evaluate.metric.preference_accuracy": "Chosen answer preferred (share of pairs the model finds the chosen "
    "answer more likely than the rejected one)",
    "evaluate.metric.loss": "Loss of the reference answers (lower is better)",
    "evaluate.metric.perplexity": "Perplexity (lower is better)",
    "evaluate.metric.answer_tokens": "Answer length (tokens)",
    "evaluate.metric.seconds_per_row": "Seconds per row",
    "evaluate.short.exact_match_loose": "match",
    "evaluate.short.rougeL": "ROUGE-L",
    "evaluate.short.chrf": "chrF",
    "evaluate.short.json_equal": "same JSON",
}
