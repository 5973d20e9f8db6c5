"""The folder pipeline: decode, infer and encode overlap, with bounded memory.

::

    decode pool (threads)  ->  main thread: batch + engine  ->  encode pool (threads)
      read_image / hook          consecutive same-size images       [0, 1] -> PNG (8/16 bit)
      at most queue_size ahead   stacked up to batch_size            at most queue_size waiting

Pillow, zlib and numpy release the GIL while they decode, compress and convert, so
threads overlap with inference (which runs in the calling thread: engines are not thread-safe).
At most ``queue_size`` decoded images wait for inference and at most ``queue_size`` translated
images wait to be written, so memory stays flat however many images there are.

Label-map models (SPADE): ``inputs`` are label-map files, decoded to integer class ids with
:func:`i2i_runtime.labels.read_label_map` (never normalized or resized; RGB maps go through a
palette), with optional per-image instance maps and style images (``extras``). The output has
the label map's size.

Outputs keep the bit depth of their input with ``bit_depth="auto"`` (a 16-bit PNG/TIFF gives a
16-bit PNG), keep one channel for a 1-channel model, and are written atomically (a crash never
leaves a half-written file, so a re-run that skips existing outputs resumes cleanly).

Example:
    >>> res = run_folder(engine, inputs, outputs, batch_size=8)  # doctest: +SKIP
    >>> res.images_per_s  # doctest: +SKIP
    41.7
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .budget import MAX_TILE_BATCH, BatchRelease, admitted, open_budget
from .engine import Engine
from .errors import ConfigError, DatasetError, ImageReadError, ImageTooLargeError, InputError
from .imageio import (
    DEFAULT_MAX_PIXELS,
    is_sixteen_bit,
    limited_loader,
    read_header,
    too_large,
    write_image,
)
from .info import InferenceInfo
from .labels import read_label_map
from .memory import ActivationCost, RssSampler, format_size, release_memory
from .tiling import check_tiling, translate_tiled

log = logging.getLogger(__name__)

#: Largest number of pixels (N * H * W) stacked into one engine call.
MAX_BATCH_PIXELS = 16_000_000

_SIXTEEN_BIT_SUFFIXES = (".png", ".tif", ".tiff")


def to_model_range(img: np.ndarray, info: InferenceInfo) -> np.ndarray:
    """An ``H x W x C`` image in [0, 1] as the model's ``C x H x W`` float32 input in
    ``info.value_range``."""
    x = np.array(img.transpose(2, 0, 1), dtype=np.float32, order="C")  # always a new array
    lo, hi = (float(v) for v in info.value_range)
    if (lo, hi) != (0.0, 1.0):
        x *= np.float32(hi - lo)
        x += np.float32(lo)
    return x


def from_model_range(y: np.ndarray, info: InferenceInfo, *, inplace: bool = False) -> np.ndarray:
    """A model output ``C x H x W`` in ``info.value_range`` as an ``H x W x C`` image in
    [0, 1] (clipped); with ``inplace`` (a float32 ``y`` the caller owns) ``y`` itself is
    converted and a transposed view of it returned (no copy of a large output)."""
    lo, hi = (float(v) for v in info.value_range)
    if inplace and y.dtype == np.float32 and y.flags.writeable:
        if (lo, hi) != (0.0, 1.0):
            y -= np.float32(lo)
            y /= np.float32(hi - lo)
        np.clip(y, 0.0, 1.0, out=y)
        return y.transpose(1, 2, 0)
    arr = y.transpose(1, 2, 0)
    if (lo, hi) != (0.0, 1.0):
        arr = (arr - np.float32(lo)) / np.float32(hi - lo)
    return np.clip(arr, 0.0, 1.0)


def infer(
    engine: Engine,
    x: np.ndarray,
    extras: Sequence[np.ndarray] = (),
    *,
    tile: int = 0,
    overlap: int = 32,
    tile_batch: int = 4,
) -> np.ndarray:
    """Run ``engine`` on a batch, in blended tiles when it is larger than ``tile``.

    Label-map models: the spatial extras (instance maps) are cut into the same tiles as the
    label map; a style image goes whole with every tile.

    Args:
        engine: The engine.
        x: ``N x C x H x W`` batch (label maps: integer ``N x 1 x H x W``).
        extras: One array per further input of a label-map model (``engine.info.inputs[1:]``).
        tile: Tile size (0 = never tile); images larger than this in H or W are tiled.
        overlap: Tile overlap in pixels.
        tile_batch: Tiles per engine call.

    Returns:
        ``N x C_out x (H * scale) x (W * scale)`` float32.
    """
    info = engine.info
    h, w = x.shape[-2:]
    if not tile or (h <= tile and w <= tile):
        return engine(x, *extras)
    if not extras:
        return translate_tiled(
            engine, x, tile, overlap, info.stride, info.scale, tile_batch=tile_batch
        )
    kinds = list(info.inputs[1:])
    spatial = [k for k in kinds if k != "style"]
    style = [e for k, e in zip(kinds, extras, strict=True) if k == "style"]
    packed = np.concatenate(
        [x] + [e for k, e in zip(kinds, extras, strict=True) if k != "style"], 1
    )

    def run_tiles(b: np.ndarray) -> np.ndarray:
        parts = [b[:, i : i + 1] for i in range(1 + len(spatial))]
        args = iter(parts[1:])
        reps = [np.tile(st, (len(b) // len(st), 1, 1, 1)) for st in style]
        ordered = [reps.pop(0) if k == "style" else next(args) for k in kinds]
        return engine(parts[0], *ordered)

    return translate_tiled(
        run_tiles, packed, tile, overlap, info.stride, info.scale, tile_batch=tile_batch
    )


@dataclasses.dataclass
class PipelineResult:
    """What :func:`run_folder` did.

    Attributes:
        written: Output files written, in input order.
        failed: ``(input, reason)`` for unreadable images and images the engine refused.
        seconds: Wall time.
        images_per_s: Images finished (written or failed) per second.
        batches: Engine calls made (tiled images count one per image batch).
    """

    written: list[Path] = dataclasses.field(default_factory=list)
    failed: list[tuple[Path, str]] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    images_per_s: float = 0.0
    batches: int = 0


@dataclasses.dataclass
class _Item:
    index: int
    x: np.ndarray | None  # C x H x W float32 in the model's value range (label maps: int64 ids)
    sixteen_bit: bool
    error: Exception | None = None
    extras: list[np.ndarray] = dataclasses.field(default_factory=list)  # per further input
    reserved: int = 0  # bytes of the memory budget held until its output is written


class _InlineExecutor(Executor):
    """Runs each task at submit time (``workers=0``: no threads, for debugging)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - handed to the caller through the future
            fut.set_exception(e)
        return fut


