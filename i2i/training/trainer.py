"""The generic trainer: one loop for every model family.

The trainer owns optimizers, AMP and gradient scaling, LR schedules, checkpoints, sample grids,
logging (through observer hooks), signals and resume. A family only provides a
:class:`~i2i.model.GANModel`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from i2i.errors import (
    CheckpointError,
    ConfigError,
    I2IError,
    NonFiniteLossError,
    NonFiniteStateError,
    add_note,
    describe_failure,
    one_line,
    signal_name,
)
from i2i.manager import Context
from i2i.model import GANModel
from i2i.tracking.session import TrackingSession, check_loggers
from i2i.training import distributed, runtime
from i2i.training.building import build_model
from i2i.training.checkpoint import (
    CheckpointHeader,
    checkpoint_name,
    list_checkpoints,
    read_header,
    remove_stale_temporaries,
    save_checkpoint,
)
from i2i.training.guards import DivergenceMonitor, is_too_small, too_small_error
from i2i.training.resume import restore
from i2i.training.run import (
    RunConfig,
    RunInfo,
    data_options,
    lock_run,
    write_status_file,
    write_text_atomic,
)
from i2i.training.sampler import ResumableBatchSampler
from i2i.training.signals import StopSignals, worker_init
from i2i.training.step import TrainStep

__all__ = ["Trainer", "TrainStep", "data_options", "lr_factor"]

log = logging.getLogger(__name__)


def lr_factor(kind: str, decay_start: float, step: int, total: int) -> float:
    """LR multiplier at ``step`` of ``total``.

    ``linear_decay`` keeps the LR constant for the first ``decay_start`` fraction of the run,
    then decays it linearly to zero at the end (the CycleGAN/Pix2Pix recipe, in steps).

    Raises:
        ConfigError: unknown schedule kind.
    """
    if kind == "constant":
        return 1.0
    if kind == "linear_decay":
        start = int(round(decay_start * total))
        if step < start or total <= start:
            return 1.0
        return max(0.0, 1.0 - (step - start) / float(total - start))
    raise ConfigError(f"unknown schedule kind '{kind}'; use constant or linear_decay")


class Trainer:
    """Train one model family on one dataset into a run directory.

    Args:
        ctx: Plugin context (registries and hooks).
        run_config: The resolved run config.
        run_dir: Where config, checkpoints, samples, metrics and the results page go.
        resume: Continue from the latest checkpoint in ``run_dir``.

    Under torchrun (``WORLD_SIZE`` > 1) the trainer joins the process group, shards the data,
    wraps the networks in DDP and lets only rank 0 write files (see
    :mod:`i2i.training.distributed`).

    What a run guarantees when it is stopped or fails (signals, checkpoints, ``status.json``)
    is described in docs/reliability.md.

    Example:
        >>> trainer = Trainer(ctx, run_config, Path("runs/x"))  # doctest: +SKIP
        >>> trainer.fit()  # doctest: +SKIP
    """

    def __init__(
        self,
        ctx: Context,
        run_config: RunConfig,
        run_dir: str | Path,
        *,
        resume: bool = False,
    ) -> None:
        self.ctx = ctx
        self.cfg = run_config
        self.run_dir = Path(run_dir)
        self.resume = resume
        self.spec = ctx.models.get(run_config.family)
        t = run_config.train
        self.format = ctx.dataset_formats.get(t.format or self.spec.dataset_format)
        missing = [k for k in self.spec.batch_keys if k not in self.format.keys]
        if missing:
            raise ConfigError(
                f"dataset format '{self.format.name}' gives batch keys "
                f"{', '.join(self.format.keys)}, but '{self.spec.name}' needs "
                f"{', '.join(self.spec.batch_keys)}; choose another --format"
            )
        check_loggers(ctx, run_config)  # --log names and libraries, before any work
        self.dist, self.device = distributed.setup(t.device)
        self.rank, self.world_size = self.dist.rank, self.dist.world_size
        self.ddp: distributed.DDPModel | None = None
        self.amp_dtype = runtime.check_precision(t.precision, self.device)
        self.model: GANModel | None = None
        self.step = 0
        self.info: RunInfo | None = None
        self.tracking: TrackingSession | None = None
        self._signals: StopSignals | None = None
        self._last_saved: int | None = None  # step of the newest checkpoint of this run
        self._save_failed = False
        self._started = False  # i2i_train_start was called
        self._held = contextlib.ExitStack()  # the run directory's lock

    # -- setup -------------------------------------------------------------------------------
    def _build_data(self) -> Any:
        options = data_options(self.spec, self.cfg, self.ctx)
        root = Path(self.cfg.data)
        report = self.format.validate(root, options)
        log.info("dataset %s: %s", root, report.counts)
        for problem in report.problems:  # what validation found but training works around
            log.warning("dataset %s: %s", root, problem)
        if self.spec.adapt_config is not None:  # e.g. the class count comes from the data
            model_cfg = self.spec.adapt_config(self.cfg.model, report)
            self.cfg = dataclasses.replace(self.cfg, model=model_cfg)
        return self.format.build(root, options)

    def _loader(self, dataset: Any, start_step: int) -> Iterator[Mapping[str, Any]]:
        t = self.cfg.train
        sampler = ResumableBatchSampler(
            len(dataset), t.batch_size, t.seed, start_step, self.rank, self.world_size
        )
        loader = DataLoader(
            dataset,
            batch_sampler=sampler,
            num_workers=t.workers,
            pin_memory=self.device.type == "cuda" and t.pin_memory,
            worker_init_fn=worker_init if t.workers > 0 else None,
            prefetch_factor=2 if t.workers > 0 else None,
            # a private generator: creating the iterator must not consume the global RNG,
            # or a resumed run would diverge from an uninterrupted one
            generator=torch.Generator().manual_seed(t.seed * 7919 + start_step),
        )
        return iter(loader)

    def total_steps(self, n: int) -> tuple[int, int]:
        """(total steps, steps per epoch) from ``train.steps`` or ``train.epochs``."""
        from i2i.training.sampler import steps_per_epoch

        t = self.cfg.train
        spe = steps_per_epoch(n, t.batch_size, self.world_size)
        if t.steps > 0:
            return t.steps, spe
        if t.epochs > 0:
            return t.epochs * spe, spe
        raise ConfigError("set train.steps or train.epochs (--steps N or --epochs N) above 0")

    def _check_out_dir(self) -> None:
        """Refuse an output folder that cannot be written before any work is done."""
        p = self.run_dir
        while not p.exists() and p != p.parent:
            p = p.parent
        if not p.is_dir():
            raise ConfigError(f"cannot make the run folder {self.run_dir}: {p} is a file")
        if not os.access(p, os.W_OK | os.X_OK):
            try:
                read_only = bool(os.statvfs(p).f_flag & os.ST_RDONLY)
            except (OSError, AttributeError):
                read_only = False
            why = "is on a read-only file system" if read_only else "is not writable"
            raise ConfigError(
                f"cannot write the run to {self.run_dir}: {p} {why}; choose another --out"
            )

    def _hold_run(self) -> None:
        """Lock the run directory (one trainer per run) and clear what crashed saves left."""
        if not self.dist.is_main or not self.run_dir.is_dir():
            return
        self._held.enter_context(lock_run(self.run_dir))
        removed = remove_stale_temporaries(self.run_dir / "checkpoints")
        if removed:
            log.info("removed what an interrupted save left behind: %s", ", ".join(removed))

    def _resume_header(self) -> CheckpointHeader:
        header = read_header(self.run_dir)
        if header.family != self.cfg.family:
            raise CheckpointError(
                f"{header.path} is a '{header.family}' checkpoint, not '{self.cfg.family}'"
            )
        return header

    # -- main loop ---------------------------------------------------------------------------
    def fit(self) -> RunInfo:
        """Run training to the end (or until stopped). Returns the run info.

        A stop signal or request ends the run after the current step with a checkpoint and
        ``info.status == "interrupted"`` (no exception). A failure is recorded in
        ``status.json`` (once the run directory holds a run) and re-raised with a note saying
        which checkpoint holds the progress.

        The experiment loggers of ``train.loggers`` observe the run (rank 0); an exception
        that ends training ends their tracked runs as failed. With ``train.eval_every`` the
        family's evaluation runs on every N-th step's checkpoint
        (:mod:`i2i.training.periodic_eval`) and reaches the loggers through
        ``i2i_evaluation_done``.

        Raises:
            NonFiniteLossError: a loss became NaN/inf (the last, finite, checkpoint is kept).
            NonFiniteStateError: weights became NaN/inf (never saved).
            DatasetError: the dataset failed validation.
            CheckpointError: a checkpoint could not be read or written.
        """
        observer = None
        if self.cfg.train.eval_every > 0:
            from i2i.metrics.evaluation import EvalOptions
            from i2i.training.periodic_eval import PeriodicEvaluation

            opts = EvalOptions(save_images=False, max_images=self.cfg.train.eval_images)
            observer = PeriodicEvaluation(self.ctx, self.cfg.train.eval_every, opts)
            self.ctx.pm.register(observer, name="i2i-periodic-eval")
        try:
            with self._held, TrackingSession(self.ctx) as self.tracking:
                return self._fit()
        except BaseException as e:
            self._record_failure(e)
            raise
        finally:
            if observer is not None:
                self.ctx.pm.unregister(observer)

    def _fit(self) -> RunInfo:
        t = self.cfg.train
        if self.dist.is_main:
            self._check_out_dir()
            if (self.run_dir / "config.toml").is_file():
                self._hold_run()
        runtime.configure_torch(self.device, cudnn_benchmark=t.cudnn_benchmark)
        runtime.seed_everything(t.seed + self.rank)
        dataset = self._build_data()
        total, spe = self.total_steps(len(dataset))

        header = self._resume_header() if self.resume else None
        model = build_model(self.spec, self.cfg.model, self.ctx, header)
        if t.sync_bn and self.dist.enabled:
            if self.device.type != "cuda":
                raise ConfigError(
                    "--sync-bn needs GPUs (PyTorch's SyncBatchNorm runs on CUDA/nccl only); "
                    "drop it for CPU runs"
                )
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model = model.to(self.device)
        if t.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        stepper = TrainStep(model, self.device, self.amp_dtype, t.grad_clip, t.fused_optimizer)
        schedule = getattr(self.cfg.model, "schedule", None)
        kind = getattr(schedule, "kind", "constant")
        decay_start = getattr(schedule, "decay_start", 0.5)
        lr_factor(kind, decay_start, 0, total)  # validate the kind before training

        start, skipped = restore(stepper, header) if header is not None else (0, 0)
        if start > total:
            raise ConfigError(
                f"the checkpoint is at step {start}, beyond this run's length of {total} steps; "
                f"pass --steps {start + 1} or more to train further (the checkpoint is kept as "
                "it is)"
            )
        self._last_saved = start if header is not None else None
        if t.compile:
            for mods in stepper.modules.values():
                for m in mods:
                    m.compile()
        if self.dist.enabled:  # after restoring: DDP broadcasts rank 0's weights to every rank
            self.ddp = distributed.DDPModel(model, stepper.modules, self.device)
            stepper.group_context = self.ddp.only
        if start >= total:
            log.info("run already complete at step %d of %d", start, total)
        # once everything that can refuse the run has run: errors stay one line
        elif t.cpu_allocator_tuning and self.device.type == "cpu" and runtime.tune_cpu_allocator():
            log.info(
                "CPU allocator: freed memory is kept for reuse (no page-fault churn; "
                "--set train.cpu_allocator_tuning=false to turn off)"
            )
        self.step = start
        info = RunInfo(
            run_dir=self.run_dir,
            config=self.cfg,
            total_steps=total,
            start_step=start,
            steps_per_epoch=spe,
            rank=self.rank,
            world_size=self.world_size,
            skipped_images=skipped,
        )
        self.info = info
        if info.is_main:
            new = not (self.run_dir / "config.toml").is_file()
            self.run_dir.mkdir(parents=True, exist_ok=True)
            if new:
                self._hold_run()
            write_text_atomic(self.run_dir / "config.toml", self.cfg.to_toml())
            info.write_status("running", start)
        if self.tracking is not None:
            self.tracking.start(info)
        self.ctx.pm.hook.i2i_train_start(run=info)
        self._started = True
        return self._train(info, stepper, dataset, total, spe, kind, decay_start)

    def _train(
        self,
        info: RunInfo,
        stepper: TrainStep,
        dataset: Any,
        total: int,
        spe: int,
        kind: str,
        decay_start: float,
    ) -> RunInfo:
        t = self.cfg.train
        hook = self.ctx.pm.hook
        start = self.step
        monitor = DivergenceMonitor()
        sums: dict[str, float] = {}
        count = 0
        t0 = time.perf_counter()
        batch: dict[str, Any] | None = None
        failure: BaseException | None = None
        consistent = True  # the in-memory state is that of a completed step
        with StopSignals(info.request_stop, self.dist.enabled) as sig:
            self._signals = sig
            batches: Iterator[Mapping[str, Any]] | None = None
            try:
                with sig.starting_workers():
                    batches = self._loader(dataset, start)
                while self.step < total and not self._should_stop(info, sig):
                    stepper.set_lr_factor(lr_factor(kind, decay_start, self.step, total), self.step)
                    raw = self._next_batch(batches, sig)
                    skipped = int(raw.pop("skipped").sum()) if "skipped" in raw else 0
                    info.skipped_images += skipped
                    batch = self._to_device(raw)
                    sig.in_step = True
                    try:
                        terms = stepper(batch, self.step)
                    except ValueError as e:
                        if self.step == start and is_too_small(e):
                            raise too_small_error(e, stepper.model, batch, t.size) from e
                        raise
                    self.step += 1
                    sig.in_step = False
                    for k, v in terms.items():
                        sums[k] = sums.get(k, 0.0) + v
                    count += 1
                    if self.step % max(1, t.log_every) == 0 or self.step == total:
                        logs = {k: v / count for k, v in sums.items()}
                        logs = distributed.all_reduce_mean(logs, self.device)
                        info.warnings.extend(monitor.update(self.step, logs))
                        logs.update(stepper.lrs())
                        logs["sec_per_step"] = (time.perf_counter() - t0) / count
                        logs["images_per_sec"] = (
                            t.batch_size * self.world_size / max(logs["sec_per_step"], 1e-12)
                        )
                        logs["epoch"] = self.step / spe
                        logs["skipped_images"] = info.skipped_images
                        hook.i2i_train_step_end(run=info, step=self.step, logs=logs)
                        sums, count, t0 = {}, 0, time.perf_counter()
                    if info.is_main and t.sample_every > 0 and self.step % t.sample_every == 0:
                        self._save_samples(stepper, batch)
                    if (t.checkpoint_every > 0 and self.step % t.checkpoint_every == 0) or (
                        t.eval_every > 0 and self.step % t.eval_every == 0
                    ):
                        self._checkpoint(stepper, info)
            except KeyboardInterrupt:  # a second SIGINT: stop now
                consistent = not sig.in_step
                sig.hard = True
            except BaseException as e:  # noqa: BLE001 - recorded below, then re-raised
                failure, consistent = e, not sig.in_step
            finally:
                sig.protected = True  # finishing: a second SIGINT no longer interrupts
                batches = None  # stops the DataLoader workers while these handlers are active
            if failure is not None:
                self._save_after_failure(stepper, info, failure, consistent)
                if self.step > start or self._last_saved not in (None, start):
                    add_note(failure, self._saved_note())
                raise failure
            return self._finish(stepper, info, batch, consistent)

    def _finish(self, stepper: TrainStep, info: RunInfo, batch: Any, consistent: bool) -> RunInfo:
        """The end of a completed or stopped session: checkpoint, samples, status."""
        t = self.cfg.train
        sig = self._signals
        hard = sig is not None and sig.hard
        if hard:
            info.stop_signal = signal.SIGINT
            twice = sig is not None and sig.sigints >= 2
            info.stop_reason = "received SIGINT twice" if twice else "interrupted (Ctrl-C)"
        elif sig is not None and sig.signum is not None:
            info.stop_signal = info.stop_signal or sig.signum
        if consistent and (self._last_saved != self.step or not self._has_checkpoint()):
            self._checkpoint(stepper, info)
        if info.stop_reason is not None and self.step < info.total_steps:
            status = "interrupted"
            lost = f": step {self.step + 1} was abandoned" if hard and not consistent else ""
            then = (
                "continue with the same command plus --resume"
                if self._last_saved is not None
                else "nothing to resume: start the run again"
            )
            message = f"{info.stop_reason}{lost}; {self._saved_note()}; {then}"
        else:
            status, message = "completed", "; ".join(info.warnings)
            sampled = t.sample_every > 0 and self.step % t.sample_every == 0  # in the loop
            if info.is_main and batch is not None and not sampled:
                self._save_samples(stepper, batch)
        distributed.barrier()  # every rank leaves after rank 0's final checkpoint exists
        info.write_status(status, self.step, message)
        self.ctx.pm.hook.i2i_train_end(run=info, step=self.step, status=status)
        return info

    def _has_checkpoint(self) -> bool:
        return bool(list_checkpoints(self.run_dir / "checkpoints")) or not self.dist.is_main

    def _saved_note(self) -> str:
        if self._last_saved is None:
            return "the run has no checkpoint"
        name = checkpoint_name(self._last_saved)
        if self._last_saved == self.step:
            return f"progress is saved in checkpoint {name}"
        return f"the last checkpoint is {name} (step {self._last_saved}); later steps are lost"

    def _save_after_failure(
        self, stepper: TrainStep, info: RunInfo, failure: BaseException, consistent: bool
    ) -> None:
        """Save the last completed step after a failure between steps (never a torn or
        non-finite state, never a second try of a save that failed)."""
        if not consistent or self._save_failed or self._last_saved == self.step:
            return
        if isinstance(failure, (NonFiniteLossError, NonFiniteStateError)):
            return
        if self.step == info.start_step:
            return
        try:
            self._checkpoint(stepper, info)
        except Exception as e:  # noqa: BLE001 - the original failure is what is reported
            log.warning("could not save the progress: %s", describe_failure(e).message)

    def _record_failure(self, e: BaseException) -> None:
        """status.json "failed" with the reason (once the folder holds a run), observers told."""
        fail = describe_failure(e)
        if self.info is not None:
            self.info.status, self.info.message = fail.status, fail.message
        if self.rank == 0 and (self.run_dir / "config.toml").is_file():
            try:
                if self.info is not None:
                    self.info.write_status(fail.status, self.step, fail.message)
                else:
                    write_status_file(
                        self.run_dir, family=self.cfg.family, status=fail.status,
                        step=self.step, total_steps=None, message=fail.message,
                    )  # fmt: skip
            except OSError as err:  # a full disk may refuse status.json too
                log.warning("could not write status.json: %s", describe_failure(err).message)
        if self._started and self.info is not None:
            self._started = False
            try:
                self.ctx.pm.hook.i2i_train_end(run=self.info, step=self.step, status=fail.status)
            except Exception as err:  # noqa: BLE001 - an observer must not hide the failure
                log.warning("an observer failed at the end of the run: %s", one_line(str(err)))

    def _should_stop(self, info: RunInfo, sig: StopSignals) -> bool:
        """A stop request (signal, plugin) on any rank stops every rank at the same step."""
        local = 0 if info.stop_reason is None else (sig.signum or 255)
        code = distributed.max_over_ranks(local, self.device)
        if code and info.stop_reason is None:
            other = "a stop request" if code == 255 else signal_name(code)
            info.stop_reason = f"received {other} on another rank"
        if code and code != 255:
            info.stop_signal = code
        return bool(code)

    def _next_batch(self, batches: Iterator[Mapping[str, Any]], sig: StopSignals) -> dict[str, Any]:
        """The next batch; a dead DataLoader worker becomes a one-line error between steps."""
        try:
            sig.check_workers()
            return dict(next(batches))
        except RuntimeError as e:
            if "DataLoader worker" not in str(e):
                raise
            raise I2IError(
                f"a DataLoader worker process died ({one_line(str(e))[:160]}); when the system "
                "ran out of memory, use fewer --workers or a smaller --batch-size"
            ) from e

    def _to_device(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        nb = self.device.type == "cuda" and self.cfg.train.pin_memory
        for k, v in batch.items():
            if isinstance(v, torch.Tensor):
                v = v.to(self.device, non_blocking=nb)
                if self.cfg.train.channels_last and v.ndim == 4:
                    v = v.contiguous(memory_format=torch.channels_last)
            out[k] = v
        return out

    # -- outputs -----------------------------------------------------------------------------
    def _save_samples(self, stepper: TrainStep, batch: Mapping[str, Any]) -> None:
        from i2i.report import make_grid, write_grid

        if stepper.last_cache is None:
            return
        with torch.no_grad():
            vis = stepper.model.visuals(batch, stepper.last_cache)
        if vis:
            vis = {k: v.detach().float().cpu() for k, v in vis.items()}
            path = self.run_dir / "samples" / f"step_{self.step:07d}.png"
            grid = make_grid(vis)
            write_grid(grid, path)
            self.ctx.pm.hook.i2i_samples_saved(run=self.info, step=self.step, path=path, grid=grid)

    def _checkpoint(self, stepper: TrainStep, info: RunInfo) -> None:
        """Save the current step (rank 0); a second SIGINT never interrupts the write."""
        if info.is_main:
            state: dict[str, Any] = {
                "optimizers": {k: o.state_dict() for k, o in stepper.optimizers.items()},
                "scaler": stepper.scaler.state_dict(),
                "training_state": stepper.model.training_state(),
                "skipped_images": info.skipped_images,
                "world_size": self.world_size,
            }
            state.update(runtime.rng_state())
            weights = self.ddp.state_dict() if self.ddp else stepper.model.state_dict()
            sig = self._signals
            protected = sig.protected if sig else False
            if sig is not None:
                sig.protected = True
            try:
                path = save_checkpoint(
                    self.run_dir / "checkpoints",
                    self.step,
                    weights,
                    self.cfg.to_dict(),
                    state,
                    keep=self.cfg.train.keep_checkpoints,
                )
            except BaseException:
                self._save_failed = True
                raise
            finally:
                if sig is not None:
                    sig.protected = protected
            self.ctx.pm.hook.i2i_checkpoint_saved(run=info, path=path, step=self.step)
        self._last_saved = self.step
