"""Self-describing, atomically written checkpoints.

Layout::

    RUN/checkpoints/
      step_0000500/
        model.safetensors   weights of every network; metadata: family, run config (JSON),
                            i2i version, step. Enough to rebuild the model with no flags.
        trainer.pt          optimizers, schedulers, grad scaler, training state (image pools),
                            RNG states, step (loaded with torch.load(weights_only=True))
      latest                name of the newest complete checkpoint directory

A checkpoint directory is written under a temporary name and renamed into place, then ``latest``
is replaced atomically: a crash at any moment leaves the previous checkpoint intact. Nothing
non-finite is ever saved. Loading never unpickles objects (safetensors, and ``torch.load`` with
``weights_only=True``), checks the metadata (family, config JSON, step) and builds the model its
config describes only within a memory budget taken from the weights' header, so edited metadata
(``ngf=100000``) fails in one line instead of allocating gigabytes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError

from i2i.errors import (
    CheckpointError,
    ConfigError,
    NonFiniteStateError,
    RegistryError,
    describe_failure,
    describe_load_error,
    one_line,
    os_error_in,
)
from i2i.files import file_mode, fsync_dir
from i2i.training.building import build_model
from i2i.training.run import write_text_atomic

WEIGHTS = "model.safetensors"
TRAINER_STATE = "trainer.pt"
LATEST = "latest"
#: Names the checkpoint with the best evaluation score (evaluation during training).
BEST = "best"
DAMAGED = "the file is damaged or from another program; resume from another checkpoint"
_NAME = re.compile(r"step_[0-9]{7,}")


def checkpoint_name(step: int) -> str:
    return f"step_{step:07d}"


# -- saving ------------------------------------------------------------------------------------


def _floating(tree: Any, prefix: str = "") -> Iterator[tuple[str, torch.Tensor]]:
    """(name, tensor) for every floating-point tensor in nested dicts / lists."""
    if isinstance(tree, torch.Tensor):
        if tree.is_floating_point() or tree.is_complex():
            yield prefix, tree
    elif isinstance(tree, Mapping):
        for k, v in tree.items():
            yield from _floating(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            yield from _floating(v, f"{prefix}.{i}" if prefix else str(i))


def non_finite(tree: Any) -> list[str]:
    """Names of the floating-point tensors in ``tree`` that hold NaN or infinite values."""
    return [name for name, t in _floating(tree) if not bool(torch.isfinite(t).all())]


def check_finite(state_dict: Mapping[str, torch.Tensor], trainer_state: Mapping[str, Any]) -> None:
    """Refuse to save NaN / infinite weights or optimizer state.

    Raises:
        NonFiniteStateError: names the first bad tensors (the message says no checkpoint was
            written).
    """
    bad = non_finite(state_dict)
    where = "weights"
    if not bad:
        bad, where = non_finite(trainer_state), "optimizer / training state"
    if bad:
        shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise NonFiniteStateError(
            f"the {where} hold NaN or infinite values ({shown}), so they were not saved; the "
            "learning rate is probably too high: lower it (--set optim.lr=...) or use "
            "--precision fp32"
        )


def _write_safetensors(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> None:
    from safetensors.torch import save_file

    try:
        save_file(tensors, str(path), metadata=meta)
    except SafetensorError as e:  # carries "(os error N)" for a full disk, read-only folder ...
        os_err = os_error_in(e)
        if os_err is not None:
            raise OSError(os_err.errno, os_err.strerror, str(path)) from e
        raise


def _write_torch(path: Path, obj: Any) -> None:
    # a Python file object: a failed write raises OSError with its errno (torch's own writer
    # would report "unexpected pos ...")
    with open(path, "wb") as fh:
        try:
            torch.save(obj, fh)
        except (OSError, RuntimeError) as e:
            cause = e if isinstance(e, OSError) else e.__context__
            if isinstance(cause, OSError) and cause.errno is not None and cause.filename is None:
                raise OSError(cause.errno, cause.strerror, str(path)) from e
            raise


def save_checkpoint(
    ckpt_root: Path,
    step: int,
    state_dict: Mapping[str, torch.Tensor],
    run_config: Mapping[str, Any],
    trainer_state: Mapping[str, Any] | None,
    keep: int = 3,
) -> Path:
    """Write ``ckpt_root/step_NNNNNNN`` atomically and point ``latest`` at it.

    Args:
        ckpt_root: ``RUN/checkpoints``.
        step: Steps completed.
        state_dict: Model weights (every network).
        run_config: ``RunConfig.to_dict()``.
        trainer_state: Optimizer/scheduler/scaler/RNG state (tensors and plain python values);
            ``None`` writes a weights-only checkpoint (no ``trainer.pt``, e.g. an imported
            model), which translates and exports but cannot resume training.
        keep: Keep this many newest checkpoints; older ones are deleted after the new one is safe.

    Returns:
        The checkpoint directory.

    Raises:
        NonFiniteStateError: weights or optimizer state hold NaN / inf (nothing is written).
        CheckpointError: the files could not be written (disk full, read-only folder ...); the
            previous checkpoint is intact and the message says why.
    """
    from i2i import __version__

    check_finite(state_dict, trainer_state)
    name = checkpoint_name(step)
    final = ckpt_root / name
    tmp = ckpt_root / f".tmp-{name}-{os.getpid()}"
    mode = file_mode()
    try:
        ckpt_root.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        tensors = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in state_dict.items()}
        meta = {
            "format": "pt",
            "i2i_family": str(run_config["family"]),
            "i2i_run_config": json.dumps(run_config),
            "i2i_version": __version__,
            "i2i_step": str(step),
        }
        _write_safetensors(tmp / WEIGHTS, tensors, meta)
        if trainer_state is not None:  # None: weights only (imported models), no resume
            _write_torch(tmp / TRAINER_STATE, dict(trainer_state, step=step))
        for f in tmp.iterdir():
            os.chmod(f, mode)  # safetensors writes 0600, torch.save follows the umask
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        if final.exists():  # re-saving the same step: move the old one aside first
            old = ckpt_root / f".old-{name}-{os.getpid()}"
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
        fsync_dir(ckpt_root)
        write_text_atomic(ckpt_root / LATEST, name + "\n")
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        prev = _pointer(ckpt_root, LATEST)
        kept = f"the previous checkpoint {prev} is intact" if prev else "no checkpoint exists yet"
        raise CheckpointError(
            f"could not write checkpoint {name} in {ckpt_root}: {describe_failure(e).message}; "
            f"{kept}"
        ) from e
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    prune_checkpoints(ckpt_root, keep)
    return final


def _pointer(ckpt_root: Path, pointer: str) -> str:
    """The checkpoint a pointer file (``latest``, ``best``) names, if it names one of this
    run's complete checkpoints, else ``""``."""
    try:
        name = (ckpt_root / pointer).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return name if _NAME.fullmatch(name) and (ckpt_root / name / WEIGHTS).is_file() else ""


