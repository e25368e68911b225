"""Errors a user can act on.

Raised where a problem is understood, carried to the CLI and the UI as one line:
what happened, then what to do about it.
"""

from __future__ import annotations

from lora_studio.messages import text

# The failure classes the worker writes into status.json (the UI explains each one).
KINDS = ("config", "data", "model", "out_of_memory", "killed", "disk", "internal")


class StudioError(Exception):
    """A problem with a message for people and a hint that says what to do."""

    def __init__(self, message: str, hint: str = "", kind: str = "internal") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.kind = kind if kind in KINDS else "internal"

    def one_line(self) -> str:
        """What happened, then what to do, as one line of sentences in the current language."""
        message, hint = " ".join(self.message.split()).rstrip(".。"), " ".join(self.hint.split()).rstrip(".。")
        return text("error.one_line", message=message, hint=hint) if hint else text("error.sentence", message=message)

    def __str__(self) -> str:
        return self.one_line()


class ConfigError(StudioError):
    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message, hint, kind="config")


class DataError(StudioError):
    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message, hint, kind="data")


class ModelError(StudioError):
    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message, hint, kind="model")
