"""Load (issues 7 and 19): 20 browser sessions watch the live chart while a real (tiny) run trains.

Each client does what the Train tab's page does (on_load, then the live stream its timer starts, through
/gradio_api/queue/join and the SSE stream; the client is bench/chart_latency.py's). Every client
must receive every step's point, with no request error, over several messages (live, not one drawing
at the end), and the run must complete.

Timed targets (chart latency p95 ≤ 1.5 s, training tokens/s within 5% with 20 viewers) belong in
the benchmark (`bench/chart_latency.py`, results in docs/BENCHMARKS.md), not in a test on a shared
CI machine: the latency bound here is generous and only catches a stream that stopped being live.
"""

from __future__ import annotations

import asyncio
import statistics

from bench.chart_latency import is_final, last_step, latencies, log_rows, poll, queue_run, run_overrides, wait_final

CLIENTS = 20
STEPS = 30  # long enough that a page whose stream starts seconds late on a busy CI machine still sees points arrive
GENEROUS_MEDIAN_S = 5.0  # a live chart delivers within about a reader's period (0.25 s); a stalled one never does


def test_twenty_pollers_receive_every_point(server, server_home, tiny_model_dir):
    overrides = [*run_overrides(str(tiny_model_dir), STEPS), "data.max_length=128", "lora.r=4", "lora.alpha=8"]
    paths = queue_run(server_home / "runs", overrides, "load")

    pollers = asyncio.run(poll(server, CLIENTS, lambda: is_final(paths), lambda: last_step(paths), timeout_s=180))

    status = wait_final(paths, timeout_s=30)
    assert status.state == "completed", f"{status.state}: {status.error}"
    rows = log_rows(paths)
    assert [r.step for r in rows] == list(range(1, STEPS + 1))
    assert [e for p in pollers for e in p.errors] == []
    # A page that loaded after the short run ended (a busy CI machine) had every point in its load: nothing was left
    # to arrive live. Most pages load long before that.
    late = [p.session for p in pollers if p.loaded_steps == STEPS]
    assert len(late) <= CLIENTS // 4, f"{len(late)} pages loaded after the run ended"
    delays = []
    for poller in pollers:
        got, lost = latencies(rows, poller.seen)
        assert lost == [], f"session {poller.session} never received steps {lost[:10]}"
        if poller.session not in late:
            assert poller.live_updates >= 2, "every point came in one response: the chart was not live"
        delays.extend(got)
    assert min(delays) >= 0  # no point before its row was written: every client watched this run
    assert statistics.median(delays) < GENEROUS_MEDIAN_S
