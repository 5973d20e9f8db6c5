"""Sampling from class-conditional models: grids per class, latent interpolation.

Every sample is drawn from a seeded generator, so the same seed gives the same images.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torchvision.utils import make_grid

from i2i.api import load_checkpoint
from i2i.errors import ConfigError
from i2i.manager import Context
from i2i.training import runtime


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between noise vectors ``a`` and ``b`` (rows) at fractions ``t``.

    Shape:
        - a, b: (D,); t: (T,); output: (T, D).
    """
    an, bn = a / a.norm(), b / b.norm()
    omega = torch.acos((an * bn).sum().clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    t = t[:, None]
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


@torch.no_grad()
def sample(
    ctx: Context,
    source: str | Path,
    *,
    class_id: int | None = None,
    n: int = 64,
    per_class: bool = False,
    interpolate: bool = False,
    seed: int = 0,
    device: str = "auto",
) -> tuple[torch.Tensor, int]:
    """Generate images from a class-conditional checkpoint.

    Args:
        ctx: Plugin context.
        source: Run directory, checkpoint directory or weights file.
        class_id: The class to sample (default: all classes in turn).
        n: Number of samples; with ``per_class`` or ``interpolate``, samples per row.
        per_class: One row per class (``n`` columns), the same noise in every row.
        interpolate: One row per class (or just ``class_id``) walking the latent space from one
            noise code to another in ``n`` steps (spherical interpolation).
        seed: Noise seed: the same seed gives the same images.
        device: ``auto``, ``cpu``, ``cuda``...

    Returns:
        Images (N, C, H, W) in [-1, 1] and the number of columns of their grid.

    Raises:
        ConfigError: not a class-conditional model, or a class id out of range.
    """
    dev = runtime.resolve_device(device)
    loaded = load_checkpoint(source, context=ctx, device=dev)
    model = loaded.model.eval()
    info = model.inference_info(None)
    if tuple(info.inputs) != ("noise", "class"):
        raise ConfigError(
            f"'{loaded.spec.name}' models take {', '.join(info.inputs)} inputs; `i2i sample` "
            "needs a class-conditional model (noise + class), use `i2i translate` instead"
        )
    k = info.num_classes
    if class_id is not None and not 0 <= class_id < k:
        raise ConfigError(f"--class must be in [0, {k}) for this model, got {class_id}")
    if n < 1:
        raise ConfigError(f"-n must be >= 1, got {n}")
    g = torch.Generator().manual_seed(seed)
    z_dim = info.in_channels
    rows = [class_id] if class_id is not None else list(range(k))
    if interpolate:
        ends = torch.randn(2, z_dim, generator=g)
        path = slerp(ends[0], ends[1], torch.linspace(0, 1, n))
        z = path.repeat(len(rows), 1)
        y = torch.tensor(rows).repeat_interleave(n)
        cols = n
    elif per_class:
        z = torch.randn(n, z_dim, generator=g).repeat(len(rows), 1)
        y = torch.tensor(rows).repeat_interleave(n)
        cols = n
    else:
        z = torch.randn(n, z_dim, generator=g)
        y = torch.tensor([class_id] * n) if class_id is not None else torch.arange(n) % k
        cols = max(1, round(math.sqrt(n)))
    module = model.inference_module(None)
    out = [
        module(z[i : i + 256].to(dev), y[i : i + 256].to(dev)).float().cpu()
        for i in range(0, len(z), 256)
    ]
    return torch.cat(out).clamp(-1, 1), cols


def save_sample_grid(images: torch.Tensor, cols: int, path: str | Path) -> Path:
    """Write images (N, C, H, W) in [-1, 1] as one PNG grid with ``cols`` columns."""
    from i2i.datasets.image_io import write_image

    grid = make_grid((images + 1) / 2, nrow=cols, padding=2, pad_value=1.0)
    arr = grid.permute(1, 2, 0).numpy()
    if images.shape[1] == 1:
        arr = arr[..., :1]
    return write_image(Path(path), arr.clip(0, 1))