def list_checkpoints(ckpt_root: Path) -> list[Path]:
    """Complete checkpoint directories, oldest first."""
    if not ckpt_root.is_dir():
        return []
    return sorted(
        p
        for p in ckpt_root.iterdir()
        if p.is_dir() and _NAME.fullmatch(p.name) and (p / WEIGHTS).is_file()
    )


def prune_checkpoints(ckpt_root: Path, keep: int) -> None:
    """Delete all but the ``keep`` newest checkpoints (never those ``latest`` and ``best``
    name)."""
    if keep <= 0:
        return
    kept = {_pointer(ckpt_root, LATEST), _pointer(ckpt_root, BEST)} - {""}
    for p in list_checkpoints(ckpt_root)[:-keep]:
        if p.name not in kept:
            shutil.rmtree(p, ignore_errors=True)


def remove_stale_temporaries(ckpt_root: Path) -> list[str]:
    """Clear what a crashed save left in ``ckpt_root``: ``.tmp-step_*`` folders and
    ``.latest.*.tmp`` files are deleted; an ``.old-step_N-PID`` folder (a checkpoint moved aside
    to re-save its step) is put back when ``step_N`` is missing, else deleted. Call it only while
    holding the run (one trainer per run directory, :func:`i2i.training.run.lock_run`).

    Returns:
        The names handled.
    """
    handled: list[str] = []
    if not ckpt_root.is_dir():
        return handled
    for p in sorted(ckpt_root.iterdir()):
        n = p.name
        if n.startswith(".old-step_"):
            final = ckpt_root / n[len(".old-") :].rsplit("-", 1)[0]
            if _NAME.fullmatch(final.name) and not final.exists() and (p / WEIGHTS).is_file():
                os.replace(p, final)
            else:
                shutil.rmtree(p, ignore_errors=True)
        elif n.startswith(".tmp-step_"):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        elif n.startswith(".latest.") and n.endswith(".tmp"):
            p.unlink(missing_ok=True)
        else:
            continue
        handled.append(n)
    return handled


