"""One language's catalogue from its parts (a module per part of the product, each with its MESSAGES)."""

from __future__ import annotations

from types import ModuleType


def gather(*parts: ModuleType) -> dict[str, str]:
    """The parts' messages in one dict; an id in two parts is a mistake (the later one would win unseen)."""
    messages: dict[str, str] = {}
    for part in parts:
        twice = sorted(messages.keys() & part.MESSAGES.keys())
        if twice:
            raise ValueError(f"{part.__name__} repeats message ids of an earlier part: {', '.join(twice)}")
        messages.update(part.MESSAGES)
    return messages
