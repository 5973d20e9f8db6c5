"""Inference engines: one interface for a PyTorch checkpoint and an ONNX model (built-in plugin
``engines``).

An :class:`Engine` translates a float32 ``N x C x H x W`` numpy batch in the model's value range
(i2i uses [-1, 1]) and returns ``N x C_out x (H * scale) x (W * scale)`` float32:

- it checks the input first (:meth:`Engine.check_input`) and raises a one-line
  :class:`~i2i.errors.InputError` for what onnxruntime/PyTorch would report obscurely or not at
  all: wrong rank or channel count, a dtype other than float32, an image smaller than the model
  accepts (or not the exact size of a static-shape ONNX export), NaN/inf values, or more than
  ``max_pixels`` pixels per image (translate such images in tiles, ``--tile``);
- it pads H and W to multiples of the network stride itself (reflect, replicate for tiny
  images) and crops the output back, so callers may pass any size; padding already-padded input
  is free.

Label-map models (``info.inputs[0] == "label"``, SPADE) take ``engine(label, *extras)``:
``label`` is an integer ``N x 1 x H x W`` array of class ids (any integer dtype; ids must lie in
``[0, info.num_classes)`` or equal the model's dontcare id, :attr:`Engine.label_dontcare`),
followed by one array per further input kind in ``info.inputs``: ``instance`` (integer
``N x 1 x H x W`` ids, the label's size) and ``style`` (float32 ``N x C x Hs x Ws`` image in the
value range, any size). Label and instance maps are padded the same way as images — reflect /
edge padding copies existing ids, so padded maps hold only valid ids — and the output has the
label map's size.

Engines are not thread-safe: call one from a single thread (the folder pipeline runs inference
in its calling thread and overlaps decoding/encoding in worker threads).

:func:`open_engine` picks the engine through the :func:`i2i.hookspecs.i2i_open_engine` decision
hook. The built-in implementation (``trylast``) opens ``.onnx`` files with onnxruntime
(:class:`OrtEngine`) and anything else as an i2i checkpoint with PyTorch (:class:`TorchEngine`);
a plugin can supply another engine (TensorRT, OpenVINO, ...) by answering first.

onnxruntime providers (``provider=``):

- ``auto``: TensorRT, then CUDA, then CPU: GPU providers are tried only when onnxruntime lists
  them and an NVIDIA driver is present; if they were tried and the session still ends up on the
  CPU, a warning says so.
- ``cuda`` / ``tensorrt``: that provider; when it is missing or onnxruntime silently drops it the
  engine runs on the CPU, logs a WARNING naming the reason and sets ``engine.fallback = True``
  (``engine.description`` says ``CPU (fallback: CUDA requested but unavailable: ...)``).
- ``cpu``: the CPU provider, never a warning.

TensorRT engines are cached in ``$I2I_TRT_CACHE`` (default ``~/.cache/i2i/tensorrt``): building
one takes minutes per new input shape, later runs reuse it.

Example:
    >>> engine = open_engine(ctx, "model.onnx", provider="cuda")  # doctest: +SKIP
    >>> y = engine(x)  # x: 1 x 3 x H x W float32 in [-1, 1]  # doctest: +SKIP
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from i2i.errors import ConfigError, InputError
from i2i.hookspecs import hookimpl
from i2i.specs import InferenceInfo
from i2i.training import runtime

from .tiling import pad_to_multiple

if TYPE_CHECKING:  # pragma: no cover
    from i2i.manager import Context

log = logging.getLogger(__name__)

#: Default per-image pixel limit of an engine call (64 megapixels).
DEFAULT_MAX_PIXELS = 64_000_000

#: ``--provider`` values and the onnxruntime providers they stand for.
PROVIDERS: dict[str, str] = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
_SHORT = {v: k for k, v in PROVIDERS.items()}
_LABEL = {"tensorrt": "TensorRT", "cuda": "CUDA", "cpu": "CPU"}


class Engine:
    """Base class of inference engines (see the module docstring for the contract).

    Subclasses set :attr:`info`, :attr:`name`, :attr:`description` and implement :meth:`run`.

    Attributes:
        info: What the model takes and returns (channels, stride, scale, value range).
        name: Engine kind, e.g. ``"torch"`` or ``"onnxruntime"``.
        description: Where it runs, e.g. ``"cpu, fp32"`` or ``"CUDA (device 0)"``.
        max_pixels: Largest H * W per image accepted by one call (0 = no limit).
        min_size: Smallest H and W accepted.
        static: ``(H, W)`` for a model that only takes exactly that size, else None.
        fallback: True when a requested GPU provider was unavailable and the engine runs on CPU.
    """

    info: InferenceInfo
    name: str = "engine"
    description: str = ""
    max_pixels: int = DEFAULT_MAX_PIXELS
    min_size: int = 1
    static: tuple[int, int] | None = None
    fallback: bool = False
    #: Dontcare id accepted in label-map inputs besides ``[0, num_classes)`` (-1 = none).
    label_dontcare: int = -1

    @property
    def takes_labels(self) -> bool:
        """True when the first input is an integer label map (SPADE-style models)."""
        return bool(self.info.inputs) and self.info.inputs[0] == "label"

    def check_labels(
        self, x: Any, extras: tuple[Any, ...] = ()
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Check a label-map batch and its extra inputs; return them as int64 / float32 arrays.

        Raises:
            InputError: not integer ``N x 1 x H x W``, ids outside ``[0, num_classes)`` (other
                than the dontcare id), a wrong number of extra inputs, an instance map of
                another size, a bad style image, or a size outside the engine's limits.
        """
        shape = tuple(getattr(x, "shape", ()))
        if not isinstance(x, np.ndarray) or x.ndim != 4 or x.shape[1] != 1:
            raise InputError(
                f"expected an N x 1 x H x W integer array of class ids, got "
                f"{type(x).__name__} of shape {shape}"
            )
        if x.dtype.kind not in "iu":
            raise InputError(
                f"label maps must hold integer class ids, got dtype {x.dtype}; load them as ids "
                "(not normalized pixels) and pass x.astype(np.int64)"
            )
        if x.shape[0] < 1:
            raise InputError(f"got an empty batch (shape {shape}); pass at least one label map")
        x = x.astype(np.int64, copy=False)
        n = int(self.info.num_classes or self.info.in_channels)
        bad = (x < 0) | (x >= n)
        if self.label_dontcare >= 0:
            bad &= x != self.label_dontcare
        if bad.any():
            ids = np.unique(x[bad])
            dc = f" or the dontcare id {self.label_dontcare}" if self.label_dontcare >= 0 else ""
            raise InputError(
                f"label map holds ids {', '.join(map(str, ids[:8].tolist()))} outside [0, {n})"
                f"{dc}; this model knows {n} classes — fix the label map (or the palette)"
            )
        self._check_size(int(x.shape[2]), int(x.shape[3]))
        kinds = self.info.inputs[1:]
        if len(extras) != len(kinds):
            raise InputError(
                f"this model takes inputs {', '.join(self.info.inputs)}; got the label map and "
                f"{len(extras)} more array(s) instead of {len(kinds)}"
            )
        out: list[np.ndarray] = []
        for kind, e in zip(kinds, extras, strict=True):
            if kind == "instance":
                if not isinstance(e, np.ndarray) or e.shape != x.shape or e.dtype.kind not in "iu":
                    raise InputError(
                        f"the instance map must be an integer array of the label map's shape "
                        f"{shape}, got {getattr(e, 'dtype', type(e).__name__)} "
                        f"{tuple(getattr(e, 'shape', ()))}"
                    )
                out.append(e.astype(np.int64, copy=False))
            elif kind == "style":
                c = self.info.out_channels
                if (
                    not isinstance(e, np.ndarray)
                    or e.ndim != 4
                    or e.shape[:2] != (x.shape[0], c)
                    or e.dtype != np.float32
                ):
                    raise InputError(
                        f"the style image must be a float32 {x.shape[0]} x {c} x H x W array in "
                        f"{list(self.info.value_range)}, got {getattr(e, 'dtype', '?')} "
                        f"{tuple(getattr(e, 'shape', ()))}"
                    )
                if not np.isfinite(e).all():
                    raise InputError("the style image has NaN or infinite values")
                out.append(e)
            else:
                raise InputError(f"unsupported input kind {kind!r} after a label map")
        return x, out

    def _check_size(self, h: int, w: int) -> None:
        if self.static is not None and (h, w) != tuple(self.static):
            sh, sw = self.static
            raise InputError(
                f"this model was exported with a static input size of {sh}x{sw}, got {h}x{w}; "
                f"re-export it with dynamic shapes, or translate in {sh}x{sw} tiles (--tile {sh})"
            )
        if h < self.min_size or w < self.min_size:
            raise InputError(
                f"image of {h}x{w} pixels is too small: height and width must be at least "
                f"{self.min_size}"
            )
        if self.max_pixels and h * w > self.max_pixels:
            raise InputError(
                f"image of {h}x{w} ({_pixels(h * w)}) is larger than the limit of "
                f"{_pixels(self.max_pixels)} per image; translate it in tiles (--tile 1024)"
            )

    def check_input(self, x: Any) -> None:
        """Check a batch before inference.

        Raises:
            InputError: not a 4-D float32 array with ``info.in_channels`` channels, smaller than
                :attr:`min_size` (or not :attr:`static`), non-finite values, or more than
                :attr:`max_pixels` pixels per image.
        """
        c = self.info.in_channels
        shape = tuple(getattr(x, "shape", ()))
        if not isinstance(x, np.ndarray) or x.ndim != 4:
            raise InputError(
                f"expected an N x {c} x H x W float32 numpy array, got "
                f"{type(x).__name__} of shape {shape}"
            )
        if x.shape[1] != c:
            raise InputError(
                f"this model takes {c}-channel images ({_channels_name(c)}), got {x.shape[1]} "
                f"channels (shape {shape}); load images with {c} channels"
            )
        if x.dtype != np.float32:
            raise InputError(
                f"expected float32 pixels in {list(self.info.value_range)}, got dtype {x.dtype}; "
                "convert with x.astype(np.float32) after scaling"
            )
        if x.shape[0] < 1:
            raise InputError(f"got an empty batch (shape {shape}); pass at least one image")
        self._check_size(int(x.shape[2]), int(x.shape[3]))
        if not np.isfinite(x).all():
            bad = int(x.size - np.count_nonzero(np.isfinite(x)))
            raise InputError(f"input has {bad} NaN or infinite values; fix or drop the image")

    def __call__(self, x: np.ndarray, *extras: np.ndarray) -> np.ndarray:
        """Translate ``x`` (any H and W): check, pad to the stride, run, crop back.

        Args:
            x: Images, or integer label maps for label-map models.
            *extras: Label-map models only: one array per further input kind (instance map,
                style image; see the module docstring).

        Shape:
            - Input: ``(N, in_channels, H, W)`` float32 in ``info.value_range`` (label maps:
              ``(N, 1, H, W)`` integer ids).
            - Output: ``(N, out_channels, H * scale, W * scale)`` float32.
        """
        if self.takes_labels:
            x, rest = self.check_labels(x, extras)
            padded = [pad_to_multiple(x, self.info.stride)[0]]
            for kind, e in zip(self.info.inputs[1:], rest, strict=True):
                padded.append(pad_to_multiple(e, self.info.stride)[0] if kind == "instance" else e)
            h, w = int(x.shape[2]), int(x.shape[3])
            y = self.run(*(np.ascontiguousarray(a) for a in padded))
            return y[:, :, : h * self.info.scale, : w * self.info.scale]
        if extras:
            raise InputError(f"this model takes one image input, got {1 + len(extras)} arrays")
        self.check_input(x)
        h, w = int(x.shape[2]), int(x.shape[3])
        xp, _ = pad_to_multiple(x, self.info.stride)
        y = self.run(np.ascontiguousarray(xp))
        s = self.info.scale
        return y[:, :, : h * s, : w * s]

    def run(self, x: np.ndarray, *extras: np.ndarray) -> np.ndarray:
        """Run the model on checked inputs whose H and W are multiples of the stride."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the model (optional)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}: {self.description}>"


def _oom_message(x: np.ndarray, what: str) -> str:
    n, _, h, w = x.shape
    return (
        f"ran out of {what} translating {n} image(s) of {h}x{w}; use a smaller --batch-size "
        "or translate in tiles (--tile 1024, smaller if needed)"
    )


def _pixels(n: int) -> str:
    return f"{n / 1e6:.1f} MP" if n >= 100_000 else f"{n} pixels"


def _channels_name(c: int) -> str:
    return {1: "grayscale", 3: "RGB", 4: "RGBA"}.get(c, f"{c} channels")


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
            raise InputError(_oom_message(x, f"GPU memory on {self.device}")) from None


# -- onnxruntime --------------------------------------------------------------------------------


def _cuda_driver_problem() -> str | None:
    """Why no NVIDIA driver can be used here (None when ``libcuda`` loads)."""
    if sys.platform == "darwin":
        return "CUDA does not exist on macOS"
    lib = "nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1"
    try:
        ctypes.CDLL(lib)
    except OSError:
        return f"no NVIDIA driver found: {lib} cannot be loaded"
    return None


def _trt_cache_dir() -> Path:
    env = os.environ.get("I2I_TRT_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "i2i" / "tensorrt"


def _provider_entry(short: str, device_id: int) -> Any:
    full = PROVIDERS[short]
    if short == "cuda":
        return (full, {"device_id": device_id})
    if short == "tensorrt":
        cache = _trt_cache_dir()
        cache.mkdir(parents=True, exist_ok=True)
        opts = {
            "device_id": device_id,
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": str(cache),
        }
        return (full, opts)
    return full


def _first_line(e: BaseException) -> str:
    """The gist of an onnxruntime error: one line, without its C++ source location."""
    text = " ".join(str(e).split())
    if text.startswith("/"):  # "/onnxruntime_src/...cc:729 void f(A&, B&) Please install ..."
        text = re.sub(r"^/\S+:\d+\s+(.*?\)\s+)?", "", text, count=1)
    return (text[:200] + "...") if len(text) > 200 else text or type(e).__name__


class OrtEngine(Engine):
    """Run an ONNX model exported by ``i2i export`` with onnxruntime.

    The i2i metadata of the file (:func:`i2i.export.metadata.read_metadata`) gives channels,
    stride, scale, value range and static size; an fp16 model gets fp16 input and returns
    float32.

    Args:
        path: The ``.onnx`` file.
        provider: ``auto``, ``cuda``, ``tensorrt`` or ``cpu`` (see the module docstring).
        threads: CPU threads for the CPU provider (default: onnxruntime's choice).
        device_id: GPU index for the CUDA/TensorRT providers.
        max_pixels: Per-image pixel limit (0 = none).

    Attributes:
        providers: The providers the session actually uses, best first.
        fallback: A requested GPU provider is not used (see ``description`` for why).

    Raises:
        ConfigError: unknown provider, a missing file, or a model without image input.
        InputError: the file has no i2i metadata.
    """

    name = "onnxruntime"

    def __init__(
        self,
        path: str | Path,
        provider: str = "auto",
        threads: int | None = None,
        *,
        device_id: int = 0,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        import onnxruntime as ort

        from .metadata import read_metadata

        path = Path(path)
        provider = (provider or "auto").strip().lower()
        if provider not in ("auto", *PROVIDERS):
            raise ConfigError(f"unknown provider '{provider}'; use auto, {', '.join(PROVIDERS)}")
        if not path.is_file():
            raise ConfigError(f"ONNX model {path} does not exist")
        self.path = path
        try:
            self.metadata = read_metadata(path)
        except InputError:
            raise
        except Exception as e:  # noqa: BLE001 - onnx raises protobuf errors for broken files
            raise ConfigError(f"{path} is not a readable ONNX model: {_first_line(e)}") from e
        self.info = self.metadata.inference_info()
        if self.info.inputs != ("image",) and self.info.inputs[:1] != ("label",):
            raise ConfigError(
                f"{path} takes inputs {self.info.inputs}; translation needs an image or a "
                "label-map input"
            )
        self.label_dontcare = self.metadata.label_dontcare
        self.static = self.metadata.static
        self.max_pixels = max_pixels

        available = ort.get_available_providers()
        wanted, notes = self._plan(provider, available)
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = int(threads)
        sess, errors = None, list(notes)
        for i in range(len(wanted)):
            chain = [_provider_entry(p, device_id) for p in wanted[i:]]
            try:
                # enable_fallback=0: no silent retry (and no print) inside onnxruntime; we retry
                # ourselves and say why
                sess = ort.InferenceSession(
                    str(path), sess_options=opts, providers=chain, enable_fallback=0
                )
                break
            except Exception as e:  # noqa: BLE001 - onnxruntime raises several types
                if wanted[i] == "cpu":
                    raise ConfigError(f"onnxruntime cannot load {path}: {_first_line(e)}") from e
                errors.append(f"{_LABEL[wanted[i]]}: {_first_line(e)}")
        assert sess is not None
        self.session = sess
        self.providers = [_SHORT.get(p, p) for p in sess.get_providers()]
        used = self.providers[0] if self.providers else "cpu"
        self.provider = used
        inp = sess.get_inputs()[0]
        self._input_name = inp.name
        self._input_dtype = np.float16 if "float16" in inp.type else np.float32
        #: (name, dtype) of every input, in order (float inputs follow an fp16 model's dtype)
        self._inputs = [
            (i.name, np.int64 if "int64" in i.type else np.float16 if "float16" in i.type
             else np.float32)
            for i in sess.get_inputs()
        ]  # fmt: skip
        self._fixed_batch = inp.shape[0] if isinstance(inp.shape[0], int) else None

        requested = provider if provider != "auto" else None
        tried_gpu = [p for p in wanted if p != "cpu"]
        gpu_label = f" (device {device_id})" if used != "cpu" else ""
        self.description = f"onnxruntime {_LABEL.get(used, used)}{gpu_label}"
        if requested and requested != used:
            reason = self._reason(requested, errors)
            self.fallback = True
            self.description = (
                f"onnxruntime {_LABEL.get(used, used)} (fallback: {_LABEL[requested]} "
                f"requested but unavailable: {reason})"
            )
            log.warning(
                "%s was requested but the ONNX session runs on %s: %s.%s Install a matching "
                "onnxruntime-gpu / CUDA / cuDNN%s, or pass --provider %s to silence this",
                _LABEL[requested],
                _LABEL.get(used, used),
                reason,
                " Translation will be slow." if used == "cpu" else "",
                " / TensorRT" if requested == "tensorrt" else "",
                used,
            )
        elif provider == "auto" and tried_gpu and used == "cpu":
            reason = self._reason(tried_gpu[-1], errors)
            self.fallback = True
            self.description = f"onnxruntime CPU (fallback: GPU providers failed: {reason})"
            log.warning(
                "a GPU provider (%s) is installed but the ONNX session runs on the CPU: %s; "
                "pass --provider cpu to silence this",
                ", ".join(_LABEL[p] for p in tried_gpu),
                reason,
            )
        elif provider == "auto" and used == "cpu" and notes:
            self.description = f"onnxruntime CPU (auto: {notes[0]})"

    @staticmethod
    def _plan(provider: str, available: list[str]) -> tuple[list[str], list[str]]:
        """Providers to try (short names, best first) and notes on what was left out."""
        notes: list[str] = []
        if provider == "cpu":
            return ["cpu"], notes
        if provider == "auto":
            gpu = [p for p in ("tensorrt", "cuda") if PROVIDERS[p] in available]
            if not gpu:
                notes.append("no GPU provider installed (pip install onnxruntime-gpu)")
                return ["cpu"], notes
            problem = _cuda_driver_problem()
            if problem:
                notes.append(problem)
                return ["cpu"], notes
            return [*gpu, "cpu"], notes
        chain = ["tensorrt", "cuda", "cpu"] if provider == "tensorrt" else ["cuda", "cpu"]
        keep = [p for p in chain if p == "cpu" or PROVIDERS[p] in available]
        if PROVIDERS[provider] not in available:
            notes.append(
                f"{_LABEL[provider]}: this onnxruntime build has no {PROVIDERS[provider]} "
                f"(installed: {', '.join(available)}; pip install onnxruntime-gpu)"
            )
        return keep, notes

    @staticmethod
    def _reason(provider: str, errors: list[str]) -> str:
        label = _LABEL[provider]
        for e in errors:
            if e.startswith(label + ":"):
                return e[len(label) + 1 :].strip()
        problem = _cuda_driver_problem()
        if problem:
            return problem
        return (
            f"onnxruntime could not create the {label} provider (its log above says why; "
            "usually CUDA/cuDNN libraries that do not match the onnxruntime-gpu version)"
        )

    def run(self, x: np.ndarray, *extras: np.ndarray) -> np.ndarray:
        if self._fixed_batch == 1 and x.shape[0] > 1:  # a batch-1 export: one image per run
            return np.concatenate(
                [self.run(x[i : i + 1], *(e[i : i + 1] for e in extras)) for i in range(x.shape[0])]
            )
        arrays = (x, *extras)
        if len(arrays) != len(self._inputs):
            raise InputError(f"{self.path} takes {len(self._inputs)} inputs, got {len(arrays)}")
        feeds = {
            name: a.astype(dt, copy=False)
            for (name, dt), a in zip(self._inputs, arrays, strict=True)
        }
        try:
            (y,) = self.session.run(None, feeds)[:1]
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
            if "allocat" in str(e).lower() or "out of memory" in str(e).lower():
                raise InputError(_oom_message(x, f"{self.provider.upper()} memory")) from None
            raise
        return np.asarray(y, dtype=np.float32)

    def close(self) -> None:
        self.session = None  # type: ignore[assignment]


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
        device_id = 0
        if provider == "auto" and device != "auto":
            try:
                dev = torch.device(device)
            except RuntimeError:
                raise ConfigError(f"unknown device '{device}'; use auto, cpu or cuda:N") from None
            provider = "cpu" if dev.type == "cpu" else "cuda" if dev.type == "cuda" else provider
            device_id = dev.index or 0
        engine = OrtEngine(
            source, provider, options.get("threads"), device_id=device_id, max_pixels=max_pixels
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
    return TorchEngine.from_checkpoint(
        context,
        source,
        direction=direction,
        device=device,
        precision=precision,
        max_pixels=max_pixels,
    )