# -- finding and reading ------------------------------------------------------------------------


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):
        return False
    return True


def find_checkpoint(path: str | Path) -> Path:
    """Resolve a run directory, a checkpoint directory or a ``.safetensors`` file to a
    checkpoint's weights file.

    A run's ``latest`` must name one of its own ``step_NNNNNNN`` folders, and a checkpoint found
    through a run directory must lie inside it (a ``latest`` holding ``../../elsewhere`` or a
    symbolic link out of the run is refused).

    Raises:
        CheckpointError: nothing usable at ``path`` (the message says what was looked for).
    """
    p = Path(path)
    if p.is_file():
        if p.suffix != ".safetensors":
            raise CheckpointError(
                f"{p} is not a checkpoint; pass a run directory, a checkpoint directory or "
                f"its {WEIGHTS}"
            )
        return p
    if not p.exists():
        raise CheckpointError(f"{p} does not exist; pass a run directory or checkpoint directory")
    if (p / WEIGHTS).is_file():
        return p / WEIGHTS
    root = p / "checkpoints" if (p / "checkpoints").is_dir() else p
    latest = root / LATEST
    if latest.is_file():
        try:
            name = latest.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            raise CheckpointError(f"{latest} cannot be read ({e}); delete it") from None
        if not _NAME.fullmatch(name):
            raise CheckpointError(
                f"{latest} names {name[:80]!r}, not a checkpoint folder of this run "
                "(step_NNNNNNN); it was edited or damaged: write the newest step_* folder's "
                "name into it, or delete it"
            )
        cand = root / name / WEIGHTS
        if cand.is_file():
            if not _inside(cand, root):
                raise CheckpointError(
                    f"{root / name} links outside the run ({cand.resolve()}); a run only loads "
                    "its own checkpoints: pass that checkpoint's folder explicitly"
                )
            return cand
    found = [c for c in list_checkpoints(root) if _inside(c / WEIGHTS, root)]
    if found:
        return found[-1] / WEIGHTS
    raise CheckpointError(
        f"no checkpoint found in {p}; expected {p}/checkpoints/step_*/{WEIGHTS} "
        "(has the run saved one yet?)"
    )


@dataclasses.dataclass(frozen=True)
class CheckpointHeader:
    """What a checkpoint's weights file says about itself, read without loading any tensor.

    Attributes:
        path: The ``model.safetensors`` file.
        family: Model family that wrote it.
        run_config: The run config (dict) it was trained with.
        version: i2i version that wrote it.
        step: Steps completed.
        shapes: Tensor name -> shape, from the safetensors header.
    """

    path: Path
    family: str
    run_config: dict[str, Any]
    version: str
    step: int
    shapes: dict[str, tuple[int, ...]]


