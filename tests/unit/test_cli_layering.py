"""The command line never reaches the dashboard: `lora_studio.server` is the web server's only way in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import lora_studio.__main__ as cli


def test_the_cli_names_no_ui_module():
    assert "lora_studio.ui" not in Path(cli.__file__).read_text(encoding="utf-8")


def test_inspect_loads_no_ui_module_and_no_gradio(tmp_path):
    data = tmp_path / "rows.jsonl"
    data.write_text('{"text": "one"}\n', encoding="utf-8")
    code = (
        "import sys; from lora_studio.__main__ import main; "
        f"code = main(['inspect', {str(data)!r}, '--no-tokens']); "
        "print('exit', code, 'loaded', "
        "*sorted(m for m in sys.modules if m.startswith('lora_studio.ui') or m.split('.')[0] == 'gradio'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "exit 0 loaded"  # no lora_studio.ui module, no gradio
