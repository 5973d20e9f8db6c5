"""Stop signals during training: what SIGINT / SIGTERM do, and DataLoader workers that survive
them.

Semantics (documented in docs/reliability.md):

- The first SIGINT, SIGTERM or SIGHUP asks for a stop: the step in progress finishes, a
  checkpoint of it is written, ``status.json`` says ``interrupted`` and ``i2i train`` exits with
  128 + the signal (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP).
- A second SIGINT (Ctrl-C twice) abandons the step in progress at once: its partial update is
  thrown away, never saved; if the trainer was between steps the last completed step is still
  saved. It never abandons a checkpoint that is being written. Other repeated signals (torchrun
  forwarding the SIGTERM a scheduler sent) are ignored. In a distributed run the step always
  finishes on every rank (the other ranks would otherwise wait in a collective).
- DataLoader workers ignore these signals: a scheduler that signals the whole process group
  (SLURM's ``scancel``, systemd, ``kill -TERM -- -PGID``) stops the trainer, not its data
  pipeline under it. A worker that dies anyway (the kernel's out-of-memory killer) is reported
  at the next step boundary, never in the middle of a step, so the state saved is consistent.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

from i2i.errors import signal_name

log = logging.getLogger(__name__)

#: Signals that stop a run gracefully (SIGHUP: the terminal closed).
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def worker_init(_worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: the worker ignores stop signals (the trainer stops it)."""
    for s in STOP_SIGNALS:
        signal.signal(s, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):  # forked while the trainer blocked them
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


class StopSignals:
    """The trainer's signal handlers for one session (a context manager, main thread only).

    Attributes:
        signum: The first stop signal received (None: none yet).
        hard: A second SIGINT abandoned the step in progress.
        protected: Set while a checkpoint is written: a second SIGINT does not interrupt it.
        in_step: Set by the trainer while a step changes the model (an interruption then leaves
            a state that must not be saved).
    """

    def __init__(self, on_stop: Callable[[str], None], distributed: bool = False) -> None:
        self.on_stop = on_stop
        self.distributed = distributed
        self.signum: int | None = None
        self.sigints = 0
        self.hard = False
        self.protected = False
        self.in_step = False
        self._active = False
        self._old: dict[int, Any] = {}
        self._child_exited = False
        self._torch_sigchld: Any = None

    # -- handlers ----------------------------------------------------------------------------
    def _handler(self, signum: int, _frame: Any) -> None:
        name = signal_name(signum)
        if signum == signal.SIGINT:
            self.sigints += 1
        if self.signum is None:
            self.signum = signum
            self.on_stop(f"received {name}")
            log.warning(
                "%s received: finishing this step, then saving a checkpoint%s",
                name,
                "" if self.distributed else " (Ctrl-C again: stop now, without this step)",
            )
            return
        if signum != signal.SIGINT or self.sigints < 2 or self.hard:
            return  # repeated SIGTERM (torchrun forwards the one the scheduler sent): no-op
        if self.distributed:
            log.warning("SIGINT again: a distributed step finishes on every rank first")
            return
        if self.protected:
            log.warning("SIGINT again: a checkpoint is being written; it will be complete")
            return
        self.hard = True
        raise KeyboardInterrupt

    def _sigchld(self, _signum: int, _frame: Any) -> None:
        self._child_exited = True  # looked at between steps: check_workers()

    # -- DataLoader workers ------------------------------------------------------------------
    @contextlib.contextmanager
    def starting_workers(self) -> Iterator[None]:
        """Block stop signals while DataLoader workers are forked (they inherit the mask and
        unblock it after ignoring the signals, :func:`worker_init`); then defer torch's
        worker-failure check (SIGCHLD) to step boundaries."""
        blockable = hasattr(signal, "pthread_sigmask") and self._active
        if blockable:
            signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            yield
        finally:
            if blockable:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        if self._active and hasattr(signal, "SIGCHLD") and self._torch_sigchld is None:
            current = signal.getsignal(signal.SIGCHLD)
            if callable(current):  # torch's handler raises in the middle of whatever runs
                self._torch_sigchld = current
                signal.signal(signal.SIGCHLD, self._sigchld)

    def check_workers(self) -> None:
        """Between steps: raise torch's error if a DataLoader worker died since the last call."""
        if self._child_exited and self._torch_sigchld is not None:
            self._child_exited = False
            self._torch_sigchld(signal.SIGCHLD, None)

    # -- context -----------------------------------------------------------------------------
    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for s in STOP_SIGNALS:
                self._old[s] = signal.signal(s, self._handler)
            self._active = True
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._active:
            return
        for s, h in self._old.items():
            signal.signal(s, h)
        if self._torch_sigchld is not None:
            signal.signal(signal.SIGCHLD, self._torch_sigchld)
        self._active = False
