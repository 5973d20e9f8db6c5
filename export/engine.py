"""Inference engines of the full package (built-in plugin ``engines``): the PyTorch engine and
the choice of engine.

The engine interface (:class:`~i2i_runtime.engine.Engine`: input checks, padding to the stride,
cropping, label-map inputs) and the onnxruntime engine (:class:`~i2i_runtime.engine.OrtEngine`:
providers and their fallbacks) live in the torch-free runtime (:mod:`i2i_runtime.engine`, see
its docstring for the contract); :class:`TorchEngine` runs a checkpoint's inference module on
the same base class, so both engines check and pad inputs the same way.

:func:`open_engine` picks the engine through the :func:`i2i.hookspecs.i2i_open_engine` decision
hook. The built-in implementation (``trylast``) opens ``.onnx`` files with onnxruntime
(:class:`OrtEngine`) and anything else as an i2i checkpoint with PyTorch (:class:`TorchEngine`);
a plugin can supply another engine (TensorRT, OpenVINO, ...) by answering first.

Example:
    >>> engine = open_engine(ctx, "model.onnx", provider="cuda")  # doctest: +SKIP
    >>> y = engine(x)  # x: 1 x 3 x H x W float32 in [-1, 1]  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from i2i.errors import ConfigError
from i2i.hookspecs import hookimpl
from i2i.specs import InferenceInfo
from i2i.training import runtime
from i2i_runtime.engine import (
    DEFAULT_MAX_PIXELS,
    Engine,
    EngineMemoryError,
    OrtEngine,
    _oom_message,
)
from i2i_runtime.providers import provider_for_device

if TYPE_CHECKING:  # pragma: no cover
    from i2i.manager import Context

__all__ = ["DEFAULT_MAX_PIXELS", "Engine", "OrtEngine", "TorchEngine", "open_engine"]


# -- PyTorch ------------------------------------------------------------------------------------


class TorchEngine(Engine):
    """Run a PyTorch inference module (from a checkpoint) on a device, optionally in bf16/fp16.

    The module runs under ``torch.inference_mode`` and, for ``bf16``/``fp16``, under autocast
    (:func:`i2i.training.runtime.autocast`); the output is returned as float32.

    Args:
        module: The inference module (``model.inference_module(direction)``).
        info: Its :class:`~i2i.specs.InferenceInfo`.
        device: A device name (``auto``, ``cpu``, ``cuda:N``...) or ``torch.device``.
        precision: ``fp32``, ``bf16`` or ``fp16``.
        max_pixels: Per-image pixel limit (0 = none).

    Raises:
        ConfigError: unknown device or precision, or one the device cannot run.
    """

    name = "torch"

    def __init__(
        self,
        module: torch.nn.Module,
        info: InferenceInfo,
        device: str | torch.device = "cpu",
        precision: str = "fp32",
        *,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        dev = device if isinstance(device, torch.device) else runtime.resolve_device(device)
        self.device = dev
        self.amp = runtime.check_precision(precision, dev)
        self.precision = precision
        self.module = module.eval().to(dev)
        self.info = info
        self.max_pixels = max_pixels
        where = str(dev)
        if dev.type == "cuda":
            where += f" ({torch.cuda.get_device_name(dev)})"
        self.description = f"PyTorch on {where}, {precision}"
        self.label_dontcare = int(getattr(module, "dontcare_label", -1))

    @classmethod
    def from_checkpoint(
        cls,
        ctx: Context,
        source: str | Path,
        *,
        direction: str | None = None,
        device: str = "auto",
        precision: str = "fp32",
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> TorchEngine:
        """Load a run directory, checkpoint directory or weights file.

        Raises:
            CheckpointError: nothing loadable at ``source``.
            ConfigError: unknown direction, or a model that does not take image inputs.
        """
        from i2i.api import load_checkpoint

        dev = runtime.resolve_device(device)
        runtime.check_precision(precision, dev)
        loaded = load_checkpoint(source, context=ctx, device=dev)
        directions = loaded.model.inference_directions()
        if direction is not None and direction not in directions:
            raise ConfigError(
                f"this '{loaded.spec.name}' model translates in direction(s) "
                f"{', '.join(directions)}; got '{direction}'"
            )
        model = loaded.model.eval()
        info = model.inference_info(direction)
        if info.inputs != ("image",) and info.inputs[:1] != ("label",):
            raise ConfigError(
                f"'{loaded.spec.name}' takes inputs {info.inputs}; translation needs image or "
                "label-map inputs"
            )
        # fold spectral norm (any parametrization) into plain weights once: the same outputs, no
        # weight normalization per image (SPADE at 256 px on CPU: 1.31 -> 1.24 s per image)
        from i2i.export.onnx import prepare_for_export

        module = prepare_for_export(model.inference_module(direction))
        del loaded, model
        return cls(module, info, dev, precision, max_pixels=max_pixels)

    def run(self, x: np.ndarray, *extras: np.ndarray) -> np.ndarray:
        try:
            ts = [torch.from_numpy(a).to(self.device, non_blocking=True) for a in (x, *extras)]
            with torch.inference_mode(), runtime.autocast(self.device, self.amp):
                y = self.module(*ts)
            return y.float().cpu().numpy()
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            raise EngineMemoryError(_oom_message(x, f"GPU memory on {self.device}")) from None


# -- choosing an engine --------------------------------------------------------------------------


def open_engine(
    ctx: Context,
    source: str | Path,
    *,
    direction: str | None = None,
    device: str = "auto",
    precision: str = "fp32",
    provider: str = "auto",
    threads: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    spec: str | None = None,
) -> Engine:
    """Open the engine that runs inference for ``source`` (through ``i2i_open_engine``).

    Args:
        ctx: Plugin context.
        source: A ``.onnx`` file, or a run directory / checkpoint directory / weights file.
        direction: Translation direction (checkpoints; an ONNX file holds one direction).
        device: ``auto``, ``cpu``, ``cuda:N``... (checkpoints; for ONNX, ``cpu`` or ``cuda:N``
            with ``provider="auto"`` selects the CPU or CUDA provider and GPU N).
        precision: ``fp32``, ``bf16`` or ``fp16`` (checkpoints only).
        provider: onnxruntime provider: ``auto``, ``cuda``, ``tensorrt``, ``cpu`` (ONNX only).
        threads: CPU threads of the onnxruntime session.
        max_pixels: Per-image pixel limit of one engine call (0 = none).
        spec: Input spec of an ONNX model without i2i metadata (``"channels=3,stride=4"``).

    Raises:
        ConfigError: options that do not apply to this kind of source, or no plugin could open it.
        CheckpointError: an unloadable checkpoint.
    """
    options = {
        "direction": direction,
        "device": device,
        "precision": precision,
        "provider": provider,
        "threads": threads,
        "max_pixels": max_pixels,
        "spec": spec,
    }
    engine = ctx.hook.i2i_open_engine(context=ctx, source=Path(source), options=options)
    if engine is None:
        raise ConfigError(
            f"no plugin can run {source}; pass a run directory, checkpoint or .onnx file "
            "(is the 'engines' plugin blocked?)"
        )
    return engine


@hookimpl(trylast=True)
def i2i_open_engine(context: Context, source: Path, options: dict[str, Any]) -> Engine:
    """Default (``trylast``): ``.onnx`` files run on onnxruntime, anything else is a checkpoint
    run with PyTorch."""
    max_pixels = int(options.get("max_pixels") or 0)
    device = str(options.get("device") or "auto")
    provider = str(options.get("provider") or "auto")
    precision = str(options.get("precision") or "fp32")
    direction = options.get("direction")
    if source.suffix.lower() == ".onnx":
        if precision != "fp32":
            raise ConfigError(
                f"--precision {precision} applies to PyTorch checkpoints; an ONNX model runs in "
                "the precision it was exported with (export an fp16 model instead)"
            )
        provider, device_id = provider_for_device(device, provider)
        engine = OrtEngine(
            source,
            provider,
            options.get("threads"),
            device_id=device_id,
            max_pixels=max_pixels,
            spec=options.get("spec"),
        )
        if direction is not None and direction != engine.info.direction:
            raise ConfigError(
                f"{source} translates {engine.info.direction} (it was exported for that "
                f"direction); got --direction {direction}; export the other direction"
            )
        return engine
    if provider != "auto":
        raise ConfigError(
            f"--provider {provider} applies to ONNX models; use --device for checkpoints"
        )
    if options.get("spec"):
        raise ConfigError("--spec describes ONNX models without metadata; checkpoints need none")
    return TorchEngine.from_checkpoint(
        context,
        source,
        direction=direction,
        device=device,
        precision=precision,
        max_pixels=max_pixels,
    )
