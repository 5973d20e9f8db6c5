"""ONNX export of a checkpoint's inference module, verified against PyTorch with onnxruntime.

:func:`export_onnx` rebuilds the model from a run directory or checkpoint (no architecture flags),
takes the inference module of one direction, makes it export-ready with
:func:`prepare_for_export`, exports it with PyTorch's TorchScript-based exporter
(``torch.onnx.export(dynamo=False)``), checks the result with onnxruntime against PyTorch at two
or more input shapes (:func:`verify_onnx`), and writes the file atomically with i2i's metadata
(:mod:`i2i.export.metadata`) — including the verification results.

Shapes: batch, height and width are dynamic by default; ``static=(H, W)`` fixes height and width
(both multiples of the network's stride) and keeps the batch dynamic.

Precisions:

- ``fp32`` (default): verified with a max abs difference tolerance of :data:`FP32_TOLERANCE`
  (``1e-3``; typical differences are ~1e-6 on outputs in [-1, 1]).
- ``fp16`` (CUDA GPU): the fp32 graph converted with onnxruntime's float16 converter, inputs and
  outputs kept float32 (``keep_io_types``), normalization layers and reductions kept in fp32
  (:data:`FP16_KEEP_FP32_OPS`); verified on onnxruntime's CUDA provider with a tolerance of
  :data:`FP16_TOLERANCE` (``5e-2``).
- ``quantize="int8"`` (CPU): the verified fp32 graph quantized statically (QDQ, per-channel)
  with a calibration folder (:mod:`i2i.export.quantize`); the PSNR of int8 against fp32 outputs
  is reported (``ExportResult.psnr_db``, metadata ``i2i_int8_psnr_db``). The verification checks
  recorded are those of the fp32 graph before quantization.

Example:
    >>> result = export_onnx(load_context(), "runs/h2z", "h2z.onnx")  # doctest: +SKIP
    >>> result.checks  # doctest: +SKIP
    [{'shape': [1, 3, 64, 96], 'max_abs_diff': 1.2e-06}, {'shape': [2, 3, 96, 64], ...}]

onnx and onnxruntime are imported inside the functions that need them.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import math
import os
import re
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from i2i.errors import ConfigError, ExportError, is_out_of_memory
from i2i.export.metadata import INPUT_NAME, OUTPUT_NAME, PREFIX, build_metadata, input_names
from i2i.nn import disable_dropout
from i2i.specs import InferenceInfo

log = logging.getLogger(__name__)

#: Default ONNX opset. 17 is the newest opset whose every op the GAN networks use (Conv,
#: ConvTranspose, Pad reflect, InstanceNormalization — GroupNorm-based instance norm exports as
#: InstanceNormalization between reshapes — BatchNormalization, LayerNormalization, Resize) is
#: exported well by PyTorch's TorchScript exporter (``dynamo=False``, which supports up to 20)
#: and implemented by onnxruntime's CPU and CUDA providers and TensorRT 8.6+; opset 18's
#: GroupNormalization was redefined in opset 21, so i2i does not rely on it.
DEFAULT_OPSET = 17
#: Max abs difference (outputs in [-1, 1]) allowed between onnxruntime fp32 and PyTorch fp32.
FP32_TOLERANCE = 1e-3
#: Max abs difference allowed between onnxruntime fp16 (CUDA) and PyTorch fp32.
FP16_TOLERANCE = 5e-2
PRECISIONS = ("fp32", "fp16")
QUANTIZATIONS = ("int8",)
#: Ops kept in fp32 by the fp16 conversion. Normalization layers compute a mean and variance over
#: whole feature maps (H x W values): in fp16 the sums lose precision or overflow (max 65504) at
#: high resolution, and instance norm of large maps is where fp16 GAN generators go wrong. The
#: reductions and power/root ops are the statistics of normalizations that export decomposed
#: (e.g. pixel norm ``x / sqrt(mean(x^2))``). Everything else (convolutions, activations,
#: element-wise ops) runs in fp16; Cast nodes are inserted at the boundaries.
FP16_KEEP_FP32_OPS = (
    "BatchNormalization",
    "InstanceNormalization",
    "GroupNormalization",
    "LayerNormalization",
    "ReduceMean",
    "ReduceSum",
    "ReduceSumSquare",
    "ReduceL2",
    "Pow",
    "Sqrt",
)
FP16_GPU_MESSAGE = (
    "fp16 export needs a CUDA GPU to verify and run; export fp32 or use --quantize int8 on CPU"
)
_MIN_OPSET = 11


@dataclasses.dataclass
class ExportResult:
    """What :func:`export_onnx` wrote.

    Attributes:
        path: The ONNX file.
        family: Model family.
        direction: Translation direction exported.
        opset: ONNX opset.
        precision: ``fp32``, ``fp16`` or ``int8``.
        static: ``(H, W)`` of a static-shape export, ``None`` for dynamic height and width.
        checks: One ``{"shape": [n, c, h, w], "max_abs_diff": float}`` per verified shape
            (empty when verification was off).
        tolerance: The max abs difference allowed.
        psnr_db: PSNR (dB) of int8 outputs against fp32 outputs (int8 exports only).
        metadata: The ``metadata_props`` written into the file.
    """

    path: Path
    family: str
    direction: str
    opset: int
    precision: str
    static: tuple[int, int] | None
    checks: list[dict[str, Any]]
    tolerance: float
    psnr_db: float | None
    metadata: dict[str, str]


# -- preparing the module ----------------------------------------------------------------------


class _ConvertedBatchNorm(nn.BatchNorm2d):
    """A BatchNorm2d (the conversion of a SyncBatchNorm) that accepts any input with >= 2 dims."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")


