"""Benchmark: live-chart latency (issue 6, item 4) and training speed while 20 clients poll (issue 7, load).

Run: .venv/bin/python bench/chart_latency.py   → prints a table and rewrites its section of
docs/BENCHMARKS.md (6-8 minutes on 2 idle CPU cores).

A real server (`python -m lora_studio serve`, its own LORA_STUDIO_HOME, the converted model cache shared)
trains the embedded SmolLM2 (quick-start preset, the shipped chat-assistant.jsonl sample, a metrics row per step);
each run is queued with the files the Train tab's Start leaves, so the server's job loop starts the
worker. Latency = when a step's point is first in a chart served to a client, minus the `time` its
metrics row carries (one machine, one clock). Each repetition trains three times, watched by:
- nobody: the training-speed reference;
- 20 viewers: sessions doing what the page does (on_load, then the two streams its timer starts, live and state,
  through /gradio_api/queue/join + the SSE stream: the first message whole, then diffs); a point counts when the
  message that brings it arrives. They run in this process, on the same 2 cores as the server and the worker;
- 1 browser: headless Chromium on the page; a script in it notes when each step first is in the plot's data.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from gradio_client.utils import apply_diff

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import ROOT, cpu_seconds, free_port, write_section

from lora_studio.config import apply_overrides
from lora_studio.config_checks import require_valid
from lora_studio.metrics import MetricRow, latest_per_step, read_all
from lora_studio.presets import load_preset
from lora_studio.runs import (
    FINAL_STATES,
    RunPaths,
    RunStatus,
    create_run,
    new_run_dir,
    read_status,
    update_status,
)
from lora_studio.settings import SAMPLES_DIR

log = logging.getLogger("chart_latency")
REPS = 3
POLLERS = 20
STEPS = 16
WARMUP_STEPS = 3  # left out of the steady-state tokens/s (first steps pay for lazy set-up)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
RECORDER_JS = """() => { window.__seen = {}; setInterval(() => {
    const plot = document.querySelector('#train-chart .js-plotly-plot');
    const raw = plot && plot.data ? plot.data.find(t => t.name === 'loss') : null;
    if (raw && raw.x) for (const x of raw.x) if (!(x in window.__seen)) window.__seen[x] = Date.now() / 1000;
}, 25); }"""


# ---- the page's calls, from outside -------------------------------------------------------------
@dataclass
class Endpoints:
    """Where the Train tab's events live in this server's config (as the page finds them)."""

    load_fn: int
    stream_fn: int  # the live stream: chart, progress, log
    state_fn: int  # the state stream: status, buttons, run list, sample answers
    timer_id: int
    period_s: float  # the timer that starts the streams (and again when one ended)
    chart_index: int  # position of the chart among the live stream's outputs
    load_chart_index: int  # and among the load's
    load_inputs: int = 0  # the load event's inputs (the browser's kept run: none here, as on a first visit)
    stream_inputs: int = 1  # the run the page's list shows


def endpoints(url: str) -> Endpoints:
    config = json.loads(urllib.request.urlopen(url.rstrip("/") + "/config", timeout=10).read())
    deps = {d.get("api_name"): d for d in config["dependencies"]}
    stream, state, load = deps["on_stream"], deps["on_stream_state"], deps["on_load"]
    chart_id = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "train-chart")
    timer_id = stream["targets"][0][0]
    timer = next(c for c in config["components"] if c["id"] == timer_id)
    return Endpoints(
        load["id"],
        stream["id"],
        state["id"],
        timer_id,
        float(timer["props"]["value"]),
        stream["outputs"].index(chart_id),
        load["outputs"].index(chart_id),
        len(load.get("inputs", [])),
        len(stream.get("inputs", [])),
    )


def chart_steps(value: object) -> list[int] | None:
    """Steps of the raw loss trace in a served chart; None when the chart was skipped (unchanged)."""
    if not isinstance(value, dict) or value.get("type") != "plotly":
        return None
    figure = json.loads(value["plot"])
    raw = next((t for t in figure.get("data", []) if t.get("name") == "loss"), None)
    if raw is None:
        return []  # the empty "waiting" figure
    return [int(x) for x in raw["x"]]  # anything but a list of steps raises: the poller counts it as an error


@dataclass
class ChartPoller:
    """One browser session watching the Train tab: on_load once, then the live stream the page's timer starts (and
    starts again when it ended), read as the page reads it: the first message whole, then diffs."""

    http: httpx.AsyncClient
    ends: Endpoints
    session: str = field(default_factory=lambda: uuid.uuid4().hex[:11])
    seen: dict[int, float] = field(default_factory=dict)  # step -> when its point first arrived
    errors: list[str] = field(default_factory=list)
    requests: int = 0
    live_updates: int = 0  # messages that brought at least one new point
    _chart: object = None  # the chart as the page holds it (streamed messages are diffs of it)
    _first: bool = True
    _live: str | None = None  # the event id of the call's event that sends the chart (the live stream or the load)
    _live_fn: int = -1
    loaded_steps: int = 0  # points its page load already had

    async def call(self, fns: list[int], trigger: int | None, inputs: int = 0) -> None:
        """Join the events `fns` (as one page's tick starts its streams) and read the session's one SSE stream, as
        the page does, until the server closes it."""
        self._live, self._first = None, True
        try:
            for fn in fns:
                self.requests += 1
                body = {
                    "data": [None] * inputs,
                    "event_data": None,
                    "fn_index": fn,
                    "trigger_id": trigger,
                    "session_hash": self.session,
                }
                joined = await self.http.post("/gradio_api/queue/join", json=body)
                joined.raise_for_status()
                if fn in (self.ends.stream_fn, self.ends.load_fn):  # the events that send the chart
                    self._live, self._live_fn = joined.json().get("event_id"), fn
            async with self.http.stream("GET", "/gradio_api/queue/data", params={"session_hash": self.session}) as resp:
                resp.raise_for_status()
                async for line in resp.aiter_lines():
                    if line.startswith("data:") and self._message(json.loads(line[5:])):
                        break
        except (httpx.HTTPError, ValueError, RuntimeError, LookupError, TypeError) as exc:  # malformed: an error too
            self.errors.append(f"{type(exc).__name__}: {exc}"[:300])

    def _message(self, msg: dict) -> bool:  # True when the stream is over
        kind = msg.get("msg")
        if kind == "unexpected_error":
            raise RuntimeError(msg.get("message") or "unexpected error")
        if kind in ("process_generating", "process_completed"):
            if not msg.get("success", True):
                raise RuntimeError(f"the event failed: {str(msg.get('output'))[:200]}")
            if msg.get("event_id") != self._live:
                return False  # the state stream's
            index = self.ends.chart_index if self._live_fn == self.ends.stream_fn else self.ends.load_chart_index
            value = msg["output"]["data"][index]
            if kind == "process_generating" and not self._first:
                value = apply_diff(self._chart, value)
            self._chart, self._first = value, False
            self._points(value)
        return kind == "close_stream"

    def _points(self, chart: object) -> None:
        arrived = time.time()
        new = [step for step in chart_steps(chart) or [] if step not in self.seen]
        self.live_updates += bool(new)
        for step in new:
            self.seen[step] = arrived

    async def run(self, stop: asyncio.Event, offset_s: float = 0.0) -> None:
        await asyncio.sleep(offset_s)  # browsers' timers are not in step with each other
        await self.call([self.ends.load_fn], None, self.ends.load_inputs)
        self.loaded_steps = len(self.seen)
        while not stop.is_set():
            await asyncio.sleep(self.ends.period_s)  # the timer's tick starts the streams
            streams = [self.ends.stream_fn, self.ends.state_fn]
            stream = asyncio.create_task(self.call(streams, self.ends.timer_id, self.ends.stream_inputs))
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({stream, stopped}, return_when=asyncio.FIRST_COMPLETED)
            for task in (stream, stopped):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def poll(
    url: str, clients: int, finished: Callable[[], bool], max_step: Callable[[], int], timeout_s: float = 600
) -> list[ChartPoller]:
    """`clients` sessions watch the chart until `finished()` and each has the last step (or a 10 s grace)."""
    ends = endpoints(url)
    limits = httpx.Limits(max_connections=4 * clients, max_keepalive_connections=2 * clients)
    async with httpx.AsyncClient(base_url=url.rstrip("/"), timeout=30, limits=limits) as http:
        pollers = [ChartPoller(http, ends) for _ in range(clients)]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(p.run(stop, i * ends.period_s / clients)) for i, p in enumerate(pollers)]
        deadline, grace = time.monotonic() + timeout_s, None
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            if grace is None and finished():
                grace = time.monotonic() + 10
            last = max_step() if grace is not None else None
            if last is not None and (time.monotonic() > grace or all(last in p.seen for p in pollers)):
                break
        stop.set()
        await asyncio.gather(*tasks)
    return pollers


# ---- runs and the server ------------------------------------------------------------------------
def queue_run(runs_root: Path, overrides: list[str], name: str = "bench", preset: str = "quick-start") -> RunPaths:
    """What the Train tab's Start leaves on disk (JobManager.submit): the server's job loop starts the worker."""
    cfg = apply_overrides(load_preset(preset), overrides)
    require_valid(cfg)
    paths = new_run_dir(runs_root, name)
    create_run(paths, cfg)
    update_status(paths, queued_at=time.time(), resume=False)
    return paths


def run_overrides(model: str, steps: int) -> list[str]:
    """One metrics row per step; one save at the end and no sample answers (not what is measured here)."""
    return [
        f"model.name_or_path={model}",
        f"data.path={SAMPLES_DIR / 'chat-assistant.jsonl'}",
        "training.logging_steps=1",
        f"training.max_steps={steps}",
        f"training.save_steps={steps}",
        "training.sample_every_save=false",
    ]


def is_final(paths: RunPaths) -> bool:
    return read_status(paths).state in FINAL_STATES


def log_rows(paths: RunPaths) -> list[MetricRow]:
    return [r for r in latest_per_step(read_all(paths.metrics)) if r.event == "log"]


def last_step(paths: RunPaths) -> int:
    return max((r.step for r in log_rows(paths)), default=-1)


def wait_final(paths: RunPaths, timeout_s: float = 600) -> RunStatus:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not is_final(paths):
        time.sleep(0.2)
    return read_status(paths)


def latencies(rows: list[MetricRow], seen: dict[int, float]) -> tuple[list[float], list[int]]:
    """(seconds from each row's write to its point arriving, steps that never arrived)."""
    got = [seen[r.step] - r.time for r in rows if r.step in seen and r.time is not None]
    return got, [r.step for r in rows if r.step not in seen]


def start_server(home: Path) -> tuple[subprocess.Popen, str]:
    """`python -m lora_studio serve` on a free port; returns once it answers and the engine is imported."""
    port = free_port()
    cache = os.environ.get("LORA_STUDIO_MODEL_CACHE") or str(Path.home() / ".lora-studio" / "models")
    env = {**os.environ, "LORA_STUDIO_HOME": str(home), "LORA_STUDIO_MODEL_CACHE": cache, "HF_HUB_OFFLINE": "1"}
    out = (home / "server.log").open("w")  # the server writes it for its whole life
    proc = subprocess.Popen(
        [sys.executable, "-m", "lora_studio", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    url, deadline = f"http://127.0.0.1:{port}/", time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if "Engine loaded" in (home / "server.log").read_text(errors="replace"):
            try:
                urllib.request.urlopen(url, timeout=2)
                return proc, url
            except OSError:
                pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the server did not start:\n" + (home / "server.log").read_text(errors="replace")[-3000:])


# ---- one training run under each kind of watching -----------------------------------------------
@dataclass
class Trial:
    mode: str
    latencies: list[float]
    missing: int  # (client, step) pairs whose point never arrived
    errors: list[str]
    tokens_per_sec: float
    server_cpu: float  # cores the server process used, averaged over the run
    client_cpu: float  # cores this process (the pollers) used
    requests: int = 0

    def quantile(self, q: float) -> float:
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[round(q * 100) - 1]


def steady_tokens_per_sec(rows: list[MetricRow]) -> float:
    speeds = [r.tokens_per_sec for r in rows if r.step > WARMUP_STEPS and r.tokens_per_sec]
    if not speeds:
        raise RuntimeError("no steady-state rows: raise --steps")
    return statistics.median(speeds)


def browser_seen(url: str, paths: RunPaths) -> dict[int, float]:
    """Headless Chromium on the page: when each step's point was first in the plot's data."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1800})
            page.goto(url)
            page.get_by_role("tab", name="Train").click()
            page.evaluate(RECORDER_JS)
            wait_final(paths)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and str(last_step(paths)) not in page.evaluate("() => window.__seen"):
                time.sleep(0.2)
            seen = page.evaluate("() => window.__seen")
        finally:
            browser.close()
    return {int(k): float(v) for k, v in seen.items()}


def one_run(url: str, home: Path, server_pid: int, mode: str, clients: int, steps: int) -> Trial:
    """Queue a run, watch it as `mode` says (none | pollers | browser), and measure."""
    paths = queue_run(home / "runs", run_overrides("embedded", steps), f"bench-{mode}")
    pollers, seen_maps = [], []
    try:
        while read_status(paths).state == "queued":  # a page opened earlier attaches to the run ending before
            time.sleep(0.1)
        server0, self0, wall0 = cpu_seconds(server_pid), cpu_seconds(), time.monotonic()
        if mode == "pollers":
            pollers = asyncio.run(poll(url, clients, lambda: is_final(paths), lambda: last_step(paths)))
            seen_maps = [p.seen for p in pollers]
        elif mode == "browser":
            seen_maps = [browser_seen(url, paths)]
        status = wait_final(paths)
    finally:
        end_worker(paths)
    wall = time.monotonic() - wall0
    if status.state != "completed":
        raise RuntimeError(f"run {paths.run_id} ended {status.state}: {status.error}")
    rows = log_rows(paths)
    pairs = [latencies(rows, seen) for seen in seen_maps]
    return Trial(
        mode,
        [x for got, _ in pairs for x in got],
        sum(len(lost) for _, lost in pairs),
        [e for p in pollers for e in p.errors],
        steady_tokens_per_sec(rows),
        (cpu_seconds(server_pid) - server0) / wall,
        (cpu_seconds() - self0) / wall,
        sum(p.requests for p in pollers),
    )


def end_worker(paths: RunPaths) -> None:  # an interrupted benchmark must not leave a worker training
    status = read_status(paths)
    if status.state not in FINAL_STATES and status.pid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(status.pid, signal.SIGTERM)


def summary(trials: dict[str, list[Trial]], clients: int) -> list[tuple[str, str, str]]:
    def med(mode: str, fn: Callable[[Trial], float]) -> float:
        return statistics.median(fn(t) for t in trials[mode])

    rows, reps = [], len(trials["none"])
    for mode, label in (
        ("browser", "1 browser (Chromium page, plot data read in the page)"),
        (
            "pollers",
            f"{clients} concurrent viewers (the page's load, then its live and state streams over queue/join + SSE)",
        ),
    ):
        lost = sum(t.missing for t in trials[mode])
        errs = sum(len(t.errors) for t in trials[mode])
        rows.append(
            (
                f"chart latency p50 / p95, {label}",
                f"{med(mode, lambda t: t.quantile(0.5)):.2f} s / {med(mode, lambda t: t.quantile(0.95)):.2f} s",
                f"target p95 ≤ 1.5 s; {sum(len(t.latencies) for t in trials[mode])} points over {reps} runs, "
                f"{lost} never arrived, {errs} request errors",
            )
        )
    base, loaded = med("none", lambda t: t.tokens_per_sec), med("pollers", lambda t: t.tokens_per_sec)
    rows += [
        ("training tokens/s, nobody watching", f"{base:,.0f}", f"steady state: median over steps > {WARMUP_STEPS}"),
        (
            f"training tokens/s, {clients} viewers",
            f"{loaded:,.0f}",
            f"{med('pollers', lambda t: t.requests):,.0f} requests per run (a load and two streams per viewer)",
        ),
        (f"ratio {clients} viewers / nobody", f"{loaded / base:.3f}", "target ≥ 0.95 (drop < 5%)"),
        (
            "training tokens/s, 1 browser",
            f"{med('browser', lambda t: t.tokens_per_sec):,.0f}",
            "Chromium draws on the same 2 cores",
        ),
        (
            f"server CPU: nobody / {clients} viewers",
            f"{med('none', lambda t: t.server_cpu):.2f} / {med('pollers', lambda t: t.server_cpu):.2f} cores",
            f"the viewers themselves used {med('pollers', lambda t: t.client_cpu):.2f} cores of the same machine",
        ),
    ]
    return rows


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=REPS)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--clients", type=int, default=POLLERS)
    parser.add_argument("--no-write", action="store_true", help="print the table, leave docs/BENCHMARKS.md alone")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up below when killed
    load_before = os.getloadavg()[0]
    home = Path(tempfile.mkdtemp(prefix="bench-chart-"))
    proc, url = start_server(home)
    trials: dict[str, list[Trial]] = {"none": [], "pollers": [], "browser": []}
    started = time.monotonic()
    try:
        for rep in range(args.reps):
            for mode in trials:  # interleaved, so drift in the machine's load hits every mode alike
                trial = one_run(url, home, proc.pid, mode, args.clients, args.steps)
                trials[mode].append(trial)
                p95 = f"{trial.quantile(0.95):.2f}" if trial.latencies else "-"
                log.info(
                    "rep %d %-7s: %6.0f tokens/s, %d points, p95 %s s, server %.2f cores, %d errors",
                    rep + 1,
                    mode,
                    trial.tokens_per_sec,
                    len(trial.latencies),
                    p95,
                    trial.server_cpu,
                    len(trial.errors),
                )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    rows = summary(trials, args.clients)
    rows.append(
        (
            "machine load (1-min average) before / after",
            f"{load_before:.2f} / {os.getloadavg()[0]:.2f}",
            f"other work on the machine; the whole benchmark took {time.monotonic() - started:.0f} s",
        )
    )
    command = (
        f".venv/bin/python bench/chart_latency.py ({args.reps} repetitions of {args.steps} steps each "
        "with nobody / 20 viewers / a browser watching, interleaved; medians over repetitions)"
    )
    if args.no_write:
        print("\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows))
    else:
        print(write_section("chart-latency", "Live-chart latency and 20 viewers", command, rows))
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
