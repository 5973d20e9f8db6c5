"""The memory budget of a folder translation (``--max-memory``): what each image may hold, and
the tile size that keeps an engine call within what is left.

The budget bounds the peak resident set of the whole process. :class:`MemoryBudget` splits it:

- the **baseline**: what the process holds once the engine is open (model, libraries, the
  engine's caches), measured;
- per image, a **reservation** (:meth:`MemoryBudget.need`) taken before the image is decoded and
  released once its output is written: the largest of what decoding takes (from the header:
  :meth:`~i2i_runtime.imageio.ImageHeader.decode_bytes`), what the image holds while it is
  translated (its input, the stride padding, the output and the tiling weights) and what
  encoding the output takes (:func:`~i2i_runtime.imageio.encode_bytes`);
- per engine call, the **activations**: :class:`~i2i_runtime.memory.ActivationCost`, measured per
  pixel with a probe run of the engine. A call gets what the reservations of all images in flight
  leave; when the whole image does not fit, it is translated in blended tiles
  (:func:`~i2i_runtime.tiling.translate_tiled`) of the largest size that does.

An image whose reservation plus the smallest tile does not fit the budget at all is refused
before it is decoded, in one line (:class:`~i2i_runtime.errors.ImageTooLargeError`), so every
image that is accepted is translated within the budget.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from .errors import ConfigError, ImageTooLargeError
from .imageio import ImageHeader, encode_bytes_for, megapixels
from .info import InferenceInfo
from .memory import ActivationCost, format_size, probe_engine, release_memory, rss

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Tiles of one engine call when tiling within a budget (more only when memory allows).
MAX_TILE_BATCH = 4


def _ceil_to(n: int, k: int) -> int:
    return -(-n // k) * k


@dataclasses.dataclass(frozen=True)
class TilePlan:
    """How one batch is translated: ``tile`` 0 = whole images."""

    tile: int = 0
    tile_batch: int = MAX_TILE_BATCH


class MemoryBudget:
    """Reservations and tile sizes within ``limit`` bytes of peak RSS (see the module docstring).

    Args:
        limit: The budget (bytes).
        info: The engine's model description.
        cost: The engine's measured activation cost.
        baseline: RSS of the process before any image is read (bytes).
        overlap: Tile overlap in pixels (tiles are larger than twice this).

    Raises:
        ConfigError: the budget is not larger than the baseline plus a small margin.
    """

    def __init__(
        self,
        limit: int,
        info: InferenceInfo,
        cost: ActivationCost,
        baseline: int,
        overlap: int = 32,
    ) -> None:
        self.limit = int(limit)
        self.info = info
        self.cost = cost
        self.baseline = int(baseline)
        self.overlap = int(overlap)
        #: Allocator slack, Python objects and thread stacks not counted anywhere else.
        self.margin = max(48 * 2**20, self.limit // 25)
        self.available = self.limit - self.baseline - self.margin
        stride = max(1, int(info.stride))
        self.min_tile = max(_ceil_to(2 * self.overlap + 1, stride), _ceil_to(32, stride))
        #: Multiplies the probe's activation cost: 1.25 to start (the cost per pixel of a
        #: network varies with the size, e.g. with the convolution algorithm chosen), raised
        #: when a call is seen to take more (:meth:`observe`).
        self.factor = 1.25
        self._reserved = 0
        self._lock = threading.Condition()
        if self.available <= self.call_bytes(self.min_tile, 1, tiled=True):
            raise ConfigError(
                f"--max-memory {format_size(self.limit)} leaves no room for images: the process "
                f"already takes {format_size(self.baseline)} with the model loaded; raise "
                f"--max-memory (at least {format_size(self.baseline + 4 * self.margin)})"
            )

    # -- what things take ------------------------------------------------------------------------

    def _channels(self) -> tuple[int, int]:
        info = self.info
        c_in = (
            8 * (1 + sum(k == "instance" for k in info.inputs[1:]))
            if info.kind == "label"
            else (4 * info.in_channels)
        )
        return c_in, 4 * info.out_channels  # bytes per input / output pixel

    def need(
        self, height: int, width: int, header: ImageHeader | None = None, out_bits: int = 16
    ) -> int:
        """Bytes reserved for one image of ``height x width`` input pixels from before it is
        decoded until its output (``out_bits`` per sample) is written (everything but the
        activations)."""
        info = self.info
        b_in, b_out = self._channels()
        s, stride = info.scale, max(1, info.stride)
        p = height * width
        hp, wp = _ceil_to(height, stride), _ceil_to(width, stride)
        pp = hp * wp
        x = b_in * p
        if header is not None:
            decode = header.decode_bytes(info.in_channels if info.kind == "image" else 1)
        else:
            decode = 0  # not an image Pillow can read: accounted for once decoded
        if info.kind == "label":
            decode += 3 * x  # ids to int64, palette mapping
        else:
            decode = max(decode, 2 * x)  # HWC -> CHW in the model's range
        pad = b_in * pp if pp != p else 0
        out = b_out * pp * s * s
        weights = 4 * pp * s * s
        holding = x + pad + out + weights
        encoding = out + encode_bytes_for(hp * s, wp * s, info.out_channels, out_bits)
        return int(max(decode, holding, encoding))

    def call_bytes(self, size: int, n: int, *, tiled: bool, tile_batch: int = 1) -> int:
        """What one engine call takes beyond the reservations: ``n`` images of ``size`` input
        pixels (``tiled``: ``n * tile_batch`` tiles of ``size`` x ``size``)."""
        b_in, b_out = self._channels()
        s = self.info.scale
        if tiled:
            k = n * tile_batch
            px = k * size * size
            return self.activations(px) + b_in * px + 2 * b_out * size * size * s * s * k
        return self.activations(n * size) + (b_in * n * size if n > 1 else 0)

    def activations(self, pixels: int) -> int:
        """The activation memory of one call on ``pixels`` input pixels (with :attr:`factor`)."""
        return int(self.cost(pixels) * self.factor)

    def observe(self, pixels: int, predicted: int, grown: int) -> None:
        """Learn from a call on ``pixels`` input pixels predicted to grow the RSS by
        ``predicted`` bytes that grew it by ``grown``: later calls get a larger :attr:`factor`
        when it took more (never a smaller one). Small calls are too noisy to learn from."""
        act = self.activations(pixels)
        if act < 32 * 2**20 or grown <= predicted:
            return
        over = (grown - (predicted - act)) / act
        new = min(4.0, self.factor * over * 1.05)
        if new > self.factor:
            log.info(
                "an engine call took %s (%s predicted): activation estimate x%.2f from now on",
                format_size(grown),
                format_size(predicted),
                new,
            )
            self.factor = new

    def call_plan_bytes(
        self, n: int, height: int, width: int, tile: int, tile_batch: int
    ) -> tuple[int, int]:
        """(input pixels of one engine call, predicted RSS growth of the whole call) for a batch
        of ``n`` images translated with ``tile`` (0 = whole) -- the tiled output, blending
        weights and padded copy included."""
        stride = max(1, self.info.stride)
        hp, wp = _ceil_to(height, stride), _ceil_to(width, stride)
        if not tile or (hp <= tile and wp <= tile):
            return n * hp * wp, self.call_bytes(hp * wp, n, tiled=False)
        b_in, b_out = self._channels()
        s2 = self.info.scale**2
        buffers = n * hp * wp * (b_in + b_out * s2) + 4 * hp * wp * s2
        side = min(tile, max(hp, wp))
        calls = self.call_bytes(side, n, tiled=True, tile_batch=tile_batch)
        return n * tile_batch * side * side, calls + buffers

    def smallest(
        self,
        height: int,
        width: int,
        header: ImageHeader | None = None,
        out_bits: int = 16,
        tile: int = 0,
    ) -> int:
        """The least memory an image can be translated with (its reservation + the smallest
        tile, the user's ``tile`` when that is smaller, or the whole image when that is)."""
        stride = max(1, self.info.stride)
        pp = _ceil_to(height, stride) * _ceil_to(width, stride)
        whole = self.call_bytes(pp, 1, tiled=False)
        low = min(self.min_tile, tile) if tile else self.min_tile
        return self.need(height, width, header, out_bits) + min(
            whole, self.call_bytes(low, 1, tiled=True)
        )

    def refuse(
        self,
        height: int,
        width: int,
        header: ImageHeader | None,
        name: object,
        out_bits: int = 16,
        tile: int = 0,
    ) -> None:
        """Raise :class:`ImageTooLargeError` when the image cannot fit the budget at all (in
        tiles no larger than ``tile``, when given)."""
        least = self.smallest(height, width, header, out_bits, tile)
        if least <= self.available:
            return
        what = header.describe() if header is not None else f"{width}x{height}"
        buffers = format_size(self.need(height, width, header, out_bits))
        raise ImageTooLargeError(
            f"image '{name}' ({what}, {megapixels(height * width)}) needs at least "
            f"{format_size(least)} to translate even in "
            f"{min(self.min_tile, tile) if tile else self.min_tile}-pixel tiles (its input, "
            f"output and encoding buffers alone take {buffers}), more than --max-memory "
            f"{format_size(self.limit)} leaves for images "
            f"({format_size(self.available)} once the model takes {format_size(self.baseline)}); "
            "raise --max-memory or downscale the image"
        )

    def _even_tiles(self, side: int, hp: int, wp: int, low: int) -> int:
        """The tile size (at least ``low``) that needs no more tiles than ``side`` but splits
        the image evenly (a 768-pixel image in tiles of at most 596 takes two tiles of 404,
        not two of 596)."""
        stride, ov = max(1, self.info.stride), self.overlap + max(1, self.info.stride)
        even = max(_even_tile(n, _tiles_needed(n, side, ov), ov, stride) for n in (hp, wp))
        return max(low, min(side, even))

    # -- reservations ------------------------------------------------------------------------------

    @property
    def reserved(self) -> int:
        return self._reserved

    def try_reserve(self, nbytes: int) -> bool:
        """Reserve ``nbytes`` when they fit next to the other reservations (never blocks)."""
        with self._lock:
            if self._reserved and self._reserved + nbytes > self.available:
                return False
            self._reserved += nbytes
            return True

    def force_reserve(self, nbytes: int) -> None:
        """Reserve ``nbytes`` whatever else is reserved (memory already taken)."""
        with self._lock:
            self._reserved += nbytes

    def release(self, nbytes: int) -> None:
        with self._lock:
            self._reserved = max(0, self._reserved - nbytes)
            self._lock.notify_all()
        release_memory(nbytes)

    # -- tiles -------------------------------------------------------------------------------------

    def plan(self, n: int, height: int, width: int, tile: int = 0, max_pixels: int = 0) -> TilePlan:
        """How to translate a batch of ``n`` images of ``height x width`` within what the
        reservations leave (the batch's own reservations included).

        Args:
            n: Images in the batch.
            height, width: Their size.
            tile: The user's ``--tile`` (0 = none): tiles are never larger.
            max_pixels: The engine's per-call pixel limit (0 = none).

        Returns:
            ``TilePlan(0)`` when whole images fit, else the largest tile (a multiple of the
            stride, larger than twice the overlap) that does; ``tile_batch`` tiles per call.
            ``None``-like ``TilePlan(-1)`` when not even the smallest tile fits right now (wait
            for outputs being written, then ask again).
        """
        stride = max(1, self.info.stride)
        hp, wp = _ceil_to(height, stride), _ceil_to(width, stride)
        free = self.available - self._reserved
        whole_ok = (not tile or (hp <= tile and wp <= tile)) and (
            not max_pixels or hp * wp <= max_pixels
        )
        if whole_ok and self.call_bytes(hp * wp, n, tiled=False) <= free:
            return TilePlan(0)
        # the user's --tile when it fits; else the largest that does, down to the smallest
        # tile (which is the user's when that is smaller)
        low = min(self.min_tile, tile) if tile else self.min_tile
        fits_pixels = not max_pixels or tile * tile <= max_pixels
        if tile and fits_pixels and self.call_bytes(tile, n, tiled=True) <= free:
            side = tile
        else:
            per_px = self.call_bytes(1000, n, tiled=True) / (1000 * 1000)  # ~bytes per pixel
            side = int(math.sqrt(max(0.0, free) / max(per_px, 1e-9)))
            side = min(side, max(hp, wp) + stride)
            if tile:
                side = min(side, tile)
            if max_pixels:
                side = min(side, int(math.isqrt(max_pixels)))
            side = side // stride * stride
            while side >= low and self.call_bytes(side, n, tiled=True) > free:
                side -= stride
            if side < low:
                return TilePlan(-1)
            side = self._even_tiles(side, hp, wp, low)
        batch = MAX_TILE_BATCH
        while batch > 1 and self.call_bytes(side, n, tiled=True, tile_batch=batch) > free:
            batch -= 1
        return TilePlan(side, batch)


def _tiles_needed(size: int, side: int, overlap: int) -> int:
    return 1 if size <= side else -(-(size - overlap) // (side - overlap))


def _even_tile(size: int, count: int, overlap: int, stride: int) -> int:
    """The smallest tile (a multiple of ``stride``) with which ``count`` tiles overlapping by
    ``overlap`` cover ``size`` pixels."""
    return _ceil_to(-(-(size + (count - 1) * overlap) // count), stride)


def open_budget(
    engine: Any, limit: int, overlap: int = 32, cost: ActivationCost | None = None
) -> MemoryBudget | None:
    """The :class:`MemoryBudget` of ``limit`` bytes for ``engine``: probes its activation cost
    (once per engine; cached as ``engine.activation_cost``) and measures the baseline.

    Returns:
        None when ``limit`` is 0, or when memory cannot be measured on this system (then a
        warning says the budget is not enforced).

    Raises:
        ConfigError: the budget is below what the process already takes.
    """
    if not limit:
        return None
    if getattr(engine, "static", None) is not None:
        log.info("a static-shape model takes images of one size only: --max-memory is not used")
        return None
    if cost is None:
        cost = getattr(engine, "activation_cost", None)
    if cost is None:
        try:
            cost = probe_engine(engine)
        except Exception as e:  # noqa: BLE001 - e.g. a plugin engine refusing the probe images
            log.warning(
                "the engine's memory could not be measured (%s); --max-memory %s is not "
                "enforced (translate large images with --tile)",
                " ".join(str(e).split())[:200] or type(e).__name__,
                format_size(limit),
            )
            return None
        if cost is not None:
            try:
                engine.activation_cost = cost
            except AttributeError:  # pragma: no cover - an engine with __slots__
                pass
    release_memory()
    base = rss()
    if cost is None or base is None:
        log.warning(
            "the process's memory cannot be measured on this system; --max-memory %s is not "
            "enforced (translate large images with --tile)",
            format_size(limit),
        )
        return None
    return MemoryBudget(limit, engine.info, cost, base, overlap)


# -- scheduling ------------------------------------------------------------------------------


class BatchRelease:
    """Releases the reservations of a batch's images once all their outputs are written (they
    are views of one output array)."""

    def __init__(self, count: int, nbytes: int, budget: MemoryBudget | None) -> None:
        self.left, self.nbytes, self.budget = count, nbytes, budget

    def one_done(self) -> None:
        self.left -= 1
        if self.left == 0 and self.budget is not None:
            self.budget.release(self.nbytes)


def admitted(
    pool: Executor,
    decode: Callable[[int], T],
    admit: Callable[[int], T | int],
    budget: MemoryBudget | None,
    make_room: Callable[[], bool],
    total: int,
    ahead: int,
) -> Iterator[T]:
    """``decode(0), decode(1), ...`` computed in ``pool`` in order, at most ``ahead`` submitted
    but not taken, each submitted only once ``admit`` accepted it (``admit(i)`` returns the
    bytes to reserve, or an item to yield instead of decoding, e.g. one with an error) and its
    memory is reserved in ``budget``; ``make_room()`` (called from this thread) frees memory
    when the reservation does not fit and nothing decoded is waiting, and returns False when
    nothing is in flight any more. Decoded items get ``.reserved`` set."""
    pending: collections.deque[tuple[Future | None, T | None, int]] = collections.deque()
    nxt = 0
    while nxt < total or pending:
        while nxt < total and len(pending) < ahead:
            verdict = admit(nxt)
            if not isinstance(verdict, int):
                pending.append((None, verdict, 0))
                nxt += 1
                continue
            if budget is not None and not budget.try_reserve(verdict):
                if pending:
                    break  # take what is decoded first; memory frees up as it is written
                if make_room():
                    continue
                budget.force_reserve(verdict)  # nothing else in flight: it fits (admitted)
            pending.append((pool.submit(decode, nxt), None, verdict))
            nxt += 1
        if not pending:
            continue
        fut, item, reserved = pending.popleft()
        if item is None:
            assert fut is not None
            item = fut.result()
            item.reserved = reserved  # type: ignore[attr-defined]
        yield item
