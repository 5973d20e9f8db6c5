"""Trained models from disk: :func:`load_run` and :func:`load_checkpoint`.

What ``i2i translate``, ``export``, ``eval`` and ``sample`` use, and what scripts, notebooks and
a plugin's own tests call: no architecture flags, the checkpoint describes its model.

Example:
    >>> import i2i
    >>> loaded = i2i.load_run("runs/cyclegan")  # doctest: +SKIP
    >>> loaded.family, loaded.step, loaded.config.model.generator.ngf  # doctest: +SKIP
    ('cyclegan', 20000, 64)
    >>> net = loaded.model.inference_module("AtoB")  # doctest: +SKIP
    >>> fake_b = net(real_a)  # (N, 3, H, W) in [-1, 1], H and W multiples of the stride
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from i2i.errors import CheckpointError
from i2i.training.checkpoint import (
    LATEST,
    LoadedModel,
    checkpoint_name,
    list_checkpoints,
    load_model,
)

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from i2i.manager import Context


def _device(device: str | torch.device) -> torch.device:
    from i2i.training.runtime import resolve_device

    return resolve_device(str(device))


def load_checkpoint(
    path: str | Path,
    *,
    context: Context | None = None,
    device: str | torch.device = "cpu",
) -> LoadedModel:
    """Rebuild a trained model from a checkpoint.

    Args:
        path: A run directory (its latest checkpoint), a checkpoint directory
            (``RUN/checkpoints/step_0001000``) or its ``model.safetensors``.
        context: The plugin context to build the family with (default: :func:`i2i.load_context`,
            i.e. the built-in and installed plugins); pass one to reuse it or to add plugins.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or ``"auto"``.

    Returns:
        The :class:`~i2i.LoadedModel`: ``model`` (weights loaded, in eval mode, on ``device``),
        ``config`` (the :class:`~i2i.RunConfig`), ``spec``, ``checkpoint`` (metadata: ``path``,
        ``step``, ``version``), ``run_dir`` (or None).

    Raises:
        CheckpointError: nothing loadable at ``path``, a file not written by i2i, or weights that
            do not fit the model the checkpoint's config describes.
        UnknownNameError: the checkpoint's family is not registered (is its plugin installed?).
    """
    from i2i.manager import load_context

    loaded = load_model(context or load_context(), path, _device(device))
    loaded.model.eval()
    return loaded


def load_run(
    path: str | Path,
    *,
    step: int | None = None,
    context: Context | None = None,
    device: str | torch.device = "cpu",
) -> LoadedModel:
    """Rebuild the model of a training run directory.

    Args:
        path: The run directory (``--out`` of ``i2i train``: ``config.toml``, ``checkpoints/``).
        step: Load the checkpoint of this step (default: the latest). Older checkpoints are kept
            up to ``train.keep_checkpoints``.
        context: As for :func:`load_checkpoint`.
        device: As for :func:`load_checkpoint`.

    Returns:
        As :func:`load_checkpoint`, with ``run_dir`` set; ``loaded.status()`` reads the run's
        ``status.json``.

    Raises:
        CheckpointError: ``path`` is not a run directory, holds no checkpoint yet, or has none of
            ``step`` (the message lists the steps it has).
    """
    run = Path(path)
    ckpt_root = run / "checkpoints"
    if not run.is_dir() or not (ckpt_root.is_dir() or (run / "config.toml").is_file()):
        what = "does not exist" if not run.exists() else "is not a run directory"
        raise CheckpointError(
            f"{run} {what}; pass the --out folder of `i2i train` (it holds config.toml and "
            "checkpoints/), or use i2i.load_checkpoint for a checkpoint directory or file"
        )
    found = list_checkpoints(ckpt_root)
    if not found:
        raise CheckpointError(f"run {run} has no checkpoint yet; train it (or wait for a save)")
    if step is None:
        target = run
    else:
        target = ckpt_root / checkpoint_name(step)
        if target not in found:
            steps = ", ".join(str(int(p.name.split("_")[1])) for p in found)
            raise CheckpointError(
                f"run {run} has no checkpoint of step {step}; it has steps {steps} ('{LATEST}' "
                "names the newest)"
            )
    loaded = load_checkpoint(target, context=context, device=device)
    loaded.run_dir = run
    return loaded
