"""CLI logging follows sys.stdout instead of keeping a stream that may be closed later."""

import io
import logging
import sys

from lora_studio import logs


def test_records_go_to_the_stdout_of_the_moment_not_a_closed_one(monkeypatch):
    first = io.StringIO()
    monkeypatch.setattr(sys, "stdout", first)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.to_stdout(force=True)
        logging.getLogger("lora_studio.probe").info("one")
        first.close()
        second = io.StringIO()
        monkeypatch.setattr(sys, "stdout", second)
        errors = io.StringIO()
        monkeypatch.setattr(sys, "stderr", errors)
        logging.getLogger("lora_studio.probe").info("two")
        assert second.getvalue() == "two\n"
        assert errors.getvalue() == ""
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
