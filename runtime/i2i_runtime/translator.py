"""The Python API of the runtime: :class:`Translator`.

::

    from i2i_runtime import Translator

    t = Translator("h2z.onnx", provider="auto")      # reads everything from the metadata
    out = t.translate(Image.open("horse.jpg"))       # PIL in, PIL out (any size)
    arr = t.translate(np.asarray(img))               # numpy HxWxC uint8/uint16/float in [0, 1]
    big = t.translate(img, tile=1024, overlap=64)    # blended tiles
    t.translate_folder("photos/", "out/", batch_size=8, bit_depth="auto")   # resumable

    city = Translator("city.onnx")                   # label-map model (SPADE)
    photo = city.translate(label_ids)                # HxW integer ids (or an L / P / I image)

    digits = Translator("digits.onnx")               # class-conditional sampler
    imgs = digits.sample(class_id=3, n=8, seed=0)    # N x H x W x C uint8

The conversions are those of the folder pipeline (:func:`i2i_runtime.pipeline.to_model_range` /
:func:`~i2i_runtime.pipeline.from_model_range`), so an image translated here equals the file
``translate_folder`` writes for it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .engine import DEFAULT_MAX_PIXELS, OrtEngine
from .errors import ConfigError, InputError
from .folder import TranslateResult, translate_folder
from .imageio import _pil_to_array, _to_uint, convert_channels
from .info import InferenceInfo
from .labels import Palette, label_ids, read_palette
from .metadata import ModelMetadata
from .pipeline import from_model_range, infer, to_model_range
from .providers import provider_for_device
from .tiling import check_tiling


def _is_pil(x: Any) -> bool:
    return type(x).__module__.startswith("PIL.")


def image_to_unit(image: Any, channels: int) -> tuple[np.ndarray, str]:
    """An image (PIL, or numpy ``H x W`` / ``H x W x C`` uint8, uint16 or float in [0, 1]) as
    an ``H x W x channels`` float32 array in [0, 1], and the kind it came as (``pil``,
    ``pil16``, ``uint8``, ``uint16``, ``float``).

    Raises:
        InputError: an unsupported type, shape or dtype, or float values outside [0, 1].
    """
    if _is_pil(image):
        image.load()
        deep = image.mode.startswith(("I;16", "I", "F"))
        return convert_channels(_pil_to_array(image), channels), "pil16" if deep else "pil"
    if not isinstance(image, np.ndarray):
        raise InputError(
            f"expected a PIL image or a numpy array, got {type(image).__name__}; open files "
            "with PIL.Image.open or use translate_folder"
        )
    arr = image[:, :, None] if image.ndim == 2 else image
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4) or 0 in arr.shape[:2]:
        raise InputError(
            f"expected an H x W or H x W x C (C = 1, 3 or 4) image, got shape {image.shape}"
        )
    if arr.dtype == np.uint8:
        return convert_channels(arr.astype(np.float32) / 255.0, channels), "uint8"
    if arr.dtype == np.uint16:
        return convert_channels(arr.astype(np.float32) / 65535.0, channels), "uint16"
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
            raise InputError(
                "float images must hold values in [0, 1] (no NaN/inf); scale them, or pass "
                "uint8 / uint16 arrays"
            )
        return convert_channels(arr.astype(np.float32), channels), "float"
    raise InputError(f"unsupported image dtype {arr.dtype}; use uint8, uint16 or float32")


def unit_to_image(arr: np.ndarray, kind: str, squeeze: bool = False) -> Any:
    """An ``H x W x C`` float array in [0, 1] back as the kind :func:`image_to_unit` reported."""
    if kind in ("pil", "pil16"):
        from PIL import Image

        if kind == "pil16" and arr.shape[2] == 1:
            return Image.fromarray(_to_uint(arr, 16)[:, :, 0])
        px = _to_uint(arr, 8)
        return Image.fromarray(px[:, :, 0] if px.shape[2] == 1 else px)
    out: np.ndarray
    if kind == "uint8":
        out = _to_uint(arr, 8)
    elif kind == "uint16":
        out = _to_uint(arr, 16)
    else:
        out = np.ascontiguousarray(arr, dtype=np.float32)
    return out[:, :, 0] if squeeze and out.shape[2] == 1 else out


class Translator:
    """An exported i2i model, ready to translate images, label maps or to sample.

    Args:
        model: The ``.onnx`` file (written by ``i2i export``).
        provider: ``auto``, ``cuda``, ``tensorrt`` or ``cpu`` (onnxruntime provider).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (with ``provider="auto"``: picks the
            provider and GPU).
        threads: CPU threads of the onnxruntime session (default: onnxruntime's choice).
        spec: Input spec of a model without i2i metadata (``"channels=3,stride=4,range=-1:1"``).
        direction: Refuse a model exported for another direction (e.g. ``"AtoB"``).
        max_pixels: Per-image pixel limit of one engine call (larger images need ``tile``).

    Raises:
        ConfigError: a missing or unreadable file, a bad provider, device or spec, or another
            direction.
        InputError: the file has no i2i metadata (and no ``spec``).
    """

    def __init__(
        self,
        model: str | Path,
        provider: str = "auto",
        *,
        device: str = "auto",
        threads: int | None = None,
        spec: str | ModelMetadata | None = None,
        direction: str | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        provider, device_id = provider_for_device(device, provider)
        self.engine = OrtEngine(
            model, provider, threads, device_id=device_id, max_pixels=max_pixels, spec=spec
        )
        if direction is not None and direction != self.info.direction:
            raise ConfigError(
                f"{model} translates {self.info.direction} (it was exported for that "
                f"direction); got --direction {direction}; export the other direction"
            )

    @property
    def info(self) -> InferenceInfo:
        """What the model takes and returns."""
        return self.engine.info

    @property
    def metadata(self) -> ModelMetadata:
        """The model's i2i metadata."""
        return self.engine.metadata

    @property
    def kind(self) -> str:
        """``image``, ``label`` or ``sampler`` (see :attr:`InferenceInfo.kind`)."""
        return self.info.kind

    @property
    def description(self) -> str:
        """Where it runs, e.g. ``onnxruntime CPU``."""
        return self.engine.description

    # -- images and label maps -----------------------------------------------------------------

    def translate(
        self,
        image: Any,
        *,
        tile: int = 0,
        overlap: int = 32,
        instance: Any = None,
        style: Any = None,
        palette: Palette | str | Path | None = None,
    ) -> Any:
        """Translate one image of any size (padded to the stride, never resized).

        Args:
            image: Image models: a PIL image, or a numpy ``H x W`` / ``H x W x C`` array (uint8,
                uint16, or float in [0, 1]); converted to the model's channels like image
                files are. Label-map models: integer ``H x W`` class ids, or a PIL image of ids
                (``L``, ``P``, ``I``; RGB through ``palette``).
            tile: Translate in blended ``tile`` x ``tile`` tiles when larger (0 = never).
            overlap: Tile overlap in pixels.
            instance: Label-map models trained with instance maps: the instance ids, like
                ``image``.
            style: Label-map models with a style encoder: the style image.
            palette: Palette (or palette file) for RGB label maps.

        Returns:
            The output as the input came: a PIL image for PIL input (16-bit grayscale stays
            16-bit), else a numpy ``H x W x C`` array of the input's dtype (``H x W`` for an
            ``H x W`` input and a 1-channel model; floats in [0, 1]).

        Raises:
            InputError: an unusable image or label map (one line).
            ConfigError: bad tile options.
        """
        if tile:
            check_tiling(tile, overlap, self.info.stride)
        x, extras, kind = self._prepare(image, instance, style, palette)
        y = infer(self.engine, x[None], [e[None] for e in extras], tile=tile, overlap=overlap)
        squeeze = isinstance(image, np.ndarray) and image.ndim == 2
        return unit_to_image(from_model_range(y[0], self.info), kind, squeeze)

    def _prepare(
        self, image: Any, instance: Any, style: Any, palette: Palette | str | Path | None
    ) -> tuple[np.ndarray, list[np.ndarray], str]:
        info = self.info
        if info.kind == "sampler":
            raise InputError("this model samples from noise and a class id; use sample()")
        if info.kind == "image":
            if instance is not None or style is not None:
                raise InputError("instance= and style= apply to label-map models only")
            unit, kind = image_to_unit(image, info.in_channels)
            return to_model_range(unit, info), [], kind
        if isinstance(palette, (str, Path)):
            palette = read_palette(palette)
        labels = self._ids(image, palette)
        extras: list[np.ndarray] = []
        for k in info.inputs[1:]:
            if k == "instance":
                if instance is None:
                    raise InputError("this model was trained with instance maps: pass instance=")
                extras.append(self._ids(instance, None))
            elif k == "style":
                if style is None:
                    raise InputError("this model takes a style image: pass style=")
                extras.append(to_model_range(image_to_unit(style, info.out_channels)[0], info))
        kind = "pil" if _is_pil(image) else "uint8"
        return labels, extras, kind

    @staticmethod
    def _ids(image: Any, palette: Palette | None) -> np.ndarray:
        if _is_pil(image):
            image.load()
            arr = np.asarray(image)
            mode = image.mode
        elif isinstance(image, np.ndarray):
            arr, mode = image, ""
        else:
            raise InputError(
                f"expected a label map (integer numpy array or PIL image), got "
                f"{type(image).__name__}"
            )
        if arr.ndim == 3 and arr.dtype.kind in "iu" and arr.shape[2] in (3, 4):
            return label_ids(arr.astype(np.uint8), palette, mode=mode or "RGB")[None]
        if arr.ndim not in (2, 3) or arr.dtype.kind not in "iu":
            raise InputError(
                f"a label map must hold integer class ids (H x W), got {arr.dtype} "
                f"{tuple(arr.shape)}"
            )
        return label_ids(arr, palette, mode=mode)[None]

    # -- samplers ------------------------------------------------------------------------------

    def sample(self, class_id: int | None = None, n: int = 1, seed: int = 0) -> np.ndarray:
        """Generate ``n`` images with a class-conditional model.

        Args:
            class_id: The class (default: classes ``0, 1, ...`` in turn).
            n: Number of images.
            seed: Noise seed (numpy's generator: the same seed gives the same images here; the
                PyTorch ``i2i sample`` draws its noise with torch and differs).

        Returns:
            ``n x H x W x C`` uint8 images.

        Raises:
            InputError: not a sampler, a class id out of range, or ``n < 1``.
        """
        if self.info.kind != "sampler":
            raise InputError(
                f"this model takes {', '.join(self.info.inputs)} inputs; sample() needs a "
                "class-conditional model (noise + class)"
            )
        if n < 1:
            raise InputError(f"n must be >= 1, got {n}")
        k = self.info.num_classes
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((n, self.info.in_channels)).astype(np.float32)
        classes = (
            np.full(n, class_id, np.int64) if class_id is not None else np.arange(n) % max(1, k)
        )
        y = self.engine.sample(z, classes)
        return np.stack([_to_uint(from_model_range(yi, self.info), 8) for yi in y])

    # -- folders -------------------------------------------------------------------------------

    def translate_folder(
        self,
        in_dir: str | Path,
        out_dir: str | Path,
        *,
        progress: Callable[..., None] | None = None,
        **options: Any,
    ) -> TranslateResult:
        """Translate a folder, resumably: :func:`i2i_runtime.folder.translate_folder` with this
        model (``overwrite``, ``strict``, ``tile``, ``overlap``, ``batch_size``, ``workers``,
        ``bit_depth``, ``out_format``, ``style``, ``instances``, ``palette``, ``max_pixels``,
        ``max_memory`` in bytes: a peak-memory budget, tiles chosen to fit)."""
        return translate_folder(self.engine, in_dir, out_dir, progress=progress, **options)

    def close(self) -> None:
        """Release the onnxruntime session."""
        self.engine.close()

    def __enter__(self) -> Translator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        i = self.info
        return f"<Translator {i.kind} {i.in_channels}->{i.out_channels} ch, {self.description}>"
