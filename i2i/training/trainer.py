"""The generic trainer: one loop for every model family.

The trainer owns optimizers, AMP and gradient scaling, LR schedules, checkpoints, sample grids,
logging (through observer hooks), signals and resume. A family only provides a
:class:`~i2i.model.GANModel`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from i2i.config import effective_load_size
from i2i.errors import CheckpointError, ConfigError, NonFiniteLossError
from i2i.manager import Context
from i2i.model import GANModel, set_requires_grad
from i2i.specs import DataOptions
from i2i.tracking.session import TrackingSession, check_loggers
from i2i.training import distributed, runtime
from i2i.training.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint
from i2i.training.run import RunConfig, RunInfo, write_text_atomic
from i2i.training.sampler import ResumableBatchSampler

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


def _ignore_sigint_in_worker(_: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def data_options(spec: Any, run: RunConfig, ctx: Context, split: str = "train") -> DataOptions:
    """The dataset options of a run (crop, resize, channels, flips)."""
    t = run.train
    return DataOptions(
        split=split,
        size=t.size,
        load_size=effective_load_size(t.size, t.load_size),
        channels=dict(spec.data_channels(run.model)),
        flip=t.flip,
        strict=t.strict,
        load_image=ctx.load_image,
        params=dict(spec.data_params(run.model)) if spec.data_params else {},
    )


class TrainStep:
    """One optimization step of a :class:`~i2i.model.GANModel`.

    Runs ``forward_step`` once under autocast, then for each group of ``step_groups``: the
    group's losses (other groups frozen), a finiteness check naming the bad term, backward
    through the gradient scaler (active for fp16 only), optional clipping and the optimizer step.

    Args:
        model: The family's model, already on ``device``.
        device: Device of the model.
        amp_dtype: Autocast dtype (None = fp32).
        grad_clip: Clip each group's gradient norm to this (0 = off).

    Example:
        >>> step = TrainStep(model, torch.device("cpu"), torch.bfloat16)  # doctest: +SKIP
        >>> losses = step(batch, step_index=0)  # doctest: +SKIP
    """

    def __init__(
        self,
        model: GANModel,
        device: torch.device,
        amp_dtype: torch.dtype | None = None,
        grad_clip: float = 0.0,
        fused: bool = True,
    ) -> None:
        self.model = model
        self.device = device
        self.amp_dtype = amp_dtype
        self.grad_clip = grad_clip
        self.groups = model.optimizer_groups()
        self.modules = {g.name: list(g.modules) for g in self.groups}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        for g in self.groups:
            params = g.parameters()
            if not params:
                raise ConfigError(f"optimizer group '{g.name}' has no parameters")
            # fused Adam (one kernel per step on CPU and CUDA) where every parameter allows it
            use_fused = (
                fused
                and device.type in ("cpu", "cuda")
                and all(p.is_floating_point() for p in params)
            )
            self.optimizers[g.name] = torch.optim.Adam(
                params, lr=g.lr, betas=g.betas, weight_decay=g.weight_decay, fused=use_fused or None
            )
        self.scaler = runtime.make_grad_scaler(device, amp_dtype)
        self.last_cache: dict[str, torch.Tensor] | None = None
        #: ``group_context(group)``: a context for one group's losses and backward (the
        #: distributed trainer synchronizes only that group's gradients).
        self.group_context: Callable[[str], contextlib.AbstractContextManager] | None = None

    def set_lr_factor(self, factor: float, step: int | None = None) -> None:
        """Set every group's LR to its base LR times ``factor`` (the schedule's) and, given the
        0-based ``step``, times the model's :meth:`~i2i.GANModel.lr_scale` for that step.

        Raises:
            ConfigError: the model's ``lr_scale`` is negative or not finite.
        """
        for g in self.groups:
            scale = 1.0 if step is None else float(self.model.lr_scale(g.name, step))
            if not (math.isfinite(scale) and scale >= 0):
                raise ConfigError(
                    f"lr_scale of group '{g.name}' at step {step} must be a finite number >= 0, "
                    f"got {scale}"
                )
            for pg in self.optimizers[g.name].param_groups:
                pg["lr"] = g.lr * factor * scale

    def lrs(self) -> dict[str, float]:
        return {f"lr/{n}": o.param_groups[0]["lr"] for n, o in self.optimizers.items()}

    def __call__(self, batch: Mapping[str, Any], step_index: int) -> dict[str, float]:
        """Run one step; returns the loss terms as floats (``G/gan_A``, ``G/total``, ...).

        Raises:
            NonFiniteLossError: a loss term is NaN or infinite (before any weight changes
                of that group).
        """
        model, amp = self.model, self.amp_dtype
        out: dict[str, float] = {}
        with runtime.autocast(self.device, amp):
            cache = model.forward_step(batch)
        for group in model.step_groups(step_index):
            for name, mods in self.modules.items():
                set_requires_grad(mods, name == group)
            ctx = self.group_context(group) if self.group_context else contextlib.nullcontext()
            with ctx:
                with runtime.autocast(self.device, amp):
                    losses = model.losses(group, batch, cache)
                total = sum(losses.values())
                values = torch.stack([v.detach().float() for v in losses.values()]).tolist()
                for name, val in zip(losses, values, strict=True):
                    if not math.isfinite(val):
                        raise NonFiniteLossError(step_index + 1, f"{group}/{name}", val)
                    out[f"{group}/{name}"] = val
                out[f"{group}/total"] = sum(values)
                opt = self.optimizers[group]
                opt.zero_grad(set_to_none=True)
                self.scaler.scale(total).backward()
            if self.grad_clip > 0:
                self.scaler.unscale_(opt)
                params = [p for m in self.modules[group] for p in m.parameters()]
                torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
            self.scaler.step(opt)
            self.scaler.update()
            model.after_step(group, step_index)
        for mods in self.modules.values():
            set_requires_grad(mods, True)
        self.last_cache = cache
        return out


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
        if t.batch_size < 1:
            raise ConfigError(f"train.batch_size must be >= 1, got {t.batch_size}")
        if t.size < 0 or t.size % 1:
            raise ConfigError(f"train.size must be a positive number of pixels, got {t.size}")
        check_loggers(ctx, run_config)  # --log names and libraries, before any work
        self.dist, self.device = distributed.setup(t.device)
        self.rank, self.world_size = self.dist.rank, self.dist.world_size
        self.ddp: distributed.DDPModel | None = None
        self.amp_dtype = runtime.check_precision(t.precision, self.device)
        self.model: GANModel | None = None
        self.step = 0
        self.info: RunInfo | None = None
        self.tracking: TrackingSession | None = None

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
            worker_init_fn=_ignore_sigint_in_worker if t.workers > 0 else None,
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

    # -- main loop ---------------------------------------------------------------------------
    def fit(self) -> RunInfo:
        """Run training to the end (or until stopped). Returns the run info.

        The experiment loggers of ``train.loggers`` observe the run (rank 0); an exception
        that ends training ends their tracked runs as failed. With ``train.eval_every`` the
        family's evaluation runs on every N-th step's checkpoint
        (:mod:`i2i.training.periodic_eval`) and reaches the loggers through
        ``i2i_evaluation_done``.

        Raises:
            NonFiniteLossError: a loss became NaN/inf (the last good checkpoint is kept).
            DatasetError: the dataset failed validation.
        """
        observer = None
        if self.cfg.train.eval_every > 0:
            from i2i.metrics.evaluation import EvalOptions
            from i2i.training.periodic_eval import PeriodicEvaluation

            opts = EvalOptions(save_images=False, max_images=self.cfg.train.eval_images)
            observer = PeriodicEvaluation(self.ctx, self.cfg.train.eval_every, opts)
            self.ctx.pm.register(observer, name="i2i-periodic-eval")
        try:
            with TrackingSession(self.ctx) as self.tracking:
                return self._fit()
        finally:
            if observer is not None:
                self.ctx.pm.unregister(observer)

    def _fit(self) -> RunInfo:
        t = self.cfg.train
        runtime.configure_torch(self.device, cudnn_benchmark=t.cudnn_benchmark)
        runtime.seed_everything(t.seed + self.rank)
        dataset = self._build_data()
        total, spe = self.total_steps(len(dataset))

        model = self.spec.build(self.cfg.model, self.ctx)
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

        start, skipped = self._restore(stepper) if self.resume else (0, 0)
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
            self.run_dir.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.run_dir / "config.toml", self.cfg.to_toml())
            info.write_status("running", start)
        hook = self.ctx.pm.hook
        if self.tracking is not None:
            self.tracking.start(info)
        hook.i2i_train_start(run=info)

        batches = self._loader(dataset, start)
        status, message = "completed", ""
        sums: dict[str, float] = {}
        count = 0
        t0 = time.perf_counter()
        last_ckpt = start
        batch: dict[str, Any] | None = None
        with self._signals(info):
            try:
                while self.step < total and not self._should_stop(info):
                    stepper.set_lr_factor(lr_factor(kind, decay_start, self.step, total), self.step)
                    raw = next(batches)
                    skipped += int(raw.pop("skipped").sum()) if "skipped" in raw else 0
                    info.skipped_images = skipped
                    batch = self._to_device(raw)
                    terms = stepper(batch, self.step)
                    self.step += 1
                    for k, v in terms.items():
                        sums[k] = sums.get(k, 0.0) + v
                    count += 1
                    if self.step % max(1, t.log_every) == 0 or self.step == total:
                        logs = {k: v / count for k, v in sums.items()}
                        logs = distributed.all_reduce_mean(logs, self.device)
                        logs.update(stepper.lrs())
                        logs["sec_per_step"] = (time.perf_counter() - t0) / count
                        logs["images_per_sec"] = (
                            t.batch_size * self.world_size / max(logs["sec_per_step"], 1e-12)
                        )
                        logs["epoch"] = self.step / spe
                        logs["skipped_images"] = skipped
                        hook.i2i_train_step_end(run=info, step=self.step, logs=logs)
                        sums, count, t0 = {}, 0, time.perf_counter()
                    if info.is_main and t.sample_every > 0 and self.step % t.sample_every == 0:
                        self._save_samples(stepper, batch)
                    if (t.checkpoint_every > 0 and self.step % t.checkpoint_every == 0) or (
                        t.eval_every > 0 and self.step % t.eval_every == 0
                    ):
                        self._checkpoint(stepper, info)
                        last_ckpt = self.step
            except NonFiniteLossError as e:
                info.write_status("failed", self.step, str(e))
                hook.i2i_train_end(run=info, step=self.step, status="failed")
                raise
        if info.stop_reason is not None:
            status, message = "interrupted", info.stop_reason
        if last_ckpt != self.step or not list_checkpoints(self.run_dir / "checkpoints"):
            self._checkpoint(stepper, info)
        sampled = t.sample_every > 0 and self.step % t.sample_every == 0  # in the loop already
        if info.is_main and batch is not None and status == "completed" and not sampled:
            self._save_samples(stepper, batch)
        distributed.barrier()  # every rank leaves after rank 0's final checkpoint exists
        info.write_status(status, self.step, message)
        hook.i2i_train_end(run=info, step=self.step, status=status)
        return info

    def _should_stop(self, info: RunInfo) -> bool:
        """A stop request (signal, plugin) on any rank stops every rank at the same step."""
        stop = distributed.any_rank(info.stop_reason is not None, self.device)
        if stop and info.stop_reason is None:
            info.stop_reason = "stop requested on another rank"
        return stop

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
        if not info.is_main:
            return
        state: dict[str, Any] = {
            "optimizers": {k: o.state_dict() for k, o in stepper.optimizers.items()},
            "scaler": stepper.scaler.state_dict(),
            "training_state": stepper.model.training_state(),
            "skipped_images": info.skipped_images,
            "world_size": self.world_size,
        }
        state.update(runtime.rng_state())
        weights = self.ddp.state_dict() if self.ddp else stepper.model.state_dict()
        path = save_checkpoint(
            self.run_dir / "checkpoints",
            self.step,
            weights,
            self.cfg.to_dict(),
            state,
            keep=self.cfg.train.keep_checkpoints,
        )
        self.ctx.pm.hook.i2i_checkpoint_saved(run=info, path=path, step=self.step)

    def _restore(self, stepper: TrainStep) -> tuple[int, int]:
        """Load the latest checkpoint of the run into ``stepper``; returns (step, skipped)."""
        ckpt = load_checkpoint(self.run_dir)
        if ckpt.family != self.cfg.family:
            raise CheckpointError(
                f"{ckpt.path} is a '{ckpt.family}' checkpoint, not '{self.cfg.family}'"
            )
        try:
            stepper.model.load_state_dict(ckpt.weights, strict=True)
        except RuntimeError as e:
            raise CheckpointError(
                f"{ckpt.path} does not fit the model: {str(e).strip().splitlines()[0]}"
            ) from None
        state = ckpt.trainer_state()
        for name, opt in stepper.optimizers.items():
            if name not in state["optimizers"]:
                raise CheckpointError(f"{ckpt.path} has no state for optimizer '{name}'")
            opt.load_state_dict(state["optimizers"][name])
        stepper.scaler.load_state_dict(state["scaler"])
        stepper.model.load_training_state(state.get("training_state", {}))
        runtime.set_rng_state({k: v for k, v in state.items() if k.startswith("rng/")})
        log.info("resumed from %s at step %d", ckpt.path.parent, ckpt.step)
        return int(state["step"]), int(state.get("skipped_images", 0))

    @contextlib.contextmanager
    def _signals(self, info: RunInfo) -> Iterator[None]:
        """SIGINT/SIGTERM: finish the current step, save a checkpoint, stop cleanly."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        old: dict[int, Any] = {}

        def handler(signum: int, _frame: Any) -> None:
            name = signal.Signals(signum).name
            if info.stop_reason is not None and signum == signal.SIGINT:
                raise KeyboardInterrupt  # second Ctrl-C: stop now
            info.request_stop(f"received {name}")
            log.warning("%s received: saving a checkpoint after this step", name)

        for s in (signal.SIGINT, signal.SIGTERM):
            old[s] = signal.signal(s, handler)
        try:
            yield
        finally:
            for s, h in old.items():
                signal.signal(s, h)
