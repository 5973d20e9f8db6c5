"""The base class of every experiment logger, and the one place its failures are handled.

A logger is an observer plugin: the hook implementations below (shared by every tool) turn hook
calls into records on a queue, and one background thread per logger hands them to the tool, so
a slow tracker costs a training step only the time to queue a record. A subclass implements the
tool's side (``open``, ``log_params``, ``log_metrics``, ``log_image``, ``log_artifact``,
``close``); those methods run on the logger's thread only, never concurrently.

Failure policy, the same for every tool (docs/tracking.md):

- a :class:`~i2i.errors.ConfigError` from the tool's side (settings or credentials the tool
  rejects) is reported once and switches the logger off for the rest of the run;
- any other exception (server unreachable, time-out, disk full) is reported once per outage;
  the record that failed and every later one stay **buffered** in memory and are retried, in
  order, after 1 s, 2 s, 4 s, ... (at most 30 s; every second once the run has ended); when
  the tool answers again one line says how many records were sent late;
- the buffer holds at most ``train.tracking.buffer`` records and :data:`MAX_IMAGES` sample
  grids; beyond that the oldest metrics/grids are **dropped** (counted);
- at the end, the tracking session waits up to ``train.tracking.flush_timeout`` seconds for
  the buffer to drain and drops what is left. Counts go to ``RUN/tracking.json``, the results
  page and the final log line. Training never waits for a tracker, and no tracker error
  reaches the trainer.
"""

from __future__ import annotations

import collections
import dataclasses
import importlib.util
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from i2i.config import TrackingConfig, to_dict
from i2i.errors import ConfigError
from i2i.hookspecs import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from i2i.training.run import RunConfig, RunInfo

log = logging.getLogger("i2i.tracking")

#: Most sample grids kept while a tracker is unreachable (a grid can be megabytes).
MAX_IMAGES = 32
#: Retry delays while a tracker fails (seconds); the last one repeats.
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
#: Retry delay once the run has ended and the session is flushing.
FLUSH_RETRY_DELAY = 1.0
#: Metric records handed to the tool in one call (MLflow takes 1000 values per request).
MAX_BATCH = 50


def metric_key(key: str) -> str:
    """The tracker name of a ``logs`` key: ``G/total`` stays, bare keys go under ``train/``
    (``sec_per_step`` -> ``train/sec_per_step``)."""
    return key if "/" in key else f"train/{key}"


def flat_config(run_config: RunConfig) -> dict[str, Any]:
    """The resolved run config as flat ``section.key`` -> scalar (lists become strings)."""
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, (list, tuple)):
            out[prefix] = "[" + ", ".join(map(str, value)) + "]"
        else:
            out[prefix] = value

    walk("", run_config.to_dict())
    return out


@dataclasses.dataclass
class _Op:
    kind: str  # "call" | "metrics" | "image"
    fn: Callable[..., None] | None = None
    args: tuple[Any, ...] = ()
    records: list[tuple[int, dict[str, float], float]] = dataclasses.field(default_factory=list)

    @property
    def droppable(self) -> bool:
        return self.kind in ("metrics", "image")

    @property
    def size(self) -> int:
        return len(self.records) if self.kind == "metrics" else 1