def _from_sync_batch_norm(sbn: nn.SyncBatchNorm) -> nn.BatchNorm2d:
    bn = _ConvertedBatchNorm(
        sbn.num_features,
        eps=sbn.eps,
        momentum=sbn.momentum,
        affine=sbn.affine,
        track_running_stats=sbn.track_running_stats,
    )
    bn.load_state_dict(sbn.state_dict())
    return bn


def _remove_hook_norms(module: nn.Module) -> None:
    """Fold the old hook-based ``torch.nn.utils.spectral_norm`` / ``weight_norm`` into weights."""
    from torch.nn.utils.spectral_norm import SpectralNorm
    from torch.nn.utils.weight_norm import WeightNorm

    for m in module.modules():
        for hook in list(m._forward_pre_hooks.values()):
            # spectral norm: the eval-mode weight (no power iteration); weight norm: g * v / |v|
            if isinstance(hook, SpectralNorm):
                nn.utils.remove_spectral_norm(m, hook.name)
            elif isinstance(hook, WeightNorm):
                nn.utils.remove_weight_norm(m, hook.name)


def prepare_for_export(module: nn.Module) -> nn.Module:
    """An export-ready copy of ``module``: pure, deterministic, eval-mode.

    - deep copy (``module`` is left unchanged), ``eval()``, no gradients;
    - every parametrization (e.g. :func:`i2i.nn.spectral_norm`) removed with
      ``leave_parametrized=True``: the weight becomes the plain tensor the parametrization
      computes in eval mode (spectral norm: the weight divided by its estimated largest
      singular value, without a further power iteration); the old hook-based
      ``spectral_norm`` / ``weight_norm`` are folded the same way;
    - ``nn.SyncBatchNorm`` becomes a batch norm with the same parameters and running
      statistics (SyncBatchNorm needs a process group and does not export);
    - dropout layers become ``nn.Identity`` (train-mode-only).

    Args:
        module: The inference module.

    Returns:
        The converted copy; its outputs equal ``module.eval()``'s.

    Example:
        >>> from i2i.nn import spectral_norm
        >>> net = prepare_for_export(spectral_norm(nn.Sequential(nn.Conv2d(3, 4, 3))))
        >>> parametrize.is_parametrized(net[0])
        False
    """
    # tensors that are not graph leaves (e.g. the weight the old hook-based spectral_norm sets
    # in train mode) cannot be deep-copied: copy them detached
    memo: dict[int, Any] = {
        id(v): v.detach().clone()
        for m in module.modules()
        for v in vars(m).values()
        if isinstance(v, torch.Tensor) and not v.is_leaf
    }
    module = copy.deepcopy(module, memo).eval()
    for m in list(module.modules()):
        if parametrize.is_parametrized(m):
            # a deep copy shares the injected Parametrized* class with the original, and removing
            # a parametrization deletes the property from that class: give the copy its own
            cls = type(m)
            own = {k: v for k, v in vars(cls).items() if k not in ("__dict__", "__weakref__")}
            m.__class__ = type(cls.__name__, cls.__bases__, own)
            for name in list(m.parametrizations.keys()):
                parametrize.remove_parametrizations(m, name, leave_parametrized=True)
    _remove_hook_norms(module)

    def convert(m: nn.Module) -> nn.Module:
        if isinstance(m, nn.SyncBatchNorm):
            return _from_sync_batch_norm(m).eval()
        return m

    module = convert(module)
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            new = convert(child)
            if new is not child:
                setattr(parent, name, new)
    module = disable_dropout(module)
    for p in module.parameters():
        p.requires_grad_(False)
    return module.eval()


