"""onnxruntime execution providers: which to try for ``--provider`` / ``--device``, and why a
GPU provider was not used (see :class:`i2i_runtime.engine.OrtEngine`).

TensorRT engines are cached in ``$I2I_TRT_CACHE`` (default ``~/.cache/i2i/tensorrt``): building
one takes minutes per new input shape, later runs reuse it.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from pathlib import Path
from typing import Any

from .errors import ConfigError

#: ``--provider`` values and the onnxruntime providers they stand for.
PROVIDERS: dict[str, str] = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
_SHORT = {v: k for k, v in PROVIDERS.items()}
_LABEL = {"tensorrt": "TensorRT", "cuda": "CUDA", "cpu": "CPU"}


def import_onnxruntime() -> Any:
    """``import onnxruntime``, or one line saying how to install it.

    Raises:
        ConfigError: onnxruntime is not installed.
    """
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError(
            "onnxruntime is not installed: pip install 'i2i-runtime[cpu]' (CPU build) or "
            "'i2i-runtime[gpu]' (CUDA build), or install onnxruntime / onnxruntime-gpu yourself"
        ) from None
    return onnxruntime


def provider_for_device(device: str, provider: str = "auto") -> tuple[str, int]:
    """The onnxruntime provider and GPU index for a ``--device`` value.

    With ``provider="auto"``, ``cpu`` selects the CPU provider and ``cuda`` / ``cuda:N`` the CUDA
    provider on GPU N; ``auto`` (or an explicit provider) leaves the provider as it is.

    Raises:
        ConfigError: a device that is not ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    """
    device = (device or "auto").strip().lower()
    m = re.fullmatch(r"(auto|cpu|cuda)(?::(\d+))?", device)
    if not m or (m.group(2) is not None and m.group(1) != "cuda"):
        raise ConfigError(f"unknown device '{device}' for an ONNX model; use auto, cpu or cuda:N")
    index = int(m.group(2) or 0)
    if provider == "auto" and m.group(1) != "auto":
        return m.group(1), index
    return provider, index


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


def plan_providers(provider: str, available: list[str]) -> tuple[list[str], list[str]]:
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


def fallback_reason(provider: str, errors: list[str]) -> str:
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