class _Queue:
    """The logger's background thread and its bounded buffer (see the module docstring)."""

    def __init__(self, logger: ExperimentLogger, limit: int) -> None:
        self.logger = logger
        self.limit = max(1, limit)
        self.ops: collections.deque[_Op] = collections.deque()
        self.cv = threading.Condition()
        self.busy = False
        self.flushing = False
        self.stopped = False
        self.off = False
        self.failing = False
        self.pending_records = 0
        self.pending_images = 0
        self.thread = threading.Thread(target=self._loop, name=f"i2i-{logger.name}", daemon=True)
        self.thread.start()

    # -- main thread -------------------------------------------------------------------------
    def put(self, op: _Op) -> None:
        with self.cv:
            if self.off or self.stopped:
                self.logger.dropped += op.size if op.droppable else 0
                return
            last = self.ops[-1] if self.ops else None
            in_flight = self.busy and len(self.ops) == 1
            if (
                op.kind == "metrics"
                and last is not None
                and last.kind == "metrics"
                and len(last.records) < MAX_BATCH
                and not in_flight
            ):
                last.records.extend(op.records)  # one call for many steps when it is behind
            else:
                self.ops.append(op)
            self._account(op, +1)
            self._trim()
            self.cv.notify()

    def _account(self, op: _Op, sign: int) -> None:
        if op.kind == "metrics":
            self.pending_records += sign * len(op.records)
        elif op.kind == "image":
            self.pending_images += sign

    def _trim(self) -> None:
        """Drop the oldest metric records / grids beyond the limits (never the one in flight)."""
        start = 1 if self.busy else 0
        while self.pending_records > self.limit:
            op = next((o for o in list(self.ops)[start:] if o.kind == "metrics"), None)
            if op is None:
                break
            op.records.pop(0)
            self.pending_records -= 1
            self.logger.dropped += 1
            if not op.records:
                self.ops.remove(op)
        while self.pending_images > MAX_IMAGES:
            op = next((o for o in list(self.ops)[start:] if o.kind == "image"), None)
            if op is None:
                break
            self.ops.remove(op)
            self.pending_images -= 1
            self.logger.dropped += 1

    def wait_empty(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s until everything queued was handed to the tool."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self.cv:
            while (self.ops or self.busy) and not self.off:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cv.wait(left)
            return True

    def drain(self, timeout: float) -> int:
        """Wait up to ``timeout`` s for the buffer to empty, then stop; returns records dropped."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self.cv:
            self.flushing = True
            self.cv.notify_all()
            while (self.ops or self.busy) and not self.off:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cv.wait(left)
            dropped = sum(o.size for o in self.ops if o.droppable)
            self.logger.dropped += dropped
            self.ops.clear()
            self.pending_records = self.pending_images = 0
            self.stopped = True
            self.cv.notify_all()
            return dropped

    # -- logger thread -----------------------------------------------------------------------
    def _loop(self) -> None:
        attempt = 0
        while True:
            with self.cv:
                while not self.ops and not self.stopped:
                    self.cv.wait()
                if self.stopped and not self.ops:
                    return
                op = self.ops[0]
                self.busy = True  # from here on, put() and _trim() leave ops[0] alone
            try:
                done = self._run(op)
            except ConfigError as e:
                with self.cv:
                    self.busy = False
                    self.off = True
                    self.logger.dropped += sum(o.size for o in self.ops if o.droppable)
                    self.ops.clear()
                    self.pending_records = self.pending_images = 0
                    self.cv.notify_all()
                self.logger._report_off(e)
                continue
            except Exception as e:  # noqa: BLE001 - any tool failure is buffered, never raised
                with self.cv:
                    self.busy = False
                    first = not self.failing
                    self.failing = True
                    self.cv.notify_all()
                    flushing = self.flushing
                    if flushing:
                        delay = FLUSH_RETRY_DELAY
                    else:
                        delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
                    attempt += 1
                    self.logger._report_failure(e, first)
                    # sleep, but wake at once to stop, or to retry now when the run ends
                    self.cv.wait_for(
                        lambda flushing=flushing: self.stopped or self.flushing != flushing,
                        timeout=delay,
                    )
                continue
            with self.cv:
                self.busy = False
                if self.ops and self.ops[0] is op:  # (drain() may have given up meanwhile)
                    self.ops.popleft()
                    self._account(op, -1)
                self.logger.sent += done
                if self.failing:  # the first success after an outage: say so once
                    self.failing = False
                    attempt = 0
                    self.logger._report_recovered(done + self.pending_records + self.pending_images)
                self.cv.notify_all()

    def _run(self, op: _Op) -> int:
        """Hand one queued item to the tool; returns the records it sent."""
        if op.kind == "metrics":
            fresh = [r for r in op.records if r[0] > self.logger.skip_until]
            if fresh:
                self.logger.log_metrics(fresh)
                self.logger.state["last_step"] = max(
                    int(self.logger.state.get("last_step", 0)), max(r[0] for r in fresh)
                )
            return len(fresh)
        if op.kind == "image" and op.args[0] <= self.logger.skip_until:
            return 0
        assert op.fn is not None
        op.fn(*op.args)
        return 1 if op.kind == "image" else 0


class ExperimentLogger:
    """Base class of an experiment logger (``--log NAME``), registered with
    ``i2i_register_loggers``.

    The tracking session makes one instance per run on rank 0, registers it as an observer
    plugin for the run and calls :meth:`start`; the hook implementations of this class queue
    the records, and the methods a subclass implements run on the logger's own thread (see the
    module docstring for what happens when they raise).

    Class attributes:
        name: The registry name (``--log NAME``).
        requires: Importable modules the tool needs (checked before the run starts).
        extra: The i2i extra that installs them (``pip install 'i2i[EXTRA]'``).
        has_artifacts: Whether :meth:`log_artifact` uploads files (MLflow, W&B).

    Attributes:
        run: The run (its config, folder, start step).
        settings: ``train.tracking`` of the run.
        state: What is recorded for this logger in ``RUN/tracking.json`` (ids, folders); set
            the keys you need to continue the same tracked run on resume in :meth:`open`.
        attached: True when the logger was opened for a finished run (``i2i eval``/``export``)
            rather than for training: do not change the tracked run's status or start step.
        skip_until: Metrics and grids of steps up to this one are not sent (set it in
            :meth:`open` to what the tool already holds when a run resumes).
    """

    name: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str] = ""
    has_artifacts: ClassVar[bool] = False

    def __init__(
        self,
        run: RunInfo,
        state: Mapping[str, Any] | None = None,
        *,
        attached: bool = False,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.run = run
        self.settings: TrackingConfig = run.config.train.tracking
        self.state: dict[str, Any] = dict(state or {})
        self.attached = attached
        self.skip_until = 0
        self.sent = 0
        self.dropped = 0
        self.errors = 0
        self.last_error = ""
        self.status: str | None = None
        self._on_change = on_change or (lambda: None)
        self._checkpoint: Path | None = None
        self._ended = False
        self._queue: _Queue | None = None

    # -- checks before the run (every rank) ----------------------------------------------------
    @classmethod
    def check(cls, run_config: RunConfig) -> None:
        """Raise :class:`~i2i.errors.ConfigError` (one line, naming the fix) when the tool's
        library is missing or the run's settings cannot work. Called on every rank before
        training starts; must not touch the network. Extend it for settings checks."""
        missing = [m for m in cls.requires if importlib.util.find_spec(m) is None]
        if missing:
            raise ConfigError(
                f"--log {cls.name} needs the {' and '.join(missing)} package; install it with "
                f"pip install 'i2i[{cls.extra or cls.name}]'"
            )

    # -- the tool's side (the logger's thread) -------------------------------------------------
    def open(self) -> None:
        """Start the tracked run, or continue the one recorded in :attr:`state`."""

    def log_params(self, params: dict[str, Any], config_toml: str) -> None:
        """The resolved config: flat ``section.key`` -> value, and the ``config.toml`` text."""

    def log_metrics(self, records: list[tuple[int, dict[str, float], float]]) -> None:
        """Scalars: ``(step, {name: value}, unix time)`` records, oldest first."""

    def log_image(self, step: int, key: str, image: np.ndarray) -> None:
        """A picture (``H x W x 3`` uint8) at ``step`` under ``key`` (``samples``)."""

    def log_evaluation(self, step: int, metrics: dict[str, float], out_dir: Path | None) -> None:
        """Evaluation results; the default logs them as ``eval/NAME`` scalars at ``step``."""
        now = time.time()
        self.log_metrics([(step, {f"eval/{k}": v for k, v in metrics.items()}, now)])

    def log_artifact(self, path: Path, kind: str, step: int) -> None:
        """Upload a file or folder: ``kind`` is ``model`` (the final weights file),
        ``checkpoint`` (the final checkpoint folder) or ``onnx``. Tools without artifacts
        ignore it."""

    def close(self, status: str | None) -> None:
        """End the tracked run with ``status`` (``completed``, ``interrupted``, ``failed``), or
        only release it when ``status`` is None (an attached logger)."""

    def describe(self) -> str:
        """One line saying where the records went (for the log and the results page)."""
        return ""

    # -- driven by the tracking session (main thread) ------------------------------------------
    def start(self) -> None:
        """Start the logger's thread and queue :meth:`open`."""
        self._queue = _Queue(self, self.settings.buffer)
        if not self.attached:
            self.status = "running"
        self._call(self._open)

    def end(self, status: str | None) -> None:
        """Queue the final artifact (training) and :meth:`close`; idempotent."""
        if self._ended:
            return
        self._ended = True
        self.status = status
        kind = self.settings.artifacts
        if status is not None and self.has_artifacts and kind != "none":
            ckpt = self._checkpoint or _latest_checkpoint(self.run.run_dir)
            if ckpt is not None:
                self._call(self.log_artifact, ckpt, kind, self.run_step(ckpt))
        self._call(self._close, status)

    def flush(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until every record queued so far reached the tool;
        returns whether it did. The logger keeps running."""
        return self._queue.wait_empty(timeout) if self._queue is not None else True

    def drain(self, timeout: float) -> int:
        """Wait for the queue to empty (at most ``timeout`` s), then stop the logger's thread;
        returns the records dropped."""
        return self._queue.drain(timeout) if self._queue is not None else 0

    @property
    def ended(self) -> bool:
        return self._ended

    def run_step(self, ckpt: Path) -> int:
        try:
            return int(ckpt.name.rsplit("_", 1)[-1])
        except ValueError:
            return self.run.start_step

    def _open(self) -> None:
        self.open()
        self._on_change()

    def _close(self, status: str | None) -> None:
        self.close(status)
        self._on_change()

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        if self._queue is not None:
            self._queue.put(_Op("call", fn, args))

    def _mine(self, run: RunInfo) -> bool:
        return self._queue is not None and not self._ended and run.run_dir == self.run.run_dir

    # -- failure reports (the logger's thread) -------------------------------------------------
    def _report_failure(self, e: BaseException, first: bool) -> None:
        self.errors += 1
        self.last_error = _one_line(e)
        if first:
            log.warning(
                "%s: tracking failed (%s); training goes on and its records are buffered "
                "(up to %d) and retried",
                self.name,
                self.last_error,
                self.settings.buffer,
            )
        else:
            log.debug("%s: still failing: %s", self.name, self.last_error)

    def _report_recovered(self, backlog: int) -> None:
        log.warning(
            "%s: tracking works again; sending the %d buffered record(s)", self.name, backlog
        )

    def _report_off(self, e: ConfigError) -> None:
        self.errors += 1
        self.last_error = _one_line(e)
        log.warning(
            "%s: %s; this logger is off for the rest of the run, training goes on",
            self.name,
            self.last_error,
        )
        self._on_change()

    # -- hooks (main thread) -------------------------------------------------------------------
    @hookimpl
    def i2i_train_start(self, run: RunInfo) -> None:
        if self._mine(run):
            self._call(self.log_params, flat_config(run.config), run.config.to_toml())

    @hookimpl
    def i2i_train_step_end(self, run: RunInfo, step: int, logs: dict[str, float]) -> None:
        if not self._mine(run):
            return
        values = {
            metric_key(k): float(v)
            for k, v in logs.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        }
        assert self._queue is not None
        self._queue.put(_Op("metrics", records=[(step, values, time.time())]))

    @hookimpl
    def i2i_samples_saved(self, run: RunInfo, step: int, path: Path, grid: np.ndarray) -> None:
        if self._mine(run):
            assert self._queue is not None
            self._queue.put(_Op("image", self.log_image, (step, "samples", grid)))

    @hookimpl
    def i2i_checkpoint_saved(self, run: RunInfo, path: Path, step: int) -> None:
        if self._mine(run):
            self._checkpoint = Path(path)

    @hookimpl
    def i2i_evaluation_done(
        self, run: RunInfo, step: int, metrics: dict[str, float], out_dir: Path | None
    ) -> None:
        if self._mine(run) and metrics:
            self._call(self.log_evaluation, step, dict(metrics), out_dir)

    @hookimpl
    def i2i_artifact_saved(self, run: RunInfo, path: Path, kind: str, step: int) -> None:
        if self._mine(run) and self.has_artifacts:
            self._call(self.log_artifact, Path(path), kind, step)

    @hookimpl
    def i2i_train_end(self, run: RunInfo, step: int, status: str) -> None:
        if self._mine(run):
            self.end(status)

    # -- what RUN/tracking.json records ----------------------------------------------------
    def record(self) -> dict[str, Any]:
        """:attr:`state` plus the health counters, for ``RUN/tracking.json``."""
        out = dict(self.state)
        out.update(
            {
                "where": self.describe(),
                "status": self.status or out.get("status", ""),
                "sent": self.sent,
                "dropped": self.dropped,
                "errors": self.errors,
                "last_error": self.last_error,
            }
        )
        if self.attached:  # an attached logger does not own the run's status or counters
            for k in ("status", "sent", "dropped", "errors", "last_error"):
                out.pop(k)
        return out


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {text}"[:300] if text else type(e).__name__


def _latest_checkpoint(run_dir: Path) -> Path | None:
    from i2i.training.checkpoint import list_checkpoints

    found = list_checkpoints(run_dir / "checkpoints")
    return found[-1] if found else None


__all__ = ["ExperimentLogger", "flat_config", "metric_key", "to_dict"]
