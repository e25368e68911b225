"""LoRA Studio: a no-code LoRA fine-tuning dashboard.

Core modules (config, presets, data, runs, metrics, settings) import neither torch nor gradio;
`lora_studio.engine` holds everything that imports the torch stack.
"""

__version__ = "0.1.0"
