"""The Config tab's "Measure speed": start a short calibration worker, then poll it on the tab's timer.

Handlers are module-level and return a dict of component name -> value; config_tab.py wires them. The
button is enabled by config_tab.refresh only when the run config is valid, has a dataset, and no
measurement is under way.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import gradio as gr

from lora_studio import calibration
from lora_studio.messages import text
from lora_studio.ui import run_state


def on_measure(state: dict | None) -> dict[str, Any]:
    cfg = run_state.from_state(state)
    if not cfg.data.path:
        return {"calib_status": text("config.measure_no_data")}
    if cfg.validate():
        return {"calib_status": text("config.measure_fix_first")}
    if calibration.running_job() is not None:
        return {"calib_status": text("config.measure_busy")}
    job = calibration.start_calibration(cfg)
    return {
        "calib": dataclasses.asdict(job),
        "timer": gr.Timer(active=True),
        "calib_status": text("config.measure_started"),
    }


def on_tick(calib: dict | None) -> dict[str, Any]:
    if not calib:
        return {"timer": gr.Timer(active=False)}
    job = calibration.CalibrationJob(**calib)
    outcome = calibration.poll_calibration(job)
    if outcome.state == "running":
        return {"calib_status": text("config.measuring", seconds=f"{time.time() - job.started:.0f}", log=job.log)}
    done = {"calib": None, "timer": gr.Timer(active=False)}
    if outcome.state == "failed":
        return {**done, "calib_status": text("config.measure_failed", problem=outcome.message)}
    r = outcome.result
    return {
        **done,
        "calib_status": text(
            "config.measured", step=f"{r['sec_per_step']:.2f}", tokens=f"{r['tokens_per_sec']:,.0f}", device=r["device"]
        ),
    }
