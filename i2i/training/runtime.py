"""Device, precision and seeding: the one place where process-wide torch settings are made."""

from __future__ import annotations

import contextlib
import ctypes
import random
from collections.abc import Iterator

import numpy as np
import torch

from i2i.errors import ConfigError
from i2i_runtime.memory import glibc_function

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str = "auto") -> torch.device:
    """Turn ``auto | cpu | cuda | cuda:N | mps`` into a device that exists here.

    Raises:
        ConfigError: the requested device is not available (the message says what is).
    """
    name = (name or "auto").strip().lower()
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device '{name}'; use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        if not cuda:
            raise ConfigError(
                "device 'cuda' was requested but no CUDA GPU is visible to PyTorch; "
                "use --device cpu (or auto), or install a CUDA build of torch"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(
                f"device '{name}' does not exist: {torch.cuda.device_count()} GPU(s) visible"
            )
    if dev.type == "mps" and not mps:
        raise ConfigError("device 'mps' was requested but MPS is not available; use --device cpu")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"unsupported device '{name}'; use auto, cpu, cuda, cuda:N or mps")
    return dev


def check_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` (None for fp32).

    ``auto`` is bf16 on CUDA GPUs that support it and fp32 elsewhere (pass ``bf16`` explicitly
    to use it on CPUs with AVX-512 BF16 / AMX).

    Raises:
        ConfigError: unknown precision, or one the device cannot run.
    """
    if precision == "auto":  # bf16 where it is fast and safe: CUDA GPUs that support it
        bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if bf16 else None
    if precision not in PRECISIONS:
        raise ConfigError(
            f"unknown precision '{precision}'; use one of: auto, {', '.join(PRECISIONS)}"
        )
    dtype = PRECISIONS[precision]
    if dtype is torch.bfloat16 and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError("this GPU does not support bf16; use --precision fp16 or fp32")
    return dtype


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype | None) -> Iterator[None]:
    """``torch.autocast`` for ``dtype``, or nothing for fp32."""
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


def make_grad_scaler(device: torch.device, dtype: torch.dtype | None) -> torch.amp.GradScaler:
    """A gradient scaler that is active only for fp16 (bf16 and fp32 do not need one)."""
    enabled = dtype is torch.float16 and device.type in ("cuda", "cpu")
    return torch.amp.GradScaler(device.type if device.type != "mps" else "cpu", enabled=enabled)


# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -3, -4


def tune_cpu_allocator() -> bool:
    """Make glibc malloc keep freed memory for reuse instead of handing it back to the kernel.

    By default glibc serves blocks above a (dynamic, at most 32 MiB) threshold with fresh
    ``mmap`` regions and returns freed heap tops to the kernel, so a CPU training step whose
    activations are freed at every backward faults its memory in again, page by page, at the
    next forward: measured on the SPADE benchmark, 0.1-1.5 million page faults and up to 5 s of
    kernel time per step until the pattern settles. This keeps big blocks on the heap
    (``M_MMAP_MAX = 0``) and stops trimming below 2 GiB (``M_TRIM_THRESHOLD``), which is what
    jemalloc / tcmalloc (the allocators PyTorch CPU tuning guides recommend) do by design. The
    price: the process keeps its peak memory until it exits, right for a training process.

    Returns:
        Whether the settings were applied (only with glibc on Linux; elsewhere nothing changes).
    """
    mallopt = glibc_function("mallopt", [ctypes.c_int, ctypes.c_int], ctypes.c_int)
    if mallopt is None:
        return False
    return all(
        mallopt(param, value) == 1
        for param, value in (
            (_M_MMAP_THRESHOLD, 32 * 1024 * 1024),
            (_M_TRIM_THRESHOLD, 2**31 - 1),
            (_M_MMAP_MAX, 0),
        )
    )


def configure_torch(
    device: torch.device, *, deterministic: bool = False, cudnn_benchmark: bool = True
) -> None:
    """Process-wide torch settings for training and inference on ``device`` (the CPU
    allocator is separate: :func:`tune_cpu_allocator`, called by the trainer)."""
    if device.type == "cuda":
        fast = cudnn_benchmark and not deterministic
        torch.backends.cudnn.benchmark = fast
        torch.backends.cuda.matmul.allow_tf32 = fast
        torch.backends.cudnn.allow_tf32 = fast
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, torch.Tensor]:
    """Torch RNG states (CPU and every CUDA device) as tensors, for checkpoints."""
    state = {"rng/cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            state[f"rng/cuda{i}"] = s
    return state


def set_rng_state(state: dict[str, torch.Tensor]) -> None:
    """Restore :func:`rng_state`."""
    if "rng/cpu" in state:
        torch.set_rng_state(state["rng/cpu"])
    if torch.cuda.is_available():
        cuda = [state[k] for k in sorted(state) if k.startswith("rng/cuda")]
        if cuda and len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
