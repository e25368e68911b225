"""The Train tab's handlers, called as the browser would, with a real worker training the tiny model."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import pytest

from lora_studio import jobs
from lora_studio.config import RunConfig
from lora_studio.dataset_sources import store_upload
from lora_studio.runs import read_status
from lora_studio.ui import train_draw, train_tab
from lora_studio.ui.train_feed import READ_S
from lora_studio.ui.train_tab import OUTPUTS, on_cancel, on_load, on_pick, on_start, on_tick
from tests.integration.helpers import chart_x, tiny_config

NAMES = ("message", *OUTPUTS)


@pytest.fixture(autouse=True)
def fresh_manager():
    yield
    if jobs._manager is not None:
        for run_id in jobs._manager.running():
            jobs._manager.cancel(run_id)
        jobs._manager.shutdown()
        jobs._manager = None


def as_dict(values: list) -> dict:
    return dict(zip(NAMES, values, strict=True))


def streamed(until: Callable[[], bool], timeout_s: float = 180, kept: str | None = None) -> list[dict]:
    """What this page's two streams (live, state) send until `until()` holds after a send (and a moment more), or
    `timeout_s`, as a browser gets it: each message as every output by name, those of the other stream skipped."""
    got: list[dict] = []
    done = asyncio.Event()

    async def follow(stream, names) -> None:
        try:
            async for values in stream:
                got.append({**dict.fromkeys(OUTPUTS, train_tab.gr.skip()), **dict(zip(names, values, strict=True))})
                if until():
                    done.set()
                    return
        finally:
            await stream.aclose()

    async def collect() -> None:
        tasks = [
            asyncio.create_task(follow(train_tab.on_stream(kept), train_draw.LIVE)),
            asyncio.create_task(follow(train_tab.on_stream_state(kept), train_draw.STATE)),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), timeout_s)
            await asyncio.sleep(4 * READ_S)  # the other stream's message of the same change
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(collect())
    return got


def run_config(tiny_model_dir, chat_file, *overrides: str) -> dict:
    """The page's run config: the tiny model and 40 chat rows, uploaded as the Data tab stores them."""
    return tiny_config(tiny_model_dir, store_upload(chat_file), *overrides).to_dict()


def test_start_without_a_dataset_says_where_to_pick_one():
    out = as_dict(on_start(RunConfig().to_dict(), ""))
    assert "No dataset is selected" in out["message"] and "Data tab" in out["message"]
    assert not jobs.get_manager().running()


def test_start_with_impossible_settings_lists_every_problem(tiny_model_dir, chat_file):
    state = run_config(tiny_model_dir, chat_file, "lora.r=0", "training.learning_rate=-1")
    out = as_dict(on_start(state, ""))
    assert "lora.r" in out["message"] and "training.learning_rate" in out["message"]
    assert "Config tab" in out["message"]


def test_a_run_started_in_the_tab_streams_its_chart_and_ends_completed(tiny_model_dir, chat_file):
    state = run_config(tiny_model_dir, chat_file, "training.max_steps=12", "training.save_steps=6")
    out = as_dict(on_start(state, "from the tab"))
    assert "Started" in out["message"]
    run_id = out["picker"]["value"]
    assert "from-the-tab" in run_id
    manager = jobs.get_manager()
    sent = streamed(lambda: read_status(manager._paths(run_id)).state == "completed" and not manager.running())
    charts = [len(x) for values in sent if (x := chart_x(values["chart"])) is not None]
    points = max(charts, default=0)
    assert len([n for n in charts if n]) >= 2, f"the chart was not live: {charts}"  # points arrived over sends
    assert "completed" in next(v["status"] for v in reversed(sent) if v["status"] != train_tab.gr.skip())
    final = dict(zip(OUTPUTS, on_pick(run_id), strict=True))
    assert "completed" in final["status"] and "step 12/12" in final["progress"]
    assert len(chart_x(final["chart"]) or []) == 12  # every logged step, redrawn in full for a fresh page
    assert points >= 1
    assert list(final["samples"].columns) == ["step", "prompt", "answer"] and 0 in set(final["samples"]["step"])
    # A reloaded page re-attaches to the newest run and redraws its history.
    reload = dict(zip(OUTPUTS, on_load(), strict=True))
    assert reload["picker"]["value"] == run_id and "completed" in reload["status"]


def test_cancel_from_the_tab_leaves_the_run_cancelled(tiny_model_dir, chat_file):
    state = run_config(tiny_model_dir, chat_file, "training.max_steps=5000")
    out = as_dict(on_start(state, ""))
    run_id = out["picker"]["value"]
    manager = jobs.get_manager()
    deadline = time.time() + 120
    while read_status(manager._paths(run_id)).step < 2 and time.time() < deadline:
        time.sleep(0.2)
    assert "Cancelling" in on_cancel()
    while manager.running() and time.time() < deadline:
        time.sleep(0.2)
    assert read_status(manager._paths(run_id)).state == "cancelled"
    train_tab.SESSIONS.forget(None)
    assert "Pick a run first" in train_tab.on_stop()


