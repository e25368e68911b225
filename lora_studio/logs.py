"""Plain log lines on standard output, for the CLI and the worker."""

from __future__ import annotations

import logging
import sys


class CurrentStdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is at the moment of each record.

    A plain StreamHandler keeps the stream it was given; when the CLI's ``main()`` runs inside
    another program that swaps ``sys.stdout`` (a test's capture, a notebook cell), later records
    would go to a closed file and print "--- Logging error ---" tracebacks instead.
    """

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self):  # mirrors StreamHandler.stream
        return sys.stdout

    @stream.setter
    def stream(self, _value) -> None:
        pass


def to_stdout(force: bool = False) -> None:
    """Send INFO and above as bare message lines to the current standard output."""
    handler = CurrentStdoutHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=force)
