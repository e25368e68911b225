"""English: the messages of the page: header and tabs."""

MESSAGES: dict[str, str] = {
    # ---- the page: header and tabs (lora_studio/ui/app.py) ---------------------------------------------------
    "app.header": "# LoRA Studio\nFine-tune a language model with LoRA — on this machine, no code needed.",
    "app.tab.data": "Data",
    "app.tab.config": "Config",
    "app.tab.train": "Train",
    "app.tab.export": "Merge & Export",
    "app.tab.playground": "Playground",
    "app.tab.runs": "Runs",
}
