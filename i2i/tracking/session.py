"""The experiment loggers of one run: chosen by ``train.loggers``, alive for the run, and
recorded in ``RUN/tracking.json`` so that a resumed run (and ``i2i eval``/``i2i export`` on the
run later) continues the same tracked run.

The trainer opens a :class:`TrackingSession` around training; commands that add results to a
finished run use :func:`attached`. Only rank 0 of a distributed run makes loggers; every rank
checks that the selected ones are installed, so a missing library stops all ranks alike before
training starts.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from i2i.errors import ConfigError, I2IError
from i2i.hookspecs import hookimpl
from i2i.tracking.base import ExperimentLogger

if TYPE_CHECKING:  # pragma: no cover
    from i2i.manager import Context
    from i2i.training.run import RunConfig, RunInfo

log = logging.getLogger("i2i.tracking")

#: Where a run records its tracked runs (ids, folders, health), one entry per logger name.
TRACKING_FILE = "tracking.json"


def read_tracking(run_dir: Path) -> dict[str, dict[str, Any]]:
    """``RUN/tracking.json`` as a dict (empty when missing or damaged)."""
    path = Path(run_dir) / TRACKING_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        log.warning("ignoring %s (%s); tracked runs start afresh", path, e)
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def check_loggers(
    ctx: Context, run_config: RunConfig, *, strict: bool = True
) -> list[type[ExperimentLogger]]:
    """The logger classes of ``run_config.train.loggers``, each checked (library installed,
    settings usable; no network).

    Raises:
        UnknownNameError: a name is not a registered logger (the message lists them).
        ConfigError: a logger cannot work (only with ``strict``; else it is left out with a
            warning).
    """
    classes: list[type[ExperimentLogger]] = []
    for name in dict.fromkeys(run_config.train.loggers):
        try:
            cls = ctx.loggers.get(name)
            cls.check(run_config)
        except I2IError as e:
            if strict:
                raise
            log.warning("%s: not logged (%s)", name, e)
            continue
        classes.append(cls)
    return classes


class TrackingSession:
    """The loggers of one run, registered as observer plugins while it lasts.

    Use it as a context manager around training: leaving it because of an exception ends the
    tracked runs as ``failed`` (``interrupted`` for ``KeyboardInterrupt``) so none is left
    "running". Normally the ``i2i_train_end`` hook ends them.

    Example:
        >>> with TrackingSession(ctx) as session:  # doctest: +SKIP
        ...     session.start(run_info)
        ...     ...  # the trainer calls the observer hooks
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.run: RunInfo | None = None
        self.loggers: list[ExperimentLogger] = []
        self.attached = False
        self._lock = threading.Lock()
        self._registered: list[Any] = []
        self._finished = False

    def __enter__(self) -> TrackingSession:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.finish(None)
        else:
            self.finish("interrupted" if issubclass(exc_type, KeyboardInterrupt) else "failed")

    def start(self, run: RunInfo, *, attached: bool = False) -> None:
        """Check the loggers of ``run.config.train.loggers`` and, on rank 0, start them.

        Raises:
            UnknownNameError: a name is not a registered logger (the message lists them).
            ConfigError: a logger's library is missing or its settings cannot work (training
                only; an attached session warns and goes on without that logger).
        """
        classes = check_loggers(self.ctx, run.config, strict=not attached)
        if not classes or not run.is_main:
            return
        self.run, self.attached = run, attached
        state = read_tracking(run.run_dir)
        self._register(self, "session")
        for cls in classes:
            logger = cls(run, state.get(cls.name), attached=attached, on_change=self.save)
            self.loggers.append(logger)
            self._register(logger, cls.name)
        for logger in self.loggers:
            logger.start()
        self.save()

    def _register(self, plugin: Any, name: str) -> None:
        self.ctx.pm.register(plugin, name=f"i2i-tracking-{name}-{id(self):x}")
        self._registered.append(plugin)

    def finish(self, status: str | None) -> None:
        """End every logger (``status`` None: only release them), wait up to
        ``train.tracking.flush_timeout`` s for their buffers, record and unregister them."""
        if self._finished:
            return
        self._finished = True
        try:
            if not self.loggers or self.run is None:
                return
            for logger in self.loggers:
                logger.end(None if self.attached else status)
            deadline = time.monotonic() + self.run.config.train.tracking.flush_timeout
            for logger in self.loggers:
                dropped = logger.drain(deadline - time.monotonic())
                if dropped:
                    log.warning(
                        "%s: %d record(s) could not be sent within %g s and were dropped",
                        logger.name,
                        dropped,
                        self.run.config.train.tracking.flush_timeout,
                    )
                where = logger.describe()
                if where and not self.attached:
                    log.info("%s: %s", logger.name, where)
            self.save()
        finally:
            for plugin in self._registered:
                if self.ctx.pm.is_registered(plugin):
                    self.ctx.pm.unregister(plugin)
            self._registered.clear()

    def save(self) -> None:
        """Write ``RUN/tracking.json`` (entries of loggers not in this session are kept)."""
        if self.run is None or not self.run.is_main:
            return
        from i2i.files import atomic_write_text

        with self._lock:
            data = read_tracking(self.run.run_dir)
            for logger in self.loggers:
                data[logger.name] = {**data.get(logger.name, {}), **logger.record()}
            try:
                atomic_write_text(self.run.run_dir / TRACKING_FILE, json.dumps(data, indent=1))
            except OSError as e:  # the record is a convenience: never fail a run for it
                log.warning("could not write %s: %s", self.run.run_dir / TRACKING_FILE, e)

    # -- hooks ---------------------------------------------------------------------------------
    @hookimpl
    def i2i_checkpoint_saved(self, run: RunInfo) -> None:
        if run is self.run:
            self.save()

    @hookimpl
    def i2i_train_end(self, run: RunInfo, status: str) -> None:
        # pluggy calls later-registered plugins first: the loggers (registered after this
        # session) have queued their last records; the results page (trylast) comes after
        if run is self.run:
            self.finish(status)