# -- shapes --------------------------------------------------------------------------------------


def parse_static(text: str) -> tuple[int, int]:
    """Parse a ``--static`` size: ``"256x256"`` -> ``(256, 256)`` (height x width).

    Raises:
        ConfigError: not ``HxW`` with positive integers.
    """
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise ConfigError(
            f"--static expects HEIGHTxWIDTH with positive integers, e.g. 256x256; got {text!r}"
        )
    return int(m.group(1)), int(m.group(2))


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def _check_static(static: tuple[int, int], stride: int) -> None:
    h, w = static
    if h < 1 or w < 1 or h % stride or w % stride:
        good = f"{_round_up(max(h, 1), stride)}x{_round_up(max(w, 1), stride)}"
        raise ConfigError(
            f"--static {h}x{w}: height and width must be positive multiples of the network's "
            f"stride {stride}; use e.g. {good}"
        )


def verification_shapes(
    info: InferenceInfo, static: tuple[int, int] | None
) -> list[tuple[int, int, int, int]]:
    """The input shapes :func:`export_onnx` verifies at.

    Dynamic exports: ``(1, C, 2s, 3s)`` and ``(2, C, 3s, 2s)`` with ``s`` = max(stride, 32)
    rounded up to a multiple of the stride (different batch, height and width, non-square).
    Static exports: the static size at batch 1 and 2.
    """
    c = info.in_channels
    if _is_sampler(info):  # (batch, z_dim): different batch sizes
        return [(1, c), (3, c)]
    if static is not None:
        return [(1, c, *static), (2, c, *static)]
    s = _round_up(max(info.stride, 32), max(1, info.stride))
    return [(1, c, 2 * s, 3 * s), (2, c, 3 * s, 2 * s)]


#: Input kinds the exporter handles: images; noise + class id (class-conditional samplers);
#: integer label maps, optionally with an instance map and / or a style image (SPADE).
SUPPORTED_INPUTS = (
    ("image",),
    ("noise", "class"),
    ("label",),
    ("label", "instance"),
    ("label", "style"),
    ("label", "instance", "style"),
)


def _is_sampler(info: InferenceInfo) -> bool:
    return tuple(info.inputs) == ("noise", "class")


def _is_label(info: InferenceInfo) -> bool:
    return bool(info.inputs) and info.inputs[0] == "label"


