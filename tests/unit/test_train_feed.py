"""The Train tab's one reader of the runs folder (ui/train_feed.py) and the pages' streams that draw from it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from lora_studio import jobs
from lora_studio.config import RunConfig
from lora_studio.metrics import MetricRow, append_row
from lora_studio.runs import RunPaths, create_run, update_status
from lora_studio.ui import train_draw, train_feed, train_tab
from lora_studio.ui.train_feed import Feed, Seen
from tests.integration.helpers import chart_x

NO_LINE_UP = ([], [])


def make_run(root, run_id="r1") -> RunPaths:
    paths = RunPaths(root / run_id)
    create_run(paths, RunConfig())
    update_status(paths, state="running", phase="training")
    return paths


def test_a_round_counts_only_when_something_changed_and_each_page_sees_each_change_once(tmp_path):
    paths = make_run(tmp_path)
    feed = Feed(lambda: NO_LINE_UP)
    view = feed.view(tmp_path, "r1")
    first, second = Seen(), Seen()
    assert first.changed(view) == set(train_feed.PARTS)  # a new page draws everything
    start = feed.round
    assert not feed.read_round({(tmp_path, "r1")}) and feed.round == start  # nothing new: no round
    append_row(paths.metrics, MetricRow("log", 1, 10, loss=2.0))
    assert feed.read_round({(tmp_path, "r1")}) and feed.round == start + 1
    assert first.changed(view) == {"rows"} and first.changed(view) == set()
    assert second.changed(view) == set(train_feed.PARTS)  # a page that drew nothing yet
    assert [r.step for r in view.rows] == [1]
    update_status(paths, state="stopped", phase="stopped")
    assert feed.read_round({(tmp_path, "r1")}) and first.changed(view) == {"status"}
    assert view.status.state == "stopped"
    feed.read_round(set())  # no page watches it any more: the view goes
    assert feed.view(tmp_path, "r1", read=False) is not view


def test_a_page_that_reads_wakes_the_others_and_a_deleted_run_is_one_round(tmp_path):
    import shutil

    paths = make_run(tmp_path)
    feed = Feed(lambda: NO_LINE_UP)
    view = feed.view(tmp_path, "r1")
    start = feed.round
    append_row(paths.metrics, MetricRow("log", 1, 10, loss=2.0))
    feed.view(tmp_path, "r1")  # a page loads or picks it: read now
    assert feed.round == start + 1  # the pages streaming it wake at once, not at their timeout
    shutil.rmtree(paths.root)
    assert feed.read_round({(tmp_path, "r1")}) and not feed.read_round({(tmp_path, "r1")})
    assert view.gone


def test_a_view_made_again_never_repeats_a_version_a_page_drew(tmp_path):
    """A view dropped (no page watched it for a round) and made again starts from fresh numbers: a page that drew
    the old one draws every part again instead of missing what changed in between."""
    make_run(tmp_path)
    feed = Feed(lambda: NO_LINE_UP)
    page = Seen()
    page.changed(feed.view(tmp_path, "r1"))
    feed.read_round(set())  # dropped
    assert page.changed(feed.view(tmp_path, "r1")) == set(train_feed.PARTS)


def test_beyond_the_most_streams_a_page_is_refused_a_stream(monkeypatch):
    monkeypatch.setattr(train_feed, "STREAMS_MAX", 2)
    feed = Feed(lambda: NO_LINE_UP)
    assert feed.opened(set) and feed.opened(set) and not feed.opened(set)
    feed.closed()
    assert feed.opened(set)


def test_the_line_up_moving_is_a_round(tmp_path):
    line_up = [([], [])]
    feed = Feed(lambda: line_up[0])
    assert not feed.read_round(set())
    line_up[0] = (["a"], ["b"])
    assert feed.read_round(set()) and feed.line_up == (["a"], ["b"]) and feed.line_up_version == 1


def test_a_waiting_stream_wakes_on_the_next_round_or_after_its_timeout():
    line_up = [([], [])]
    feed = Feed(lambda: line_up[0])

    async def scenario():
        quiet = await feed.wait(0, 0.1)  # nothing happens: back after the timeout with the same round
        waiter = asyncio.create_task(feed.wait(0, 5.0))
        await asyncio.sleep(0.1)
        line_up[0] = (["a"], [])
        # The reader's thread starts a round: the waiting stream wakes at once, not at its timeout.
        await asyncio.to_thread(feed.read_round, set())
        return quiet, await asyncio.wait_for(waiter, 1.0), await feed.wait(0, 5.0)  # a round already past: no wait

    assert asyncio.run(scenario()) == (0, 1, 1)
    assert feed._waiters == []


@pytest.fixture
def manager(studio_home):
    yield jobs.get_manager()
    if jobs._manager is not None:
        jobs._manager.shutdown()
        jobs._manager = None


def test_twenty_pages_are_served_by_one_reader_and_each_gets_every_point(studio_home, manager, monkeypatch):
    """Twenty pages watching one run: the run's files are read once per round for all of them, not once per page,
    and every page's stream delivers every new point."""
    from lora_studio import settings

    paths = make_run(settings.runs_dir(), "watched")
    reads = []
    real_refresh = train_feed.refresh
    monkeypatch.setattr(train_feed, "refresh", lambda *a, **k: reads.append(1) or real_refresh(*a, **k))
    pages = [SimpleNamespace(session_hash=f"page-{i}") for i in range(20)]
    for page in pages:
        train_tab.on_load("watched", page)
    got: dict[str, set[int]] = {page.session_hash: set() for page in pages}

    async def watch(page):
        stream = train_tab.on_stream("watched", page)
        try:
            async for values in stream:
                chart = dict(zip(train_draw.LIVE, values, strict=True))["chart"]
                got[page.session_hash].update(int(x) for x in chart_x(chart) or [])
                if len(got[page.session_hash]) == 3:
                    return
        finally:
            await stream.aclose()

    async def scenario():
        tasks = [asyncio.create_task(watch(page)) for page in pages]
        await asyncio.sleep(0.5)
        reads.clear()
        for step in (1, 2, 3):
            append_row(paths.metrics, MetricRow("log", step, 10, loss=3.0 - step / 2))
            await asyncio.sleep(0.6)
        await asyncio.wait_for(asyncio.gather(*tasks), 10)

    try:
        asyncio.run(scenario())
    finally:
        for page in pages:
            train_tab.SESSIONS.forget(page)
    assert all(steps == {1, 2, 3} for steps in got.values())
    rounds_read = len(reads)
    assert rounds_read <= 2 * 1.8 / train_feed.READ_S + 4, f"{rounds_read} reads: the pages read the run themselves"


