"""The torch side: model loading, datasets, training. Never imports gradio or the UI."""