def _blocky_ids(
    n: int, h: int, w: int, high: int, generator: torch.Generator | None, cell: int = 8
) -> torch.Tensor:
    """``n x 1 x h x w`` int64 ids in ``[0, high)``, constant over ``cell x cell`` blocks (label
    maps are regions, not per-pixel noise)."""
    coarse = torch.randint(
        0, max(1, high), (n, 1, -(-h // cell), -(-w // cell)), generator=generator
    )
    return coarse.repeat_interleave(cell, 2).repeat_interleave(cell, 3)[..., :h, :w].contiguous()


def make_inputs(
    info: InferenceInfo, shape: Sequence[int], generator: torch.Generator | None = None
) -> tuple[torch.Tensor, ...]:
    """Random inputs of ``shape`` for the module described by ``info``.

    Images: uniform in ``info.value_range``. Samplers (``("noise", "class")``): ``z`` ~ N(0, 1)
    of ``shape`` = (N, z_dim) and class ids uniform in ``[0, num_classes)``. Label maps
    (``shape`` = (N, C, H, W), C ignored): int64 ``N x 1 x H x W`` ids in
    ``[0, num_classes)`` constant over 8x8 blocks; an ``instance`` input gets int64 ids of
    blocks of the same size; a ``style`` input a float image ``N x out_channels x H x W`` in
    ``info.value_range``.
    """
    if _is_sampler(info):
        n = int(shape[0])
        z = torch.randn(n, info.in_channels, generator=generator)
        y = torch.randint(0, max(1, info.num_classes), (n,), generator=generator)
        return z, y
    lo, hi = info.value_range
    if _is_label(info):
        n, _, h, w = (int(s) for s in shape)
        out: list[torch.Tensor] = []
        for kind in info.inputs:
            if kind == "label":
                out.append(_blocky_ids(n, h, w, info.num_classes or info.in_channels, generator))
            elif kind == "instance":
                out.append(_blocky_ids(n, h, w, 1000, generator, cell=16))
            elif kind == "style":
                out.append(
                    torch.rand(n, info.out_channels, h, w, generator=generator) * (hi - lo) + lo
                )
            else:
                raise ExportError(f"unsupported input kind {kind!r} after a label map")
        return tuple(out)
    return (torch.rand(*[int(s) for s in shape], generator=generator) * (hi - lo) + lo,)


# -- onnxruntime -------------------------------------------------------------------------------


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".strip()


def _session(path: str | Path, providers: Sequence[Any] | None = None) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = max(1, torch.get_num_threads())
    try:
        return ort.InferenceSession(
            str(path), opts, providers=list(providers or ["CPUExecutionProvider"])
        )
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ExportError(f"onnxruntime could not load {path}: {_one_line(e)}") from e


def verify_onnx(
    module: nn.Module,
    onnx_path: str | Path,
    info: InferenceInfo,
    shapes: Sequence[Sequence[int]],
    tolerance: float,
    providers: Sequence[Any] | None = None,
) -> list[dict[str, Any]]:
    """Compare onnxruntime's outputs with PyTorch's at each input shape.

    Inputs come from :func:`make_inputs` (seeded: images uniform in ``info.value_range``, label
    maps int64 ids); the PyTorch reference is ``module`` as it is (put it in eval mode, fp32),
    on the device of its parameters.

    Args:
        module: The PyTorch module, in eval mode (not modified).
        onnx_path: The exported model (input ``image``, output ``output``).
        info: The module's inference description (value range, scale).
        shapes: ``(N, C, H, W)`` input shapes; at least two for a meaningful dynamic check.
        tolerance: Max abs difference allowed.
        providers: onnxruntime execution providers (default: ``CPUExecutionProvider``).

    Returns:
        ``[{"shape": [n, c, h, w], "max_abs_diff": float}, ...]``.

    Raises:
        ExportError: an output has the wrong shape or differs by more than ``tolerance`` (the
            message gives the max abs difference and the shape).
    """
    sess = _session(onnx_path, providers)
    wanted = [p if isinstance(p, str) else p[0] for p in (providers or [])]
    missing = [p for p in wanted if p not in sess.get_providers()]
    if missing:
        raise ExportError(
            f"onnxruntime could not use {', '.join(missing)} (it fell back to "
            f"{', '.join(sess.get_providers())}); check onnxruntime-gpu, CUDA and cuDNN versions"
        )
    param = next(iter(module.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    gen = torch.Generator().manual_seed(0)
    names = input_names(info)
    checks: list[dict[str, Any]] = []
    for shape in shapes:
        shape = [int(s) for s in shape]
        xs = make_inputs(info, shape, gen)
        with torch.no_grad():
            ref = module(*(x.to(device) for x in xs)).float().cpu().numpy()
        try:
            feed = {name: x.numpy() for name, x in zip(names, xs, strict=True)}
            out = sess.run([OUTPUT_NAME], feed)[0]
        except Exception as e:  # noqa: BLE001
            raise ExportError(
                f"onnxruntime failed to run the exported model at input shape {shape}: "
                f"{_one_line(e)}"
            ) from e
        if tuple(out.shape) != tuple(ref.shape):
            raise ExportError(
                f"onnxruntime output shape {list(out.shape)} differs from PyTorch's "
                f"{list(ref.shape)} at input shape {shape}"
            )
        diff = float(np.max(np.abs(out.astype(np.float32) - ref))) if ref.size else 0.0
        if not math.isfinite(diff):
            diff = math.inf
        checks.append({"shape": shape, "max_abs_diff": diff})
        if diff > tolerance:
            raise ExportError(
                f"max abs difference {diff:.3g} exceeds tolerance {tolerance:g} at shape {shape} "
                "(onnxruntime vs PyTorch); the exported graph does not reproduce the model"
            )
    return checks


def _cuda_available() -> bool:
    import onnxruntime as ort

    return torch.cuda.is_available() and "CUDAExecutionProvider" in ort.get_available_providers()


def _providers(device: str, precision: str) -> list[Any]:
    if precision == "fp16" or device.startswith("cuda"):
        if not _cuda_available():
            raise ExportError(
                FP16_GPU_MESSAGE
                if precision == "fp16"
                else "device cuda needs a CUDA GPU and onnxruntime-gpu; use --device cpu"
            )
        dev_id = int(device.split(":", 1)[1]) if ":" in device else 0
        # TF32 off: verification measures the graph's error, not the GPU's math mode
        return [("CUDAExecutionProvider", {"device_id": dev_id, "use_tf32": 0})]
    if device != "cpu":
        raise ConfigError(f"export device must be cpu or cuda[:N], got {device!r}")
    return ["CPUExecutionProvider"]


# -- conversions -------------------------------------------------------------------------------


def convert_fp16(model: Any) -> Any:
    """fp16 version of an fp32 ``onnx.ModelProto`` (float32 inputs/outputs kept).

    Initializers and compute become float16 except the ops of :data:`FP16_KEEP_FP32_OPS`, which
    stay float32 (their weights too) with Cast nodes around them.

    Raises:
        ExportError: the converter failed.
    """
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    try:
        return convert_float_to_float16(
            model,
            keep_io_types=True,
            op_block_list=list(DEFAULT_OP_BLOCK_LIST) + list(FP16_KEEP_FP32_OPS),
        )
    except Exception as e:  # noqa: BLE001
        raise ExportError(f"fp16 conversion failed: {_one_line(e)}") from e


def export_module(
    module: nn.Module,
    path: str | Path,
    info: InferenceInfo,
    *,
    static: tuple[int, int] | None = None,
    opset: int = DEFAULT_OPSET,
    example_shape: Sequence[int] | None = None,
) -> None:
    """Export ``module`` (made export-ready first) to ``path`` with no metadata or verification.

    The input is named ``image`` and the output ``output``; batch, height and width are dynamic
    unless ``static=(H, W)`` (then only the batch is). Used by :func:`export_onnx`; handy for
    exporting a bare network such as a discriminator.

    Args:
        module: The module (left unchanged; see :func:`prepare_for_export`).
        path: The ONNX file to write.
        info: Input channels, stride and scale of ``module``.
        static: Fixed ``(H, W)``, or ``None``.
        opset: ONNX opset.
        example_shape: Input shape traced (default: the first of :func:`verification_shapes`).

    Raises:
        ExportError: PyTorch's exporter failed.
    """
    prepared = prepare_for_export(module)
    shape = list(example_shape or verification_shapes(info, static)[0])
    names = input_names(info)
    if _is_sampler(info):
        in_axes: dict[int, str] = {0: "batch"}
        out_axes: dict[int, str] = {0: "batch"}
        dynamic = {name: {0: "batch"} for name in names}
    elif _is_label(info):  # label [+ instance] share H x W; a style image has its own size
        in_axes = {0: "batch"} if static else {0: "batch", 2: "height", 3: "width"}
        out_axes = dict(in_axes)
        dynamic = {}
        for name, kind in zip(names, info.inputs, strict=True):
            dynamic[name] = (
                {0: "batch", 2: "style_height", 3: "style_width"} if kind == "style" else in_axes
            )
    else:
        in_axes = {0: "batch"} if static else {0: "batch", 2: "height", 3: "width"}
        out_axes = dict(in_axes)
        if not static and info.scale != 1:
            out_axes.update({2: f"height_x{info.scale}", 3: f"width_x{info.scale}"})
        dynamic = {names[0]: in_axes}
    dynamic[OUTPUT_NAME] = out_axes
    args = make_inputs(info, shape, torch.Generator().manual_seed(0))
    try:
        with warnings.catch_warnings():
            # shape-dependent Python values are caught by verification at other shapes instead
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", message="Constant folding", category=UserWarning)
            torch.onnx.export(
                prepared,
                args,
                str(path),
                dynamo=False,
                opset_version=opset,
                input_names=names,
                output_names=[OUTPUT_NAME],
                dynamic_axes=dynamic,
                do_constant_folding=True,
            )
    except Exception as e:  # noqa: BLE001 - the exporter raises many types
        if is_out_of_memory(e) or isinstance(e, OSError):
            raise  # the CLI's one line says what ran out
        raise ExportError(
            f"torch.onnx.export failed for {type(module).__name__} (opset {opset}): {_one_line(e)}"
        ) from e


def _check_out(out: Path, checkpoint: Path | None = None) -> None:
    if out.suffix.lower() != ".onnx":
        raise ConfigError(f"output {out} must be a .onnx file (e.g. model.onnx)")
    if out.is_dir():
        raise ConfigError(f"output {out} is a folder; give a file name such as {out}/model.onnx")
    if checkpoint is not None and out.resolve() == checkpoint.resolve():
        raise ConfigError(f"output {out} is the checkpoint itself; choose another file name")


def _save_atomic(model: Any, out: Path) -> None:
    import onnx

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        onnx.save(model, str(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# -- the export ----------------------------------------------------------------------------------


def export_onnx(
    ctx: Any,
    source: str | Path,
    out: str | Path,
    *,
    direction: str | None = None,
    static: tuple[int, int] | None = None,
    opset: int = DEFAULT_OPSET,
    precision: str = "fp32",
    verify: bool = True,
    tolerance: float | None = None,
    quantize: str | None = None,
    calibration: str | Path | None = None,
    calibration_size: int = 256,
    max_calibration_images: int = 32,
    device: str = "cpu",
) -> ExportResult:
    """Export a checkpoint's inference module to ONNX, verified and with i2i metadata.

    Args:
        ctx: Plugin context (:func:`i2i.manager.load_context`).
        source: Run directory, checkpoint directory or weights file.
        out: The ``.onnx`` file to write (replaced atomically; parent folders created).
        direction: e.g. ``AtoB`` / ``BtoA`` (default: the model's default direction).
        static: ``(H, W)`` for fixed height and width (multiples of the stride; batch stays
            dynamic); ``None`` for dynamic batch, height and width.
        opset: ONNX opset (:data:`DEFAULT_OPSET`; 11 to 20).
        precision: ``fp32`` or ``fp16`` (fp16 needs a CUDA GPU and onnxruntime-gpu).
        verify: Check onnxruntime against PyTorch at two shapes (:func:`verification_shapes`).
        tolerance: Max abs difference allowed; default :data:`FP32_TOLERANCE` (1e-3) for fp32,
            :data:`FP16_TOLERANCE` (5e-2) for fp16.
        quantize: ``"int8"`` for static int8 quantization (CPU only; needs ``calibration``).
        calibration: Folder of representative input images for int8 calibration.
        calibration_size: Square calibration image side (rounded to the stride).
        max_calibration_images: Use at most this many calibration images.
        device: onnxruntime device used to verify: ``cpu`` or ``cuda[:N]`` (fp16 uses CUDA).

    Returns:
        What was written (:class:`ExportResult`).

    Raises:
        ConfigError: bad output path, options, direction or static size.
        CheckpointError: the checkpoint cannot be loaded.
        ExportError: the export, conversion or quantization failed, the family's inputs are not
            supported (:data:`SUPPORTED_INPUTS`), or verification found a difference above the
            tolerance.
    """
    import onnx

    from i2i.api import load_checkpoint
    from i2i.training.checkpoint import find_checkpoint

    out = Path(out)
    _check_out(out)
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise ConfigError(f"quantize must be one of {', '.join(QUANTIZATIONS)}, got {quantize!r}")
    if quantize and precision != "fp32":
        raise ConfigError(f"--quantize {quantize} starts from fp32; drop --precision {precision}")
    if quantize and device != "cpu":
        raise ConfigError(f"--quantize {quantize} is CPU-only (onnxruntime CPU kernels); use cpu")
    if quantize and calibration is None:
        raise ConfigError(
            f"--quantize {quantize} needs --calibration DIR, a folder of representative inputs"
        )
    if not _MIN_OPSET <= opset <= 20:
        raise ConfigError(f"opset must be between {_MIN_OPSET} and 20, got {opset}")
    if quantize and opset < 13:
        raise ConfigError(f"--quantize {quantize} (per-channel QDQ) needs opset >= 13, got {opset}")
    if tolerance is not None and not tolerance >= 0:
        raise ConfigError(f"tolerance must be >= 0, got {tolerance}")
    providers = _providers(device, precision)
    default_tol = FP16_TOLERANCE if precision == "fp16" else FP32_TOLERANCE
    tol = float(default_tol if tolerance is None else tolerance)

    _check_out(out, find_checkpoint(source))
    loaded = load_checkpoint(source, context=ctx, device="cpu")
    model = loaded.model.eval()
    family = loaded.spec.name
    directions = model.inference_directions()
    if direction is not None and direction not in directions:
        raise ConfigError(
            f"this '{family}' model translates in direction(s) {', '.join(directions)}; "
            f"got '{direction}'"
        )
    direction = direction or directions[0]
    module = model.inference_module(direction).eval()
    info = model.inference_info(direction)
    if tuple(info.inputs) not in SUPPORTED_INPUTS:
        raise ExportError(
            f"'{family}' takes inputs {', '.join(info.inputs)}; ONNX export supports image "
            "inputs, noise + class samplers and label maps (+ instance map, + style image)"
        )
    if _is_label(info) and quantize:
        raise ConfigError(
            f"'{family}' takes label maps: --quantize {quantize} calibrates on images and does "
            "not apply; export fp32"
        )
    if _is_sampler(info) and (static is not None or quantize):
        raise ConfigError(
            f"'{family}' samples fixed-size images from noise and a class id: --static and "
            "--quantize do not apply"
        )
    stride = max(1, info.stride)
    if static is not None:
        static = (int(static[0]), int(static[1]))
        _check_static(static, stride)
    shapes = verification_shapes(info, static)
    batches: list[np.ndarray] = []
    if quantize == "int8":  # read the calibration images before spending time on the export
        from i2i.export import quantize as q

        batches = q.calibration_batches(
            calibration,  # type: ignore[arg-type]
            info.in_channels,
            calibration_size,
            stride,
            max_calibration_images,
            load_image=getattr(ctx, "load_image", None),
        )

    checks: list[dict[str, Any]] = []
    psnr: float | None = None
    with tempfile.TemporaryDirectory(prefix="i2i-export-") as tmpdir:
        work = Path(tmpdir)
        fp32_path = work / "fp32.onnx"
        export_module(module, fp32_path, info, static=static, opset=opset)
        final_path = fp32_path
        if precision == "fp16":
            final_path = work / "fp16.onnx"
            onnx.save(convert_fp16(onnx.load(str(fp32_path))), str(final_path))
        if verify:
            checks = verify_onnx(module, final_path, info, shapes, tol, providers)
            log.debug("verified %s %s: %s (tolerance %g)", family, direction, checks, tol)
        if quantize == "int8":
            final_path = q.quantize_int8(
                fp32_path, work / "int8.onnx", batches, input_name=INPUT_NAME, work_dir=work
            )
            int8_sess = _session(final_path)
            psnr = q.int8_psnr(_session(fp32_path), int8_sess, batches, INPUT_NAME)
            for shape in shapes:  # the int8 graph must still run at every verified shape
                try:
                    y = int8_sess.run([OUTPUT_NAME], {INPUT_NAME: np.zeros(shape, np.float32)})[0]
                except Exception as e:  # noqa: BLE001
                    raise ExportError(
                        f"the int8 model failed to run at input shape {list(shape)}: {_one_line(e)}"
                    ) from e
                if not np.isfinite(y).all():
                    raise ExportError(f"the int8 model gives non-finite outputs at {list(shape)}")
        final = onnx.load(str(final_path))
    # the quantizer may raise the opset (per-channel QDQ needs 13): record the file's own
    opset = max([o.version for o in final.opset_import if o.domain in ("", "ai.onnx")] or [opset])

    out_precision = "int8" if quantize == "int8" else precision
    verified: dict[str, Any] = {"tolerance": tol, "checks": checks} if verify else {}
    if verified and quantize:
        verified["graph"] = "fp32 before quantization"
    meta = build_metadata(
        info,
        family=family,
        step=loaded.checkpoint.step,
        opset=opset,
        precision=out_precision,
        static=static,
        run_config=loaded.checkpoint.run_config,
        verified=verified,
        label_dontcare=int(getattr(module, "dontcare_label", -1)),
    )
    if psnr is not None:
        meta[PREFIX + "int8_psnr_db"] = json.dumps(psnr) if math.isfinite(psnr) else str(psnr)
    props = {p.key: p.value for p in final.metadata_props if not p.key.startswith(PREFIX)}
    onnx.helper.set_model_props(final, {**props, **meta})
    try:
        onnx.checker.check_model(final)
    except Exception as e:  # noqa: BLE001
        raise ExportError(f"the exported model is not valid ONNX: {_one_line(e)}") from e
    _save_atomic(final, out)
    return ExportResult(
        path=out,
        family=family,
        direction=direction,
        opset=opset,
        precision=out_precision,
        static=static,
        checks=checks,
        tolerance=tol,
        psnr_db=psnr,
        metadata=meta,
    )