def test_a_session_this_server_does_not_know_is_not_kept_by_a_handler():
    """A Stop, a tab opened or a tick from a page the server forgot must not make it known with nothing watched:
    its stream would then never draw the run the browser kept again."""
    page = SimpleNamespace(session_hash="forgotten")
    train_tab.SESSIONS.forget(page)
    assert "Pick a run first" in train_tab.on_stop(page)
    train_tab.on_tick(page)
    assert not train_tab.SESSIONS.known(page)


def test_pages_on_one_run_are_sent_one_payload_made_once_and_a_step_sends_no_skipped_output(
    studio_home, manager, monkeypatch
):
    """Gradio makes a new component for each output a message skips (~0.4 ms each) and postprocesses every page's
    values anew: a step's message of all twelve outputs cost ~6 ms of server time per page. A step now sends the
    live stream's four outputs, made and postprocessed once for every page; the state stream sends nothing."""
    from lora_studio import settings

    paths = make_run(settings.runs_dir(), "shared")
    pages = [SimpleNamespace(session_hash=f"shared-{i}") for i in range(3)]
    made = []
    real = train_draw.live_values
    monkeypatch.setattr(train_draw, "live_values", lambda *a: made.append(a) or real(*a))
    try:
        for page in pages:
            train_tab.on_load("shared", page)
        append_row(paths.metrics, MetricRow("log", 1, 10, loss=2.0))
        train_tab.FEED.read_round(train_tab.SESSIONS.watched())
        made.clear()
        sent = [dict(zip(train_draw.LIVE, train_tab._pushed("live", page, True), strict=True)) for page in pages]
        assert len(made) == 1  # once for the three pages
        assert all(sent[0][name] is page[name] for page in sent for name in train_draw.LIVE)
        assert chart_x(sent[0]["chart"]) == [1] and "step 1/10" in sent[0]["progress"]
        assert sent[0]["preference"] is None  # hidden, no rewards logged: no update, no component made
        assert not any(train_tab._skipped(value) for value in sent[0].values())
        assert all(train_tab._skipped(value) for value in train_tab._pushed("state", pages[0], False))
        update_status(paths, state="stopped", phase="stopped")
        train_tab.FEED.read_round(train_tab.SESSIONS.watched())
        state = dict(zip(train_draw.STATE, train_tab._pushed("state", pages[0], False), strict=True))
        assert "stopped" in state["status"] and state["resume"]["interactive"] is True
        live = dict(zip(train_draw.LIVE, train_tab._pushed("live", pages[0], True), strict=True))
        assert "stopped" in live["progress"]
    finally:
        for page in pages:
            train_tab.SESSIONS.forget(page)