def test_a_crash_reported_after_its_traceback_still_shows_the_log():
    from lora_studio import settings
    from lora_studio.runs import RunPaths, create_run, update_status

    jobs.get_manager()  # started (and recovered) before the run appears: nobody marks it at start-up
    paths = RunPaths(settings.runs_dir() / "crashed")
    create_run(paths, RunConfig())
    update_status(paths, state="running", phase="training")
    paths.log.write_text("step 1/10 | loss 2.0\nTraceback (most recent call last):\nMemoryError\n")
    shown = dict(zip(OUTPUTS, on_pick("crashed"), strict=True))
    assert "running" in shown["status"] and "MemoryError" in shown["log"]  # the log landed first
    update_status(
        paths,
        state="interrupted",
        error="The worker was killed by signal 9 before it could report",
        error_kind="killed",
        hint="Resume it",
    )
    status = dict(zip(OUTPUTS, on_tick(), strict=True))["status"]
    assert "killed by signal 9" in status and "MemoryError" in status  # the log did not change on this tick


def test_deleting_the_watched_run_says_deleted_without_resume_and_drops_it_from_the_list():
    """It said 'the run crashed... resume or delete the run' with Resume enabled, Resume then found no run, and
    the server logged a warning twice a second for a dropdown value not in its choices."""
    import shutil

    from lora_studio import settings
    from lora_studio.runs import RunPaths, create_run, update_status

    jobs.get_manager()
    paths = RunPaths(settings.runs_dir() / "20250101-000000-gone")
    create_run(paths, RunConfig())
    update_status(paths, state="stopped", phase="stopped")
    shown = dict(zip(OUTPUTS, on_pick(paths.run_id), strict=True))
    assert shown["resume"]["interactive"] is True
    shutil.rmtree(paths.root)
    tick = dict(zip(OUTPUTS, on_tick(), strict=True))
    assert "was deleted" in tick["status"] and "crashed" not in tick["status"]
    assert tick["resume"]["interactive"] is False and tick["stop"]["interactive"] is False
    assert tick["picker"]["value"] is None and paths.run_id not in [v for _, v in tick["picker"]["choices"]]
    quiet = dict(zip(OUTPUTS, on_tick(), strict=True))  # said once; later ticks change nothing
    assert all(value == train_tab.gr.skip() for name, value in quiet.items() if name != "queue")
    assert "Pick a run first" in train_tab.on_resume()


def test_an_idle_page_is_sent_nothing_and_a_training_run_only_what_changed(tiny_model_dir, chat_file):
    """The Timer ticked twice a second for ever, with nothing to watch. Now an idle page's stream sends nothing, and
    while a run trains its stream sends what changed, each new step's progress with the elapsed clock the page
    moves on by itself between them."""
    on_load()
    assert streamed(lambda: True, timeout_s=3) == []  # no run, nothing changing: not one message
    state = run_config(tiny_model_dir, chat_file, "training.max_steps=5000")
    started = as_dict(on_start(state, ""))
    run_id = started["picker"]["value"]
    manager = jobs.get_manager()
    began = time.time()
    sent = streamed(lambda: time.time() - began > 4, timeout_s=60)
    progress = [v["progress"] for v in sent if v["progress"] != train_tab.gr.skip()]
    assert len(progress) >= 2 and len(set(progress)) == len(progress)  # never the same drawing twice
    assert any('class="ls-clock"' in p for p in progress)
    on_cancel()
    deadline = time.time() + 60
    while manager.running() and time.time() < deadline:
        time.sleep(0.2)
    assert read_status(manager._paths(run_id)).state == "cancelled"


def test_a_page_the_server_does_not_know_watches_the_run_it_kept(tiny_model_dir, chat_file):
    """After a server restart the page's timer starts its stream again: the new server has no session for it, so the
    stream draws in full the run this browser kept, as a page load does."""
    from lora_studio import settings
    from lora_studio.runs import RunPaths, create_run, update_status

    paths = RunPaths(settings.runs_dir() / "20250101-000000-shown")
    create_run(paths, RunConfig())
    update_status(paths, state="stopped", phase="stopped")
    train_tab.SESSIONS.forget(None)
    sent = streamed(lambda: True, timeout_s=10, kept=paths.run_id)
    skip = train_tab.gr.skip()
    state = next(v for v in sent if v["picker"] != skip)  # each of the page's two streams draws its part
    assert state["picker"]["value"] == paths.run_id and "stopped" in state["status"]
    live = next(v for v in sent if v["progress"] != skip)
    assert "stopped" in live["progress"] and chart_x(live["chart"]) == []  # the empty chart: no step logged
