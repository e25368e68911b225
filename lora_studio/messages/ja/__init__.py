"""日本語: every message of the dashboard, by id (see lora_studio/messages/__init__.py), one module per part of
the product; every language has the same parts."""

from lora_studio.messages.gather import gather
from lora_studio.messages.ja import config, data, evaluate, export, jobs, page, problems, settings, train

NAME = "日本語"  # as the language switch shows it

MESSAGES: dict[str, str] = gather(settings, data, config, train, export, evaluate, page, jobs, problems)
