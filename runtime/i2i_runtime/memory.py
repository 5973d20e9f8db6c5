"""Process memory: sizes (``--max-memory 2GB``), the default budget, resident-set measurements
and the memory an engine's activations take per pixel.

A translation's memory budget bounds the **peak resident set** (RSS) of the whole process:
what the model and libraries take (measured after the engine is opened), the images being
decoded, translated and encoded (known from their headers and the pipeline's code), and the
activations of one engine call. The last one depends on the network, so it is measured
(:func:`probe_engine`): the engine translates two small images and the growth of the peak RSS
gives the bytes per pixel, which scale linearly with the pixels of a call for convolutional
networks. :class:`ActivationCost` extrapolates conservatively from them.

Measurements poll the RSS from a thread (:class:`RssSampler`; Linux ``/proc/self/statm``, or
``psutil`` elsewhere when installed); the kernel's peak is never reset (that would hide it from
``getrusage`` and ``/usr/bin/time``). Where no RSS can be read at all, the budget cannot be
enforced and :func:`probe_engine` says so (``None``). Freed memory that glibc keeps for reuse is
handed back first (``malloc_trim``), so the resident set tracks live memory.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import gc
import logging
import math
import os
import platform
import re
import sys
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from .errors import ConfigError

log = logging.getLogger(__name__)

_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_size(text: str | int | float, what: str = "--max-memory") -> int:
    """Bytes of a size such as ``2GB``, ``1.5G``, ``512MB``, ``4GiB`` or ``2000000000``.

    ``K``/``KB``, ``M``/``MB``, ``G``/``GB``, ``T``/``TB`` are powers of 1000; ``KiB``, ``MiB``,
    ``GiB``, ``TiB`` powers of 1024; a bare number is bytes. ``0`` means no budget.

    Raises:
        ConfigError: anything else, or a negative size.

    Example:
        >>> parse_size("2GB"), parse_size("1.5GiB"), parse_size("0")
        (2000000000, 1610612736, 0)
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if text < 0 or not math.isfinite(text):
            raise ConfigError(f"{what} must be a size >= 0 (e.g. 2GB), got {text}")
        return int(text)
    m = _SIZE.match(str(text))
    unit = m.group(2).lower() if m else ""
    if not m or unit not in _UNITS:
        raise ConfigError(
            f"{what} {text!r} is not a size; use e.g. 2GB, 1.5G, 512MB, 4GiB, or 0 for no limit"
        )
    return int(float(m.group(1)) * _UNITS[unit])


def format_size(n: float) -> str:
    """``2.00 GB`` / ``350 MB`` (decimal units, as :func:`parse_size` reads them)."""
    return f"{n / 1e9:.2f} GB" if abs(n) >= 1e9 else f"{n / 1e6:.0f} MB"


def _cgroup_limit() -> int | None:
    """The memory limit of this process's cgroup (containers, SLURM jobs), if any."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:
            return int(text)
    return None


def machine_memory() -> int | None:
    """Physical memory of the machine, or of this container / job when its cgroup has a lower
    limit (bytes; None when unknown)."""
    total = None
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        pass
    limit = _cgroup_limit()
    if limit is not None and (total is None or limit < total):
        return limit
    return total


def default_budget() -> int:
    """The default ``--max-memory``: a quarter of :func:`machine_memory` (0 when unknown)."""
    total = machine_memory()
    return total // 4 if total else 0


def resolve_budget(value: str | int | float | None) -> int:
    """Bytes of a ``--max-memory`` value: ``auto`` / None = :func:`default_budget`, a size
    (:func:`parse_size`), or bytes; 0 = no budget."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return default_budget()
    return parse_size(value)


# -- the resident set ------------------------------------------------------------------------------


