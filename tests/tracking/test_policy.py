"""The failure policy every logger shares (i2i.tracking.base), through a logger registered
the way a third-party plugin would: a tool that fails is reported once, buffered up to the
limit (oldest dropped), sent when it works again, and never reaches the trainer."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import pytest

import i2i
from i2i.tracking import read_tracking


class Tool:
    """What the fake tool received, and a switch that makes it fail."""

    def __init__(self) -> None:
        self.failing = False
        self.steps: list[int] = []
        self.images: list[int] = []
        self.calls: list[str] = []
        self.threads: set[str] = set()
        self.failures = 0

    def wait(self, what: Any, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not what() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert what()


def make_plugin(tool: Tool, open_error: Exception | None = None) -> Any:
    class Recording(i2i.ExperimentLogger):
        name = "recording"

        def _check(self, what: str) -> None:
            tool.threads.add(threading.current_thread().name)
            if tool.failing:
                tool.failures += 1
                raise OSError(f"{what}: tool unreachable")

        def open(self) -> None:
            if open_error is not None:
                raise open_error
            self.state["run_id"] = "r1"
            tool.calls.append("open")

        def log_params(self, params: dict, config_toml: str) -> None:
            tool.calls.append(f"params {params['train.steps']}")

        def log_metrics(self, records: list) -> None:
            self._check("metrics")
            tool.steps += [step for step, _, _ in records]

        def log_image(self, step: int, key: str, image: Any) -> None:
            self._check("image")
            tool.images.append(step)

        def close(self, status: str | None) -> None:
            self._check("close")
            tool.calls.append(f"close {status}")

        def describe(self) -> str:
            return "the recording tool"

    class Plugin:
        @i2i.hookimpl
        def i2i_register_loggers(self, registrar: i2i.Registrar) -> None:
            registrar.add(Recording.name, Recording)

    return Plugin()


@pytest.fixture
def recording_ctx():
    def make(tool: Tool, open_error: Exception | None = None) -> i2i.Context:
        return i2i.load_context(extra=[("recording-plugin", make_plugin(tool, open_error))])

    return make


def test_outage_buffers_drops_the_oldest_beyond_the_limit_and_sends_the_rest(
    recording_ctx, tracked_run, on_step, tmp_path, caplog, monkeypatch
):
    monkeypatch.setattr("i2i.tracking.base.RETRY_DELAYS", (0.2,))  # the policy, not the waits
    tool = Tool()
    ctx = recording_ctx(tool)
    assert ctx.loggers.owner("recording") == "recording-plugin"

    def switch(step: int) -> None:
        if step == 2:  # once step 2's scalars are in, the tool breaks: its grid waits ...
            tool.wait(lambda: 2 in tool.steps)
            tool.failing = True
        elif step == 5:  # ... and steps 3-5 pile up behind it: 3 metric records, 1 grid
            tool.wait(lambda: tool.failures > 0)
            tool.failing = False
            tool.wait(lambda: 5 in tool.steps)  # (the next retry, before step 6 adds more)

    out = tmp_path / "run"
    caplog.set_level(logging.INFO, logger="i2i.tracking")
    tracked_run(
        out, 7, ("recording",), plugins=(on_step(switch),), context=ctx, tracking={"buffer": 2}
    )
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [m for m in warnings if "tracking failed" in m] == [
        "recording: tracking failed (OSError: image: tool unreachable); training goes on and "
        "its records are buffered (up to 2) and retried"
    ]
    assert len([m for m in warnings if "works again" in m]) == 1
    # 3 metric records piled up while failing and the buffer holds 2: the oldest (3) is gone
    assert tool.steps == [1, 2, 4, 5, 6, 7]
    assert tool.images == [2, 4, 6, 7] and tool.calls == ["open", "params 7", "close completed"]
    assert tool.threads == {"i2i-recording"}  # the tool never runs on the training thread
    state = read_tracking(out)["recording"]
    assert state["dropped"] == 1 and state["errors"] >= 1 and state["status"] == "completed"
    assert state["run_id"] == "r1" and state["last_step"] == 7


def test_a_rejected_setting_turns_the_logger_off_and_training_goes_on(
    recording_ctx, tracked_run, tmp_path, caplog
):
    tool = Tool()
    ctx = recording_ctx(tool, open_error=i2i.ConfigError("API key rejected"))
    out = tmp_path / "run"
    caplog.set_level(logging.INFO, logger="i2i.tracking")
    tracked_run(out, 3, ("recording",), context=ctx)
    assert json.loads((out / "status.json").read_text())["status"] == "completed"
    off = [r.getMessage() for r in caplog.records if "is off" in r.getMessage()]
    assert off == [
        "recording: ConfigError: API key rejected; this logger is off for the rest of the run, "
        "training goes on"
    ]
    assert tool.steps == [] and tool.calls == []
    state = read_tracking(out)["recording"]
    assert state["errors"] == 1 and state["dropped"] == 5  # 3 steps, grids of steps 2 and 3
    page = (out / "index.html").read_text()
    assert "5 record(s) dropped" in page and "API key rejected" in page


def test_loggers_are_unregistered_after_the_run(recording_ctx, tracked_run, tmp_path):
    tool = Tool()
    ctx = recording_ctx(tool)
    before = {name for name, _ in ctx.pm.list_name_plugin()}
    with pytest.raises(RuntimeError, match="simulated crash"):
        tracked_run(tmp_path / "run", 3, ("recording",), crash_at=2, context=ctx)
    assert {name for name, _ in ctx.pm.list_name_plugin()} == before
    assert tool.calls[-1] == "close failed"
    tracked_run(tmp_path / "plain", 1, (), context=ctx)  # a run without loggers: none called
    assert tool.calls[-1] == "close failed"
