"""``i2i --version``: i2i, Python, torch (CUDA, GPUs), onnxruntime (providers) and the installed
plugins with their versions — what a bug report needs.

Plugins are listed from their entry-point metadata without importing them, so the report works
even when a plugin is broken (that is when it is needed).
"""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

from i2i._version import __version__
from i2i.manager import DISABLE_ENV, ENTRY_POINT_GROUP, _disabled_from_env


def _torch_line() -> str:
    try:
        import torch
    except Exception as e:  # noqa: BLE001 - report whatever is wrong
        return f"torch: cannot import ({type(e).__name__}: {e})"
    cuda = torch.version.cuda
    if torch.cuda.is_available():
        gpus = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        where = f"CUDA {cuda}, cuDNN {torch.backends.cudnn.version()}, GPUs: {gpus}"
    elif cuda:
        where = f"CUDA {cuda} build, no GPU visible"
    elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        where = "Apple MPS"
    else:
        where = "CPU only"
    return f"torch {torch.__version__} ({where})"


def _onnxruntime_line() -> str:
    dist = next(
        (d for d in ("onnxruntime-gpu", "onnxruntime") if _dist_version(d) is not None), None
    )
    try:
        import onnxruntime as ort
    except Exception as e:  # noqa: BLE001
        return f"onnxruntime: cannot import ({type(e).__name__}: {e})"
    names = ort.get_available_providers()
    providers = ", ".join(p.removesuffix("ExecutionProvider") for p in names)
    return f"{dist or 'onnxruntime'} {ort.__version__} (providers: {providers})"


def _dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def plugin_lines() -> list[str]:
    """One line per installed plugin (entry point of group ``i2i.plugins``): name, version,
    distribution and module; blocked ones are marked."""
    blocked = _disabled_from_env()
    lines = []
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = getattr(ep, "dist", None)
        where = f"{dist.name}, {ep.value}" if dist is not None else ep.value
        version = dist.version if dist is not None else "?"
        off = f" [blocked by {DISABLE_ENV}]" if ep.name in blocked else ""
        lines.append(f"  {ep.name} {version} ({where}){off}")
    return lines or ["  (none installed; the built-in families are part of i2i)"]


def version_report() -> str:
    """The lines ``i2i --version`` prints."""
    lines = [
        f"i2i {__version__} ({Path(__file__).resolve().parents[1]})",
        f"python {platform.python_version()} ({platform.system()} {platform.machine()})",
        _torch_line(),
        _onnxruntime_line(),
        "plugins:",
        *plugin_lines(),
    ]
    return "\n".join(lines)
