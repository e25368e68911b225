"""Errors a user can act on.

Raised where a problem is understood, carried to the CLI and the UI as one line:
what happened, then what to do about it.
"""

from __future__ import annotations

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
        text = self.message.rstrip(".")
        if self.hint:
            text += f". {self.hint.rstrip('.')}"
        return " ".join(text.split()) + "."

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
