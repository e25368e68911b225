"""English: every message of the dashboard, by id (see lora_studio/messages/__init__.py), one module per part of
the product; every language has the same parts."""

from lora_studio.messages.en import config, data, evaluate, export, jobs, page, problems, settings, train
from lora_studio.messages.gather import gather

NAME = "English"  # as the language switch shows it

MESSAGES: dict[str, str] = gather(settings, data, config, train, export, evaluate, page, jobs, problems)