def _executor(workers: int, name: str) -> Executor:
    return (
        ThreadPoolExecutor(workers, thread_name_prefix=name) if workers > 0 else _InlineExecutor()
    )


def parse_bit_depth(bit_depth: int | str) -> int | None:
    """``"auto"`` -> None (follow the input), ``8`` / ``16`` (int or str) -> that depth.

    Raises:
        ConfigError: anything else.
    """
    if str(bit_depth).strip().lower() == "auto":
        return None
    if str(bit_depth).strip() in ("8", "16"):
        return int(bit_depth)
    raise ConfigError(f"--bit-depth must be auto, 8 or 16, got {bit_depth!r}")


def run_folder(
    engine: Engine,
    inputs: list[Path],
    outputs: list[Path],
    *,
    batch_size: int = 4,
    decode_workers: int = 2,
    encode_workers: int = 2,
    queue_size: int = 8,
    tile: int = 0,
    overlap: int = 32,
    bit_depth: int | str = "auto",
    strict: bool = False,
    progress: Callable[[int, int, float], None] | None = None,
    load_image: Callable[[Path, int], np.ndarray] | None = None,
    max_batch_pixels: int = MAX_BATCH_PIXELS,
    extras: Mapping[str, Sequence[Path]] | None = None,
    palette: Any = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    max_memory: int = 0,
    activation_cost: ActivationCost | None = None,
) -> PipelineResult:
    """Translate ``inputs[i]`` into ``outputs[i]`` for every i.

    Args:
        engine: The :class:`~i2i_runtime.engine.Engine` (called from this thread only).
        inputs: Image files.
        outputs: Output files (format from the suffix; parents are created).
        batch_size: Most images per engine call; consecutive images of the same size are
            stacked (never more than ``max_batch_pixels`` pixels in all). When the engine
            refuses a batch (e.g. out of GPU memory) its images are retried one by one and
            later batches are half as large.
        decode_workers: Decoding threads (0: decode in this thread).
        encode_workers: Encoding threads (0: encode in this thread).
        queue_size: Most decoded images waiting for inference, and most translated images
            waiting to be written.
        tile: Translate images larger than ``tile`` pixels (height or width) in overlapping
            tiles (see :func:`~i2i_runtime.tiling.translate_tiled`); 0 = never (unless the
            memory budget needs tiles).
        overlap: Overlap of neighbouring tiles in pixels.
        bit_depth: ``auto`` (16-bit output for 16-bit input, when the output format allows it),
            ``8`` or ``16``.
        strict: Raise on the first unreadable (or refused) image instead of recording it.
        progress: ``progress(done, total, images_per_s)`` after each finished image.
        load_image: ``load_image(path, channels) -> HxWxC float32 in [0, 1]`` (default:
            :func:`i2i_runtime.imageio.read_image`; i2i passes its plugins' loader).
        max_batch_pixels: Pixel budget of one engine call.
        extras: Label-map models: for each further input kind of the engine (``"instance"``,
            ``"style"``), one file per input (the same file may repeat, e.g. one style image for
            all). Instance maps are read as ids and must have their label map's size; style
            images are read with ``load_image`` and scaled to the value range.
        palette: A :class:`i2i_runtime.labels.Palette` mapping the colours of RGB label maps
            to ids (None: label maps must be single-channel / palette PNGs of ids).
        max_pixels: Largest input (width x height) read: larger files are refused from their
            header before they are decoded (0 / None: no limit).
        max_memory: Budget of the process's peak resident memory in bytes (0: none). The
            engine's activation memory per pixel is measured (:func:`~i2i_runtime.memory.
            probe_engine`), every image reserves what it needs before it is decoded, and an
            image whose whole translation would not fit is translated in the largest blended
            tiles that do (see :mod:`i2i_runtime.budget`); an image that cannot fit even in
            small tiles is refused before decoding.
        activation_cost: The engine's measured activation cost (default: probe it when a
            budget is set).

    Returns:
        A :class:`PipelineResult`.

    Raises:
        ConfigError: bad options, or a budget below what the process already takes.
        ImageReadError / InputError: a bad image with ``strict``.
    """
    if len(inputs) != len(outputs):
        raise ConfigError(f"got {len(inputs)} inputs but {len(outputs)} outputs")
    if batch_size < 1 or queue_size < 1 or decode_workers < 0 or encode_workers < 0:
        raise ConfigError(
            "batch_size and queue_size must be >= 1 and worker counts >= 0, got "
            f"batch_size={batch_size}, queue_size={queue_size}, "
            f"decode_workers={decode_workers}, encode_workers={encode_workers}"
        )
    depth = parse_bit_depth(bit_depth)
    info = engine.info
    if tile:
        check_tiling(tile, overlap, info.stride)
    if info.out_channels not in (1, 3):
        raise ConfigError(
            f"the model outputs {info.out_channels} channels; image files take 1 (grayscale) or "
            "3 (RGB)"
        )
    if info.kind == "sampler":
        raise ConfigError(
            "this model samples images from noise and a class id (no input images); sample "
            "from it instead of translating a folder"
        )
    load = limited_loader(load_image, max_pixels)
    labels = info.kind == "label"
    extra_kinds = list(info.inputs[1:]) if labels else []
    extras = dict(extras or {})
    for kind in extra_kinds:
        if len(extras.get(kind, ())) != len(inputs):
            raise ConfigError(
                f"the model takes a {kind} input per label map: got "
                f"{len(extras.get(kind, ()))} {kind} file(s) for {len(inputs)} label maps"
            )
    if tile and "style" in extra_kinds and batch_size > 1:
        batch_size = 1  # tiles of one image share its style code
    budget = open_budget(engine, max_memory, overlap, activation_cost) if inputs else None
    if budget is not None and "style" in extra_kinds:
        batch_size = 1  # automatic tiles too
    total = len(inputs)
    result = PipelineResult()
    t0 = time.perf_counter()
    done = 0

    def finished() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total, done / max(1e-9, time.perf_counter() - t0))

    def decode_labels(i: int) -> _Item:
        try:
            x = read_label_map(inputs[i], palette, max_pixels=max_pixels)[None]
            more = []
            for kind in extra_kinds:
                path = extras[kind][i]
                if kind == "instance":
                    inst = read_label_map(path, max_pixels=max_pixels)[None]
                    if inst.shape != x.shape:
                        raise InputError(
                            f"instance map '{path}' is {inst.shape[2]}x{inst.shape[1]} but label "
                            f"map '{inputs[i]}' is {x.shape[2]}x{x.shape[1]}; they must match"
                        )
                    more.append(inst)
                else:
                    more.append(to_model_range(load(path, info.out_channels), info))
        except (ImageReadError, DatasetError, InputError) as e:
            return _Item(i, None, False, e)
        return _Item(i, x, False, extras=more)

    def decode(i: int) -> _Item:
        if labels:
            return decode_labels(i)
        path = inputs[i]
        try:
            img = load(path, info.in_channels)
        except ImageReadError as e:
            return _Item(i, None, False, e)
        x = to_model_range(img, info)
        del img
        release_memory(x.nbytes)
        return _Item(i, x, is_sixteen_bit(path))

    def admit(i: int) -> _Item | int:
        """Check image ``i`` from its header before decoding: the pixel limit and what it
        needs of the budget. Returns an item with the error, or the bytes to reserve."""
        try:
            header = read_header(inputs[i])
        except ImageTooLargeError as e:
            return _Item(i, None, False, e)
        except ImageReadError:
            return 0  # unreadable for Pillow: the loader reports it (or a plugin decodes it)
        error = too_large(header, max_pixels, inputs[i], info.in_channels)
        if error is not None or budget is None:
            return _Item(i, None, False, error) if error is not None else 0
        bits = out_bits(i, header.bits >= 16)
        try:
            budget.refuse(header.height, header.width, header, inputs[i], bits, tile)
        except ImageTooLargeError as e:
            return _Item(i, None, False, e)
        return budget.need(header.height, header.width, header, bits)

    def out_bits(i: int, sixteen: bool) -> int:
        bits = depth if depth is not None else 16 if sixteen else 8
        return 8 if bits == 16 and outputs[i].suffix.lower() not in _SIXTEEN_BIT_SUFFIXES else bits

    def encode(i: int, y: np.ndarray, sixteen: bool) -> Path:
        dst = outputs[i]
        write_image(dst, from_model_range(y, info, inplace=True), bit_depth=out_bits(i, sixteen))
        return dst

    def fail(item: _Item, exc: Exception) -> None:
        if budget is not None:
            budget.release(item.reserved)
        item.x, item.extras = None, []
        if strict:
            raise exc
        path = inputs[item.index]
        if str(path) in str(exc):  # the message names the file already
            log.warning("skipped: %s", exc)
        else:
            log.warning("skipped %s: %s", path, exc)
        result.failed.append((inputs[item.index], str(exc)))
        finished()

    decoder = _executor(decode_workers, "i2i-decode")
    encoder = _executor(encode_workers, "i2i-encode")
    writing: collections.deque[tuple[Future, BatchRelease]] = collections.deque()
    cap = [batch_size]  # the batch size now (halved when the engine refuses a batch)
    batch: list[_Item] = []  # same-size images gathered for one engine call

    def collect(block: bool) -> None:
        """Record finished writes in order; with ``block``, wait for the oldest."""
        while writing and (block or writing[0][0].done()):
            fut, shared = writing.popleft()
            result.written.append(fut.result())
            shared.one_done()
            finished()
            block = False

    def make_room() -> bool:
        """Free budget for the next image: translate the gathered batch, else wait for the
        oldest write. False when nothing is in flight."""
        if batch:
            flush(batch)
            batch.clear()
            return True
        if writing:
            collect(block=True)
            return True
        return False

    def plan_for(items: list[_Item], x: np.ndarray) -> tuple[int, int]:
        """(tile, tiles per call) for a batch: the user's ``tile``, or within the budget."""
        if budget is None:
            return tile, MAX_TILE_BATCH
        n, h, w = int(x.shape[0]), int(x.shape[-2]), int(x.shape[-1])
        while True:
            plan = budget.plan(n, h, w, tile, engine.max_pixels)
            if plan.tile >= 0:
                break
            if not writing:
                raise InputError(  # the admission check makes this unreachable
                    f"not enough memory left to translate {n} image(s) of {w}x{h} within "
                    f"--max-memory {format_size(budget.limit)}; raise it"
                )
            collect(block=True)  # outputs being written free their memory
        if plan.tile and plan.tile != tile:
            log.info(
                "translating %s (%dx%d) in %d-pixel tiles (%d per call) to stay within "
                "--max-memory %s (the model takes %s measured)",
                inputs[items[0].index].name if n == 1 else f"{n} images",
                w,
                h,
                plan.tile,
                plan.tile_batch,
                format_size(budget.limit),
                budget.cost.describe(),
            )
        return plan.tile, plan.tile_batch

    def flush(items: list[_Item]) -> None:
        if not items:
            return
        if len(items) == 1:  # no stacked copy of a (possibly large) single image
            x = items[0].x[None]  # type: ignore[index]
            more = [e[None] for e in items[0].extras]
        else:
            x = np.stack([it.x for it in items])  # type: ignore[misc]
            more = [np.stack([it.extras[k] for it in items]) for k in range(len(items[0].extras))]
        try:
            t, tb = plan_for(items, x)
            result.batches += 1
            if budget is None:
                y = infer(engine, x, more, tile=t, overlap=overlap, tile_batch=tb)
            else:  # watch what the call really takes: later plans learn from it
                n, h, w = int(x.shape[0]), int(x.shape[-2]), int(x.shape[-1])
                pixels, predicted = budget.call_plan_bytes(n, h, w, t, tb)
                with RssSampler() as watch:
                    y = infer(engine, x, more, tile=t, overlap=overlap, tile_batch=tb)
                budget.observe(pixels, predicted, watch.grown)
            del x, more
            if not y.flags.writeable:
                y = np.array(y)
            ys = list(zip(items, y, strict=True))
        except InputError as e:
            if len(items) > 1:  # e.g. out of memory: smaller batches from now on, these singly
                cap[0] = max(1, len(items) // 2)
                log.info("engine refused a batch of %d (%s); batches of %d", len(items), e, cap[0])
                for it in items:
                    flush([it])
                return
            fail(items[0], e)
            return
        del y
        # the outputs are views of one array: its memory is released with the last write
        shared = BatchRelease(len(ys), sum(it.reserved for it in items), budget)
        for it, yi in ys:
            it.x, it.extras = None, []
            while len(writing) >= queue_size:
                collect(block=True)
            writing.append((encoder.submit(encode, it.index, yi, it.sixteen_bit), shared))
        del ys
        collect(block=False)

    try:
        for item in admitted(decoder, decode, admit, budget, make_room, total, queue_size):
            if item.error is not None:
                fail(item, item.error)
                continue
            assert item.x is not None
            if budget is not None and item.reserved == 0:  # no header: account for it now
                item.reserved = budget.need(int(item.x.shape[-2]), int(item.x.shape[-1]))
                budget.force_reserve(item.reserved)
            if batch:
                same = item.x.shape == batch[0].x.shape and [  # type: ignore[union-attr]
                    e.shape for e in item.extras
                ] == [e.shape for e in batch[0].extras]
                pixels = (len(batch) + 1) * item.x.shape[1] * item.x.shape[2]
                if not same or len(batch) >= cap[0] or pixels > max_batch_pixels:
                    flush(batch)
                    batch.clear()
            batch.append(item)
            collect(block=False)
        flush(batch)
        batch.clear()
        while writing:
            collect(block=True)
    finally:
        for f, _ in writing:
            f.cancel()
        decoder.shutdown(wait=True, cancel_futures=True)
        encoder.shutdown(wait=True, cancel_futures=True)
    result.seconds = time.perf_counter() - t0
    result.images_per_s = done / max(1e-9, result.seconds)
    return result
