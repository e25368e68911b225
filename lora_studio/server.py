"""The web server's entry: the logins it asks for, then the dashboard.

The command line reaches the dashboard only through here, and imports it lazily, so `python -m lora_studio`
for training, inspecting or merging never loads gradio (or anything of `lora_studio.ui`).
"""

from __future__ import annotations

from lora_studio import settings


def logins(items: list[str] | None) -> list[tuple[str, str]]:
    """--auth USER:PASSWORD items replace LORA_STUDIO_AUTH; a bad one raises ConfigError before anything listens."""
    return [settings.parse_login(item) for item in items] if items else settings.server_auth()


def serve(
    host: str | None = None, port: int | None = None, auth: list[str] | None = None, language: str | None = None
) -> None:
    """Serve the dashboard until interrupted (host, port and language: None reads the environment, see settings)."""
    checked = logins(auth)
    language = language or settings.ui_language()  # a bad LORA_STUDIO_LANG fails here, before anything listens
    from lora_studio.ui.app import launch  # gradio and the tabs: only for the server

    launch(host=host, port=port, auth=checked, language=language)