def _status(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss() -> int | None:
    """The resident set size of this process now (bytes; None where it cannot be read)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        pass
    try:  # macOS & co: psutil when it is installed
        import psutil  # type: ignore[import-not-found]

        return int(psutil.Process().memory_info().rss)
    except Exception:  # noqa: BLE001 - optional
        return None


def peak_rss() -> int | None:
    """The peak resident set size of this process so far (the kernel's ``VmHWM``; bytes).

    i2i never resets it (``/proc/self/clear_refs`` would also hide the peak from
    ``getrusage`` and ``/usr/bin/time``, which report it), so it is what a user measures.
    """
    return _status("VmHWM:")


def glibc_function(name: str, argtypes: list[Any], restype: Any) -> Callable[..., Any] | None:
    """A function of glibc (``malloc_trim``, ``mallopt``) through ctypes; None on other
    systems and C libraries."""
    if sys.platform != "linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        fn = getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = argtypes, restype
    return fn


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    return glibc_function("malloc_trim", [ctypes.c_size_t], ctypes.c_int)


#: Freed bytes above which :func:`release_memory` hands memory back to the kernel.
TRIM_BYTES = 16 * 2**20


def release_memory(freed: int = TRIM_BYTES) -> None:
    """Hand freed heap memory back to the kernel (glibc ``malloc_trim``) after ``freed`` bytes
    were released, so the RSS tracks live memory.

    glibc keeps freed blocks below its (dynamic, up to 32 MiB) mmap threshold for reuse; Pillow
    allocates images in 16 MiB blocks, so a decoded photo would otherwise stay resident after it
    is converted. Trimming takes a millisecond or two; below :data:`TRIM_BYTES` nothing is done.
    """
    if freed < TRIM_BYTES:
        return
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


#: Runs ``python -m MODULE ARGS...`` and writes the process's own peak RSS (VmHWM) to the file
#: named by $I2I_PEAK_FILE when it exits.
_PEAK_WRAPPER = """
import atexit, os, runpy, sys
def _peak():
    with open('/proc/self/status') as f:
        hwm = [l.split()[1] for l in f if l.startswith('VmHWM:')]
    with open(os.environ['I2I_PEAK_FILE'], 'w') as f:
        f.write(str(int(hwm[0]) * 1024 if hwm else 0))
atexit.register(_peak)
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)
"""


def run_module_measured(
    module: str, args: list[str], env: dict[str, str] | None = None, timeout: float | None = None
) -> tuple[int, str, str, int]:
    """Run ``python -m module args`` (Linux): (exit status, stdout, stderr, its peak RSS).

    The child reports the kernel's record of its own peak (``VmHWM``) when it exits, so every
    allocation counts, loading included. (A child's ``ru_maxrss`` from ``wait4`` /
    ``getrusage`` is no use for this: Linux counts in it the parent's address space the child
    had between fork and exec.) Used by the memory benchmark and the tests.
    """
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        peak_file = os.path.join(tmp, "peak")
        env = {**(env if env is not None else os.environ), "I2I_PEAK_FILE": peak_file}
        cmd = [sys.executable, "-c", _PEAK_WRAPPER, module, *args]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        try:
            with open(peak_file) as f:
                peak = int(f.read() or 0)
        except (OSError, ValueError):
            peak = 0
    return done.returncode, done.stdout, done.stderr, peak


# -- activation memory of an engine ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ActivationCost:
    """What one engine call takes on top of the memory already in use, measured by
    :func:`probe_engine`.

    Attributes:
        pixels: The two probe sizes (input pixels of one call, batch 1).
        bytes: The growth of the peak RSS of each probe call (input copies, padding,
            activations, output).
        per_pixel: The bytes per input pixel used to extrapolate: the larger of the slope
            between the probes and the larger probe's bytes / pixels, so a fixed part measured
            at the small size is never spread thinner at larger ones.
        floor: A lower bound per pixel from the model's shapes (input + output float32), used
            when the measurement is smaller (tiny models measure little above the noise).
    """

    pixels: tuple[int, int]
    bytes: tuple[int, int]
    per_pixel: float
    floor: float

    def __call__(self, pixels: int) -> int:
        """Bytes one engine call on ``pixels`` input pixels (all images of the call) takes."""
        return int(math.ceil(max(self.per_pixel, self.floor) * pixels))

    def pixels_within(self, nbytes: float) -> int:
        """The most input pixels one call may have to take at most ``nbytes``."""
        return max(0, int(nbytes / max(self.per_pixel, self.floor, 1e-9)))

    def describe(self) -> str:
        return f"{max(self.per_pixel, self.floor) / 1e3:.1f} kB per pixel"


def _probe_sizes(stride: int, scale: int) -> tuple[int, int]:
    """Two square probe sizes (multiples of the stride) of about 128 and 256 pixels, smaller
    for upscaling models (the output grows with scale**2)."""
    base = max(32, 128 // max(1, scale))
    s1 = max(stride, base // stride * stride)
    s2 = max(2 * stride, 2 * base // stride * stride)
    if s2 <= s1:
        s2 = s1 + stride
    return s1, s2


class RssSampler:
    """The peak RSS while a block runs, polled from a thread (every 0.5 ms).

    The kernel's own peak (``VmHWM``) cannot be reset without hiding it from ``getrusage`` and
    ``/usr/bin/time``, so it is sampled instead: a network's activations live for
    milliseconds at least (a convolution over a tile), far longer than the polling interval.

    Example:
        >>> with RssSampler() as s:  # doctest: +SKIP
        ...     engine(x)
        >>> s.grown  # bytes above the RSS at entry
    """

    def __init__(self, interval: float = 0.0005) -> None:
        self.interval = interval
        self.base = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def grown(self) -> int:
        return max(0, self.peak - self.base)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss() or 0)

    def __enter__(self) -> RssSampler:
        self.base = self.peak = rss() or 0
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="i2i-rss", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, rss() or 0)


def measure_call(fn: Callable[[], Any]) -> int | None:
    """Bytes by which the RSS rises above its level at the start while ``fn()`` runs (None
    where RSS is unreadable). Freed memory is handed back first, so what ``fn`` reuses from
    earlier frees is not missed."""
    gc.collect()
    release_memory()
    if rss() is None:
        return None
    with RssSampler() as s:
        fn()
    return s.grown


def probe_engine(engine: Any) -> ActivationCost | None:
    """Measure what one call of ``engine`` takes per input pixel (see :class:`ActivationCost`).

    The engine translates a warm-up image (libraries allocate their caches and thread pools
    once), then a zero image of about 128 x 128 and, twice, one of about 256 x 256 pixels
    (multiples of its stride; batch 1; the larger growth counts). Label-map models get zero
    label maps (and zero instance maps / style images). Runs take the calling thread: a few
    seconds for CycleGAN's default generator on two CPU cores.

    Returns:
        The cost, or None when the RSS cannot be measured on this system.
    """
    info = engine.info
    if info.kind == "sampler":
        return None
    s1, s2 = _probe_sizes(info.stride, info.scale)
    low = int(getattr(engine, "min_size", 1) or 1)
    if s1 < low:  # an engine that takes nothing smaller
        stride = max(1, info.stride)
        s1 = -(-low // stride) * stride
        s2 = 2 * s1

    def inputs(size: int) -> tuple[np.ndarray, ...]:
        if info.kind == "label":
            x = np.zeros((1, 1, size, size), np.int64)
            extra = [
                np.zeros((1, 1, size, size), np.int64)
                if k == "instance"
                else np.zeros((1, info.out_channels, 64, 64), np.float32)
                for k in info.inputs[1:]
            ]
            return (x, *extra)
        lo = float(info.value_range[0])
        return (np.full((1, info.in_channels, size, size), lo, np.float32),)

    engine(*inputs(s1))  # warm-up: caches, thread pools, kernels chosen for this shape
    measured = []
    for size in (s1, s2, s2):  # the larger one twice: allocators make single runs vary
        args = inputs(size)
        grown = measure_call(lambda a=args: engine(*a))
        if grown is None:
            return None
        measured.append(grown)
    p1, p2 = s1 * s1, s2 * s2
    b1, b2 = measured[0], max(measured[1:])
    slope = (b2 - b1) / (p2 - p1)
    per_pixel = max(slope, b2 / p2)
    channels = info.in_channels if info.kind == "image" else 1
    floor = 4.0 * (channels + info.out_channels * info.scale**2)
    cost = ActivationCost((p1, p2), (b1, b2), per_pixel, floor)
    log.debug(
        "activation memory of %s: %s (probe: %d px -> %s, %d px -> %s)",
        engine.description or engine.name,
        cost.describe(),
        p1,
        format_size(b1),
        p2,
        format_size(b2),
    )
    return cost
