"""Hugging Face Spaces entry: `python app.py` serves the LoRA Studio dashboard."""

from lora_studio.ui.app import build_app, launch

__all__ = ["build_app"]

if __name__ == "__main__":
    launch()