def run_dir_of(source: str | Path) -> Path | None:
    """The run folder that a run, checkpoint folder or weights file belongs to (it holds
    ``config.toml``), or None."""
    p = Path(source)
    if p.is_file():
        p = p.parent
    for cand in (p, p.parent.parent if p.parent.name == "checkpoints" else None):
        if cand is not None and (cand / "config.toml").is_file():
            return cand
    return None


def run_from_dir(ctx: Context, run_dir: Path, step: int) -> RunInfo | None:
    """A :class:`~i2i.training.run.RunInfo` rebuilt from a run folder (for hooks called
    after training), or None when the folder holds no readable run config."""
    from i2i.training.run import RunInfo, load_run_config_file, run_config_from_dict

    try:
        config = run_config_from_dict(ctx, load_run_config_file(run_dir))
    except (I2IError, OSError) as e:
        log.debug("%s is not a readable run folder: %s", run_dir, e)
        return None
    total = step
    with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
        total = int(json.loads((run_dir / "status.json").read_text()).get("total_steps", step))
    return RunInfo(run_dir=run_dir, config=config, total_steps=total, start_step=step)


@contextlib.contextmanager
def attached(ctx: Context, source: str | Path, step: int) -> Iterator[RunInfo | None]:
    """Open the run that ``source`` belongs to for hooks after training (``i2i eval``,
    ``i2i export``): yields its :class:`~i2i.training.run.RunInfo` (None when ``source`` is not
    in a run folder) with the run's loggers attached to its tracked runs.

    Example:
        >>> with attached(ctx, "runs/x", step=1000) as run:  # doctest: +SKIP
        ...     if run is not None:
        ...         ctx.hook.i2i_evaluation_done(run=run, step=1000, metrics=m, out_dir=None)
    """
    run_dir = run_dir_of(source)
    run = run_from_dir(ctx, run_dir, step) if run_dir is not None else None
    session = TrackingSession(ctx)
    if run is not None:
        try:
            session.start(run, attached=True)
        except ConfigError as e:  # pragma: no cover - start() warns per logger already
            log.warning("experiment loggers not attached: %s", e)
    try:
        yield run
    finally:
        session.finish(None)
