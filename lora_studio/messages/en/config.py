"""English: the messages of the Config tab."""

MESSAGES: dict[str, str] = {
    # ---- the Config tab ----------------------------------------------------------------------------------
    "config.intro": "Every setting of the run, checked as you change it. Start from a preset or a past run; the "
    "pre-flight panel shows what the run will cost before it starts.",
    "config.advanced": "Advanced settings",
    "config.start_new": "the base model (a new adapter)",
    "config.start_run": "the adapter of run {run}",
    "config.section.model": "Model",
    "config.section.lora": "LoRA adapter",
    "config.section.training": "Training",
    "config.field_problem": "⚠️ {label}: {problem}",
    "config.all_valid": "✅ **All settings are valid.** The Train tab will run the settings shown under *Effective "
    "config*.",
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
    "config.measuring": "⏱ Measuring speed… {seconds} s (loading the model, then 2 warm-up and 3 timed steps; log: "
    "`{log}`)",
    "config.measure_failed": "❌ Measuring failed: {problem}",
    "config.measured": "✅ Measured {step} s/step, {tokens} tokens/s on {device}.",
    "config.layers_label": "Layers that get an adapter",
    "config.layers_info": "The model's own linear layers (the output head never gets one)",
    "config.preset_label": "Preset",
    "config.preset_info": "Choosing one fills every setting below (the dataset and base model stay)",
    "config.preset_changed": "Your settings now differ from every preset. Choosing one fills every setting below again",
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
    "preflight.trainable": "**{short} trainable parameters, {share}% of the model** ({count} of {total}; the "
    "adapter is all that learns)",
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
    # ---- the Config tab (ui/config_*.py, formatting.py, widgets.py, handlers.py) -----------------------------
    "config.chosen_layers": "chosen layers",
    "config.bound.at_least": "at least {value}",
    "config.bound.greater_than": "greater than {value}",
    "config.bound.at_most": "at most {value}",
    "config.bound.less_than": "less than {value}",
    "config.bound.both": "{low} and {high}",
    "config.allowed": "{help} Allowed: {range}.",
    "config.data_owned": "**Set on the Data tab** (read-only here)\n\n| setting | value |\n|---|---|\n| model | "
    "{model} |\n| data file | {path} |\n| format | {format} (columns: {columns}) |\n| max length | {max_length} "
    "tokens |\n| held out for evaluation | {eval_fraction:g} |\n| assistant replies only | {assistant_only} |\n| "
    "split seed | {seed} |",
    "config.data_owned.no_file": "*none yet: upload or pick one on the Data tab*",
    "config.data_owned.as_in_file": "as in the file",
    "config.preset_yours": "{name} (yours)",
    "config.preset_warnings": " ({warnings})",
    "config.run_warnings": " {warnings}.",
    "ui.sentences": "{first} {second}",
    "ui.optional": "optional",
    "ui.bool.true": "True",
    "ui.bool.false": "False",
    "preset.chat-assistant.description": "The best result per minute: one pass over your data at a high learning "
    "rate, learning from assistant replies only; holds out 5% and scores base vs adapter on it at the end. On our "
    "three test tasks it got every held-out answer right in about half the time of a plain TRL script, which got "
    "52-61%.",
    "preset.low-memory-8bit.description": (
        "For big models on small GPUs - the frozen base is loaded in 8-bit (bitsandbytes) and activ"
        "ations are recomputed, trading speed for memory. On a CPU it is slow and learned little in"
        " our test (0-38% of held-out answers right, one seed): use it on a GPU with too little mem"
        "ory for the others."
    ),
    "preset.olora.description": "OLoRA: the adapter starts from an orthonormal (QR) factorisation of the base "
    "weights. Two passes over your data: on our three test tasks it got every held-out answer right, which "
    "chat-assistant does in one pass, in about half the time. The saved adapter still works on the original model.",
    "preset.preference-dpo.description": "Teach a model which of two answers is better (DPO) from pairs of prompt, "
    "chosen and rejected answers. Keeps close to the model it starts from, so start from an earlier supervised "
    "run's adapter: from the base model alone it got none of our three test tasks' held-out answers right. Holds "
    "out 10% to check that chosen answers win.",
    "preset.preference-orpo.description": (
        "Learn the chosen answers and, at the same time, to prefer them over the rejected ones (ORP"
        "O), in one run from the base model, without a reference pass. Holds out 10% to check that "
        "chosen answers win. On our three test tasks it got 73-100% of held-out answers right in 1."
        "6-1.7 times a plain TRL script's time (chat-assistant: 100%, on the answers alone)."
    ),
    "preset.quick-start.description": "The fastest good result: half a pass over your data with a small adapter, "
    "about a minute for a few hundred short rows on a laptop CPU. On our three test tasks it got 97-100% of "
    "held-out answers right in a third of the time of a plain TRL script.",
}