def test_a_page_drawn_from_a_payload_made_a_while_ago_gets_its_own_elapsed_clock(studio_home, manager, monkeypatch):
    """The page moves the elapsed clock on from the value it is sent: one made 30 s earlier (nothing moved since) and
    sent as it is would start that page's clock 30 s behind."""
    import re
    import time

    from lora_studio import settings

    paths = make_run(settings.runs_dir(), "clock")
    update_status(paths, started=time.time() - 5)
    append_row(paths.metrics, MetricRow("log", 1, 10, loss=2.0))
    first, later = SimpleNamespace(session_hash="clock-1"), SimpleNamespace(session_hash="clock-2")

    def elapsed(values: list) -> int:
        progress = dict(zip(train_tab.OUTPUTS, values, strict=True))["progress"]
        return int(re.search(r'data-elapsed="(\d+)"', progress).group(1))

    try:
        shown = elapsed(train_tab.on_load("clock", first))
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() + 30)
        assert elapsed(train_tab.on_load("clock", later)) >= shown + 30
    finally:
        for page in (first, later):
            train_tab.SESSIONS.forget(page)


def test_a_stream_draws_in_the_event_loop_only_when_memory_holds_what_it_needs(studio_home, manager):
    """Twenty pages' thread hand-offs each step cost training its cores: a stream draws in place when the run was read
    and this round's live values are made, and hands the draw to a thread when a file must be read, the values made,
    or a lock a thread holds be waited for."""
    from lora_studio import settings

    paths = make_run(settings.runs_dir(), "inplace")
    page = SimpleNamespace(session_hash="inplace-1")
    opened = train_tab.FEED.opened(train_tab.SESSIONS.watched)  # as a streaming page: the reader keeps the line-up
    try:
        train_tab.on_load("inplace", page)
        train_tab.FEED.read_round(train_tab.SESSIONS.watched())
        assert all(train_tab._skipped(v) for v in train_tab._pushed_now("state", page, False))  # nothing changed
        append_row(paths.metrics, MetricRow("log", 1, 10, loss=2.0))
        train_tab.FEED.read_round(train_tab.SESSIONS.watched())
        assert train_tab._pushed_now("live", page, True) is None  # this round's values are not made yet
        other = SimpleNamespace(session_hash="inplace-2")
        train_tab.on_load("inplace", other)  # a page in a thread makes them
        append_row(paths.metrics, MetricRow("log", 2, 10, loss=1.9))
        train_tab.FEED.read_round(train_tab.SESSIONS.watched())
        train_tab._pushed("live", other, True)
        live = dict(zip(train_draw.LIVE, train_tab._pushed_now("live", page, True), strict=True))
        assert chart_x(live["chart"]) == [1, 2]
        append_row(paths.metrics, MetricRow("log", 3, 10, loss=1.8))
        train_tab.FEED.read_round(train_tab.SESSIONS.watched())
        train_tab._pushed("live", other, True)
        view = train_tab.FEED.peek(settings.runs_dir(), "inplace")
        with view.lock:  # the reader is reading the run
            assert train_tab._pushed_now("live", page, True) is None
        with train_tab.SESSIONS.use(page):  # a handler draws for this page
            assert train_tab._pushed_now("live", page, True) is None
        update_status(paths, state="stopped", phase="stopped")
        train_tab.FEED.read_round(train_tab.SESSIONS.watched())
        assert train_tab._pushed_now("state", page, False) is None  # the status words read the run's files
    finally:
        if opened:
            train_tab.FEED.closed()
        for each in (page, SimpleNamespace(session_hash="inplace-2")):
            train_tab.SESSIONS.forget(each)
