"""Inference engines: the :class:`Engine` interface and the onnxruntime engine (:class:`OrtEngine`).

The full i2i package adds its PyTorch engine (``i2i.export.engine.TorchEngine``) on this base
class, so both run the same checks, padding and cropping.

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

Label-map models (``info.kind == "label"``, SPADE) take ``engine(label, *extras)``:
``label`` is an integer ``N x 1 x H x W`` array of class ids (any integer dtype; ids must lie in
``[0, info.num_classes)`` or equal the model's dontcare id, :attr:`Engine.label_dontcare`),
followed by one array per further input kind in ``info.inputs``: ``instance`` (integer
``N x 1 x H x W`` ids, the label's size) and ``style`` (float32 ``N x C x Hs x Ws`` image in the
value range, any size). Label and instance maps are padded the same way as images — reflect /
edge padding copies existing ids, so padded maps hold only valid ids — and the output has the
label map's size.

Engines are not thread-safe: call one from a single thread (the folder pipeline runs inference
in its calling thread and overlaps decoding/encoding in worker threads).

Class-conditional samplers (``info.kind == "sampler"``: noise + class id) are run with
:meth:`Engine.sample` (``z``: float32 ``N x z_dim``, ``classes``: integer ``N``); calling such an
engine with an image is refused.

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
    >>> engine = OrtEngine("model.onnx", provider="cuda")  # doctest: +SKIP
    >>> y = engine(x)  # x: 1 x 3 x H x W float32 in [-1, 1]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError, InputError
from .info import InferenceInfo
from .memory import ActivationCost
from .metadata import ModelMetadata, parse_spec, read_metadata
from .providers import (
    _LABEL,
    _SHORT,
    PROVIDERS,
    _first_line,
    _provider_entry,
    fallback_reason,
    import_onnxruntime,
    plan_providers,
)
from .tiling import pad_to_multiple

log = logging.getLogger(__name__)

#: Default per-image pixel limit of an engine call (64 megapixels).
DEFAULT_MAX_PIXELS = 64_000_000


class EngineMemoryError(InputError):
    """An engine call ran out of (GPU or CPU) memory: a smaller batch or tiles may fit."""


class Engine:
    """Base class of inference engines (see the module docstring for the contract).

    Subclasses set :attr:`info`, :attr:`name`, :attr:`description` and implement :meth:`run`.

    Attributes:
        info: What the model takes and returns (channels, stride, scale, value range).
        name: Engine kind, e.g. ``"torch"`` or ``"onnxruntime"``.
        description: Where it runs, e.g. ``"cpu, fp32"`` or ``"CUDA (device 0)"``.
        max_pixels: Largest H * W per image accepted by one call (0 = no limit).
        min_size: Smallest H and W accepted (images at or below the network stride are padded
            further when the network needs it, see :meth:`_run_any_size`).
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
    #: Measured memory of one call per input pixel (:func:`i2i_runtime.memory.probe_engine`;
    #: set the first time a memory budget needs it).
    activation_cost: ActivationCost | None = None

    @property
    def takes_labels(self) -> bool:
        """True when the first input is an integer label map (SPADE-style models)."""
        return self.info.kind == "label"

    def sample(self, z: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """Generate images from noise ``z`` (float32 ``N x z_dim``) and class ids (integer
        ``N``) with a class-conditional model.

        Returns:
            ``N x out_channels x H x W`` float32 in ``info.value_range``.

        Raises:
            InputError: not a sampler, or inputs of the wrong shape, dtype or class range.
        """
        if self.info.kind != "sampler":
            raise InputError(
                f"this model takes {', '.join(self.info.inputs)} inputs; sample() needs a "
                "class-conditional model (noise + class)"
            )
        zd, k = self.info.in_channels, self.info.num_classes
        if not isinstance(z, np.ndarray) or z.ndim != 2 or z.shape[1] != zd or len(z) < 1:
            raise InputError(
                f"noise must be a float32 N x {zd} array, got {tuple(getattr(z, 'shape', ()))}"
            )
        classes = np.asarray(classes)
        if classes.shape != (len(z),) or classes.dtype.kind not in "iu":
            raise InputError(
                f"classes must be {len(z)} integer ids (one per noise row), got "
                f"{classes.dtype} {tuple(classes.shape)}"
            )
        bad = (classes < 0) | (classes >= k)
        if bad.any():
            raise InputError(
                f"class ids {', '.join(map(str, np.unique(classes[bad])[:8].tolist()))} are "
                f"outside [0, {k}); this model knows {k} classes"
            )
        if not np.isfinite(z).all():
            raise InputError("the noise has NaN or infinite values")
        return self.run(z.astype(np.float32, copy=False), classes.astype(np.int64, copy=False))

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
            spatial = [True]
            for kind, e in zip(self.info.inputs[1:], rest, strict=True):
                padded.append(pad_to_multiple(e, self.info.stride)[0] if kind == "instance" else e)
                spatial.append(kind == "instance")
            h, w = int(x.shape[2]), int(x.shape[3])
            y = self._run_any_size(padded, spatial)
            return y[:, :, : h * self.info.scale, : w * self.info.scale]
        if self.info.kind == "sampler":
            raise InputError(
                "this model samples images from noise and a class id; use sample(z, classes)"
            )
        if extras:
            raise InputError(f"this model takes one image input, got {1 + len(extras)} arrays")
        self.check_input(x)
        h, w = int(x.shape[2]), int(x.shape[3])
        xp, _ = pad_to_multiple(x, self.info.stride)
        y = self._run_any_size([xp], [True])
        s = self.info.scale
        return y[:, :, : h * s, : w * s]

    #: Images whose height or width is below this may be padded further when the network
    #: fails on them (see :meth:`_run_any_size`).
    SMALL = 256

    def _run_any_size(self, arrays: list[np.ndarray], spatial: list[bool]) -> np.ndarray:
        """:meth:`run` on stride-padded inputs, also for images too small for the network.

        A network with downsampling and normalization fails on tiny inputs (a 1x1 map reaches
        instance / per-image batch norm, a reflect pad wider than the map): PyTorch says
        ``Expected more than 1 value per channel``, onnxruntime ``Pad reflect requires axis
        length >= 2``. When a run fails and the image is smaller than :attr:`SMALL` on a side,
        its small sides are padded (edge replication) to the smallest size that works (2, 4, 8
        ... times the stride; remembered for later images) and the output is cropped back.
        Only when no size up to 512 works is it an :class:`InputError` (one line).
        """
        h, w = int(arrays[0].shape[2]), int(arrays[0].shape[3])
        known = getattr(self, "_working_size", 0)
        if known and min(h, w) < known:
            return self._run_grown(arrays, spatial, known, h, w)
        try:
            return self.run(*(np.ascontiguousarray(a) for a in arrays))
        except EngineMemoryError:
            raise
        except Exception as e:  # noqa: BLE001 - PyTorch / onnxruntime raise many types
            if min(h, w) >= self.SMALL:
                raise
            first = e
        stride = max(1, int(self.info.stride))
        size = stride
        while size < 512:
            size *= 2
            if size <= min(h, w):
                continue
            try:
                y = self._run_grown(arrays, spatial, size, h, w)
            except EngineMemoryError:
                raise
            except Exception:  # noqa: BLE001 - still too small: try a larger size
                continue
            self._working_size = size
            log.info("images smaller than %dx%d are padded to that size for this model", size, size)
            return y
        reason = " ".join(str(first).split())[:200] or type(first).__name__
        raise InputError(
            f"an image of {h}x{w} pixels is too small for this model, even padded to 512x512 "
            f"({type(first).__name__}: {reason}); remove it or enlarge it"
        )

    def _run_grown(
        self, arrays: list[np.ndarray], spatial: list[bool], size: int, h: int, w: int
    ) -> np.ndarray:
        """Run with the spatial inputs edge-padded to at least ``size`` on each side; crop."""
        grown = []
        for a, is_spatial in zip(arrays, spatial, strict=True):
            if is_spatial:
                ph, pw = max(0, size - h), max(0, size - w)
                a = np.pad(a, [(0, 0)] * (a.ndim - 2) + [(0, ph), (0, pw)], mode="edge")
            grown.append(np.ascontiguousarray(a))
        y = self.run(*grown)
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
    n = x.shape[0]
    size = f" of {x.shape[2]}x{x.shape[3]}" if x.ndim == 4 else ""
    return (
        f"ran out of {what} translating {n} image(s){size}; use a smaller --batch-size "
        "or translate in tiles (--tile 1024, smaller if needed)"
    )


def _pixels(n: int) -> str:
    return f"{n / 1e6:.1f} MP" if n >= 100_000 else f"{n} pixels"


def _channels_name(c: int) -> str:
    return {1: "grayscale", 3: "RGB", 4: "RGBA"}.get(c, f"{c} channels")


# -- onnxruntime --------------------------------------------------------------------------------


class OrtEngine(Engine):
    """Run an ONNX model exported by ``i2i export`` with onnxruntime.

    The i2i metadata of the file (:func:`i2i_runtime.metadata.read_metadata`) gives channels,
    stride, scale, value range and static size; an fp16 model gets fp16 input and returns
    float32. A file without it is refused in one line unless ``spec`` describes it.

    Args:
        path: The ``.onnx`` file.
        provider: ``auto``, ``cuda``, ``tensorrt`` or ``cpu`` (see the module docstring).
        threads: CPU threads for the CPU provider (default: onnxruntime's choice).
        device_id: GPU index for the CUDA/TensorRT providers.
        max_pixels: Per-image pixel limit (0 = none).
        spec: For a model without i2i metadata: its input spec (``"channels=3,stride=4"``, see
            :func:`i2i_runtime.metadata.parse_spec`) or a :class:`ModelMetadata`; it replaces
            the file's metadata.

    Attributes:
        metadata: The model's :class:`~i2i_runtime.metadata.ModelMetadata`.
        providers: The providers the session actually uses, best first.
        fallback: A requested GPU provider is not used (see ``description`` for why).

    Raises:
        ConfigError: unknown provider, a missing or unreadable file, a bad spec, or inputs the
            engine cannot feed.
        InputError: the file has no i2i metadata (and no ``spec`` was given).
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
        spec: str | ModelMetadata | None = None,
    ) -> None:
        ort = import_onnxruntime()
        path = Path(path)
        provider = (provider or "auto").strip().lower()
        if provider not in ("auto", *PROVIDERS):
            raise ConfigError(f"unknown provider '{provider}'; use auto, {', '.join(PROVIDERS)}")
        if not path.is_file():
            raise ConfigError(f"ONNX model {path} does not exist")
        self.path = path
        if isinstance(spec, str):
            spec = parse_spec(spec, path)
        self.metadata = spec if spec is not None else read_metadata(path)
        self.info = self.metadata.inference_info()
        if self.info.kind == "image" and self.info.inputs != ("image",):
            raise ConfigError(
                f"{path} takes inputs {self.info.inputs}; i2i runs image, label-map "
                "(+ instance, + style) and noise + class models"
            )
        self.label_dontcare = self.metadata.label_dontcare
        self.static = self.metadata.static
        self.max_pixels = max_pixels

        available = ort.get_available_providers()
        wanted, notes = plan_providers(provider, available)
        opts = ort.SessionOptions()
        # onnxruntime would print its own (multi-line, coloured) log of a failing node to
        # stderr; the engine raises the failure with its message instead
        opts.log_severity_level = 4
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
        if len(self._inputs) != len(self.info.inputs):
            raise ConfigError(
                f"{path} has {len(self._inputs)} inputs but its description lists "
                f"{len(self.info.inputs)} ({', '.join(self.info.inputs)}); fix --spec"
            )
        self._check_shapes(sess, spec is not None)

        requested = provider if provider != "auto" else None
        tried_gpu = [p for p in wanted if p != "cpu"]
        gpu_label = f" (device {device_id})" if used != "cpu" else ""
        self.description = f"onnxruntime {_LABEL.get(used, used)}{gpu_label}"
        if requested and requested != used:
            reason = fallback_reason(requested, errors)
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
            reason = fallback_reason(tried_gpu[-1], errors)
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

    def _check_shapes(self, sess: Any, from_spec: bool) -> None:
        """The channels the description (metadata or --spec) gives must be the graph's."""
        info = self.info
        first = sess.get_inputs()[0].shape
        want_in = 1 if info.kind == "label" else info.in_channels
        if info.kind == "sampler":
            want_in = info.in_channels  # noise: N x z_dim
        out = sess.get_outputs()[0].shape
        fix = "fix --spec" if from_spec else "re-export it (its i2i metadata does not match it)"
        for what, shape, want in (("input", first, want_in), ("output", out, info.out_channels)):
            if len(shape) > 1 and isinstance(shape[1], int) and shape[1] != want:
                raise ConfigError(
                    f"{self.path}: the model's {what} has {shape[1]} channels but its "
                    f"description says {want}; {fix}"
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
                raise EngineMemoryError(
                    _oom_message(x, f"{self.provider.upper()} memory")
                ) from None
            shape = "x".join(str(int(v)) for v in x.shape)
            raise InputError(
                f"onnxruntime cannot run {self.path.name} on a {shape} input: {_first_line(e)}; "
                "check that the file and its i2i metadata belong together (re-export it)"
            ) from None
        return np.asarray(y, dtype=np.float32)

    def close(self) -> None:
        self.session = None  # type: ignore[assignment]
