"""Request batching for the server: one inference thread, a bounded queue, a latency budget.

Engines are not thread-safe, so every model call happens in the batcher's own thread. A request
becomes a :class:`Job` (its arrays, already decoded, and a future). The thread takes the oldest
job, then waits at most ``max_delay_s`` from that job's arrival for more jobs with the same
*key* (same input kind and shapes, which can be stacked), up to ``max_batch`` images; it runs
them as one batch and hands every job its rows. Jobs with another key wait for the next round
in arrival order, so no request is starved.

At most ``queue_size`` jobs wait; :meth:`Batcher.submit` refuses more with :class:`QueueFull`
(the server answers 503). :meth:`Batcher.close` lets the waiting jobs finish, then stops the
thread.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


class QueueFull(Exception):
    """The batcher's queue holds ``queue_size`` jobs already."""


class Closed(Exception):
    """The batcher is shutting down and takes no new jobs."""


@dataclasses.dataclass
class Job:
    """One request's inputs.

    Attributes:
        key: Jobs with equal keys can be stacked into one batch (e.g. kind and shapes).
        arrays: The model inputs, each with the job's rows first (``N x ...``).
        done: Called once, from the batcher thread, with the job's output rows or an exception.
        arrived: ``time.perf_counter()`` when the job was submitted.
    """

    key: Hashable
    arrays: Sequence[np.ndarray]
    done: Callable[[np.ndarray | None, BaseException | None], None]
    arrived: float = dataclasses.field(default_factory=time.perf_counter)

    @property
    def rows(self) -> int:
        return int(self.arrays[0].shape[0])


class Batcher:
    """Runs ``run(key, *stacked_arrays) -> stacked_outputs`` for batches of jobs in one thread.

    Args:
        run: The model call for one batch; the output has one row per input row.
        max_batch: Most rows per batch (1 = no batching).
        max_delay_s: Latency budget: how long the oldest job may wait for others to join it.
        queue_size: Most jobs waiting; more are refused with :class:`QueueFull`.
        on_batch: Called with ``(rows, seconds)`` after every batch (metrics).
    """

    def __init__(
        self,
        run: Callable[..., np.ndarray],
        *,
        max_batch: int = 8,
        max_delay_s: float = 0.005,
        queue_size: int = 64,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        if max_batch < 1 or queue_size < 1 or max_delay_s < 0:
            raise ValueError("max_batch and queue_size must be >= 1, max_delay_s >= 0")
        self._run = run
        self.max_batch = max_batch
        self.max_delay_s = max_delay_s
        self.queue_size = queue_size
        self._on_batch = on_batch
        self._jobs: collections.deque[Job] = collections.deque()
        self._cond = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._loop, name="i2i-batcher", daemon=True)
        self._thread.start()

    @property
    def depth(self) -> int:
        """Jobs waiting (not yet in a running batch)."""
        return len(self._jobs)

    def submit(self, job: Job) -> None:
        """Queue a job.

        Raises:
            QueueFull: ``queue_size`` jobs are waiting.
            Closed: the batcher is shutting down.
        """
        with self._cond:
            if self._closing:
                raise Closed("the server is shutting down")
            if len(self._jobs) >= self.queue_size:
                raise QueueFull(f"{len(self._jobs)} requests are queued (limit {self.queue_size})")
            self._jobs.append(job)
            self._cond.notify_all()

    def close(self, timeout: float = 30.0) -> None:
        """Take no new jobs, finish the waiting ones, stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)

    # -- the inference thread ------------------------------------------------------------------

    def _take_batch(self) -> list[Job] | None:
        with self._cond:
            while not self._jobs:
                if self._closing:
                    return None
                self._cond.wait()
            first = self._jobs[0]
            deadline = first.arrived + self.max_delay_s
            while True:
                batch = self._matching(first)
                rows = sum(j.rows for j in batch)
                left = deadline - time.perf_counter()
                if rows >= self.max_batch or left <= 0 or self._closing:
                    break
                self._cond.wait(left)
            for j in batch:
                self._jobs.remove(j)
            return batch

    def _matching(self, first: Job) -> list[Job]:
        batch, rows = [], 0
        for j in self._jobs:
            if j.key == first.key and (not batch or rows + j.rows <= self.max_batch):
                batch.append(j)
                rows += j.rows
        return batch

    def _loop(self) -> None:
        while (batch := self._take_batch()) is not None:
            t0 = time.perf_counter()
            try:
                stacked = [
                    np.concatenate([j.arrays[i] for j in batch]) if len(batch) > 1 else a
                    for i, a in enumerate(batch[0].arrays)
                ]
                out = self._run(batch[0].key, *stacked)
            except Exception as e:  # noqa: BLE001 - every job of the batch gets the error
                if len(batch) > 1:  # e.g. out of memory for the batch: each job on its own
                    for j in batch:
                        self._run_single(j)
                else:
                    _finish(batch[0], None, e)
                continue
            finally:
                if self._on_batch is not None:
                    self._on_batch(sum(j.rows for j in batch), time.perf_counter() - t0)
            start = 0
            for j in batch:
                _finish(j, out[start : start + j.rows], None)
                start += j.rows

    def _run_single(self, job: Job) -> None:
        try:
            out: Any = self._run(job.key, *job.arrays)
        except Exception as e:  # noqa: BLE001
            _finish(job, None, e)
            return
        _finish(job, out, None)


def _finish(job: Job, out: np.ndarray | None, err: BaseException | None) -> None:
    """Hand a job its result; a failing callback (e.g. its event loop is gone) must not stop
    the inference thread."""
    try:
        job.done(out, err)
    except Exception:  # noqa: BLE001
        log.exception("could not deliver a result")
