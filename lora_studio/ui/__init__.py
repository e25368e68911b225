"""The Gradio dashboard. Never imports torch at module level (see lora_studio.ui.token_view)."""
