"""Start pressed twice in one tab while another user presses it too: one job trains, the others wait in
the queue and are told their place. Two gradio_client users of one real server (each its own session)."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

from gradio_client import Client

from lora_studio.runs import list_runs, read_status


def choose_sample(user: Client, model_dir) -> None:
    user.predict(str(model_dir), 128, True, 0.0, 42, api_name="/data_settings")
    message = user.predict("chat-assistant.jsonl", api_name="/sample")[0]
    assert "Ready to train" in message, message


def test_a_double_start_and_a_second_user_one_job_runs_the_others_queue_in_order(server, server_home, tiny_model_dir):
    alice, bob = Client(server, verbose=False), Client(server, verbose=False)
    choose_sample(alice, tiny_model_dir)
    choose_sample(bob, tiny_model_dir)
    with ThreadPoolExecutor(3) as pool:  # alice double-clicks Start while bob clicks it
        calls = [
            pool.submit(alice.predict, "alice", api_name="/on_start"),
            pool.submit(alice.predict, "alice", api_name="/on_start"),
            pool.submit(bob.predict, "bob", api_name="/on_start"),
        ]
        answers = [call.result(timeout=120) for call in calls]
    messages = [answer[0] for answer in answers]
    assert sum(m.startswith("Started") for m in messages) == 1, messages
    positions = {int(m): answer for answer in answers for m in re.findall(r"^Queued `.+` at position (\d+)", answer[0])}
    assert sorted(positions) == [1, 2], messages
    for position, answer in positions.items():  # the watched run says where it waits, and the queue is listed
        _message, _picker, status, _progress, queue = answer[:5]
        assert f"position {position} in the queue" in status and "**Queued:**" in queue

    runs = list_runs(server_home / "runs")
    states = sorted(read_status(p).state for p in runs)
    assert states == ["queued", "queued", "running"], states
    running = next(p for p in runs if read_status(p).state == "running")
    assert read_status(running).pid  # a real worker, started by the server

    # Clean up as users would: the queued runs leave the queue while the running one still holds the only slot
    # (so none of them can start meanwhile), then the running one is cancelled.
    def owner(paths) -> Client:  # the session that started it lists it among its choices
        return bob if paths.run_id.endswith("-bob") else alice

    for paths in [p for p in runs if read_status(p).state == "queued"]:
        owner(paths).predict(paths.run_id, api_name="/on_pick")
        assert "Removed" in owner(paths).predict(api_name="/on_cancel")
    owner(running).predict(running.run_id, api_name="/on_pick")
    assert "Cancelling" in owner(running).predict(api_name="/on_cancel")
    deadline = time.time() + 60
    # The worker says "interrupted" as SIGTERM ends it; the server marks it cancelled once it has exited.
    while time.time() < deadline and not all(read_status(p).state == "cancelled" for p in runs):
        time.sleep(0.3)
    ends = [(read_status(p).state, read_status(p).error) for p in runs]
    assert all(state == "cancelled" for state, _ in ends), ends