def read_header(path: str | Path) -> CheckpointHeader:
    """Read and check a checkpoint's metadata and tensor shapes (no tensor data is read).

    Raises:
        CheckpointError: not a safetensors file, no i2i metadata, metadata that is not valid
            (family, config JSON, step), or metadata that disagrees with itself.
    """
    from safetensors import safe_open

    f = find_checkpoint(path)
    try:
        with safe_open(str(f), framework="pt") as sf:
            meta = sf.metadata() or {}
            shapes = {k: tuple(int(d) for d in sf.get_slice(k).get_shape()) for k in sf.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(
            f"{f} is not a readable safetensors file ({one_line(str(e))[:200]})"
        ) from None
    family, raw = meta.get("i2i_family"), meta.get("i2i_run_config")
    if family is None or raw is None:
        raise CheckpointError(
            f"{f} has no i2i metadata (family, config); it was not written by i2i"
        )
    damaged = "the file was edited or damaged; use another checkpoint of the run"
    try:
        run_config = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise CheckpointError(
            f"{f}: metadata i2i_run_config is not valid JSON ({one_line(str(e))[:120]}); {damaged}"
        ) from None
    if not isinstance(run_config, dict):
        raise CheckpointError(f"{f}: metadata i2i_run_config is not a JSON object; {damaged}")
    if run_config.get("family") != family:
        raise CheckpointError(
            f"{f}: metadata disagree: i2i_family is {family[:60]!r} but the run config says "
            f"{str(run_config.get('family'))[:60]!r}; {damaged}"
        )
    step_raw = meta.get("i2i_step", "0")
    if not re.fullmatch(r"[0-9]{1,12}", step_raw):
        raise CheckpointError(
            f"{f}: metadata i2i_step must be a whole number of steps, got {step_raw[:40]!r}; "
            f"{damaged}"
        )
    return CheckpointHeader(
        path=f,
        family=family,
        run_config=run_config,
        version=meta.get("i2i_version", "?"),
        step=int(step_raw),
        shapes=shapes,
    )


def _load_weights(f: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(f))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(
            f"{f} is not a readable safetensors file ({describe_load_error(e)})"
        ) from None


@dataclasses.dataclass
class Checkpoint:
    """A loaded checkpoint."""

    path: Path
    family: str
    run_config: dict[str, Any]
    version: str
    step: int
    weights: dict[str, torch.Tensor]

    def trainer_state(self) -> dict[str, Any]:
        """Load and check ``trainer.pt`` beside the weights (for resuming).

        Raises:
            CheckpointError: missing, unreadable (never unpickled: ``weights_only=True``), not
                a dict, or a step other than the weights'.
        """
        f = self.path.parent / TRAINER_STATE
        if not f.is_file():
            raise CheckpointError(
                f"{f} is missing; this checkpoint holds weights only and cannot resume training"
            )
        try:
            state = torch.load(f, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any decoding failure: the file is unusable
            raise CheckpointError(f"{f} cannot be loaded: {describe_load_error(e)}") from None
        if not isinstance(state, dict):
            raise CheckpointError(f"{f} holds a {type(state).__name__}, not a dict; {DAMAGED}")
        if state.get("step") != self.step:
            raise CheckpointError(
                f"{f} is at step {state['step']} but {self.path.name} at step {self.step}: the "
                f"two files come from different checkpoints; {DAMAGED}"
            )
        return state


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load the weights and metadata of a checkpoint (see :func:`find_checkpoint`).

    Raises:
        CheckpointError: missing, corrupt or not written by i2i.
    """
    head = read_header(path)
    return Checkpoint(
        path=head.path,
        family=head.family,
        run_config=head.run_config,
        version=head.version,
        step=head.step,
        weights=_load_weights(head.path),
    )


# -- rebuilding the model a checkpoint describes ------------------------------------------------


def run_config_of(ctx: Any, header: CheckpointHeader) -> Any:
    """The :class:`~i2i.training.run.RunConfig` in a checkpoint's metadata.

    Raises:
        CheckpointError: the family is not installed or the config is not valid for it.
    """
    from i2i.training.run import run_config_from_dict

    try:
        return run_config_from_dict(ctx, header.run_config)
    except RegistryError as e:
        raise CheckpointError(
            f"{header.path} was written by the '{header.family[:60]}' family, which is not "
            f"installed here ({e})"
        ) from None
    except ConfigError as e:
        raise CheckpointError(
            f"{header.path}: the run config in its metadata is invalid: {e}"
        ) from None


@dataclasses.dataclass
class LoadedModel:
    """A model rebuilt from a checkpoint, with its config and metadata (what
    :func:`i2i.load_run` and :func:`i2i.load_checkpoint` return).

    Attributes:
        model: The family's :class:`~i2i.GANModel` with the checkpoint's weights.
        config: The :class:`~i2i.RunConfig` it was trained with: ``family``, ``data`` (the
            dataset root), ``train`` (:class:`~i2i.TrainConfig`) and ``model`` (the family's
            config, with the values ``adapt_config`` took from the data).
        spec: The family's :class:`~i2i.ModelSpec`.
        checkpoint: The checkpoint's metadata: ``path`` (its ``model.safetensors``),
            ``family``, ``version`` (of i2i that wrote it), ``step`` and ``run_config`` (the
            raw dict); its ``weights`` are not kept (they are in ``model``).
        run_dir: The run directory the checkpoint belongs to (``RUN/checkpoints/step_N``),
            else None.
    """

    model: Any
    config: Any
    spec: Any
    checkpoint: Checkpoint
    run_dir: Path | None = None

    @property
    def family(self) -> str:
        return self.checkpoint.family

    @property
    def step(self) -> int:
        """Training steps the weights had seen."""
        return self.checkpoint.step

    def status(self) -> dict[str, Any] | None:
        """The run's ``status.json`` (``status``: running / completed / interrupted / failed,
        ``step``, ``total_steps``, ``message``, ...), or None without a run directory."""
        f = self.run_dir / "status.json" if self.run_dir is not None else None
        if f is None or not f.is_file():
            return None
        try:
            return json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise CheckpointError(f"{f} is not readable JSON ({e}); remove it") from None


def run_dir_of(weights: Path) -> Path | None:
    """The run directory of a checkpoint's weights file (``RUN/checkpoints/step_N/...``)."""
    ckpt_dir = weights.parent
    return ckpt_dir.parent.parent if ckpt_dir.parent.name == "checkpoints" else None


def load_model(ctx: Any, path: str | Path, device: torch.device | str = "cpu") -> LoadedModel:
    """Rebuild a family's model from a checkpoint, with no architecture flags.

    The metadata is checked and the model built (within the weights' budget, names and shapes
    compared) before any tensor is read. The model is left in training mode
    (:func:`i2i.load_checkpoint`, the public entry point, switches it to eval mode).

    Args:
        ctx: The plugin :class:`~i2i.manager.Context`.
        path: Run directory, checkpoint directory or weights file.
        device: Where to put the model.

    Raises:
        CheckpointError: the checkpoint does not match the model its config describes.
    """
    head = read_header(path)
    run_config = run_config_of(ctx, head)
    spec = ctx.models.get(head.family)
    model = build_model(spec, run_config.model, ctx, head)
    weights = _load_weights(head.path)
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        raise CheckpointError(
            f"{head.path} does not fit the '{head.family}' model its config describes "
            f"(was it written by another version of the plugin?): {' '.join(first[:3])}"
        ) from None
    model.to(device)
    ckpt = Checkpoint(head.path, head.family, head.run_config, head.version, head.step, {})
    return LoadedModel(
        model=model, config=run_config, spec=spec, checkpoint=ckpt, run_dir=run_dir_of(head.path)
    )
