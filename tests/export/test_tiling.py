"""Tiled translation: agreement with the untiled result, seamless blending, argument checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from i2i.errors import ConfigError
from i2i.nn import ResnetGenerator
from i2i_runtime.tiling import (
    check_tiling,
    pad_to_multiple,
    ramp,
    tile_count,
    tile_starts,
    translate_tiled,
)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR of two images in [-1, 1] (peak 2)."""
    mse = float(((a - b) / 2).pow(2).mean())
    return 10 * np.log10(1 / mse) if mse > 0 else float("inf")


def generator(norm: str, n_downsampling: int = 1) -> ResnetGenerator:
    """A tiny ResNet generator with Kaiming-initialized convs (outputs with real contrast:
    the default 0.02 init gives nearly constant outputs, which would make any PSNR high)."""
    torch.manual_seed(0)
    g = ResnetGenerator(3, 3, ngf=8, n_blocks=1, n_downsampling=n_downsampling, norm=norm)
    for m in g.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    return g.eval()


def image() -> torch.Tensor:
    torch.manual_seed(1)
    low = torch.rand(1, 3, 38, 58) * 2 - 1  # smooth structure plus fine noise
    x = torch.nn.functional.interpolate(low, size=(150, 230), mode="bicubic")
    return (x + 0.1 * torch.randn(1, 3, 150, 230)).clamp(-1, 1)


def untiled(g: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    xp, (h, w) = pad_to_multiple(x.numpy(), g.stride)
    return g(torch.from_numpy(xp))[..., :h, :w]


def on_numpy(g: torch.nn.Module):
    """The network as a numpy -> numpy function (what engines are)."""
    return lambda a: g(torch.from_numpy(a)).numpy()


def tiled(g: torch.nn.Module, x: torch.Tensor, tile: int, overlap: int) -> torch.Tensor:
    return torch.from_numpy(translate_tiled(on_numpy(g), x.numpy(), tile, overlap, g.stride))


@torch.no_grad()
def test_tiled_matches_untiled_without_global_statistics() -> None:
    g, x = generator("none"), image()
    ref = untiled(g, x)
    assert float(ref.std()) > 0.2  # a real signal, not a near-constant output
    calls: list[tuple[int, ...]] = []

    def fn(t: np.ndarray) -> np.ndarray:
        calls.append(tuple(t.shape))
        return g(torch.from_numpy(t)).numpy()

    y_np = translate_tiled(fn, x.numpy(), tile=64, overlap=16, stride=g.stride)
    assert isinstance(y_np, np.ndarray) and y_np.dtype == np.float32
    y = torch.from_numpy(y_np)
    assert y.shape == ref.shape == (1, 3, 150, 230)
    value = psnr(ref, y)
    print(f"tiled vs untiled, norm=none, tile 64 overlap 16: PSNR {value:.1f} dB")
    assert value >= 40.0  # measured: 43.3 dB
    # every call got full 64x64 tiles, at most tile_batch (4) of them
    assert all(c[1:] == (3, 64, 64) and c[0] <= 4 for c in calls)
    assert sum(c[0] for c in calls) == tile_count(150, 230, 64, 16, g.stride) == 15


@torch.no_grad()
def test_instance_norm_differs_but_has_no_seams() -> None:
    """Instance norm uses per-tile statistics: the tiled image is not the untiled one (the PSNR
    is reported, not asserted high), but blending leaves no seam: the error map changes as
    smoothly across tile borders as anywhere else, unlike hard stitching (overlap 0)."""
    g, x = generator("instance"), image()
    ref = untiled(g, x)
    y = tiled(g, x, tile=64, overlap=16)
    hard = tiled(g, x, tile=64, overlap=0)
    print(
        f"instance norm, tile 64: PSNR overlap 16 {psnr(ref, y):.1f} dB, "
        f"overlap 0 {psnr(ref, hard):.1f} dB"
    )
    assert 10.0 < psnr(ref, y) < 60.0  # measured: 28.7 dB (overlap 0: 18.5 dB)

    def worst_jump(out: torch.Tensor) -> float:  # largest column-to-column step of the error
        err = out - ref
        return float((err[..., 1:] - err[..., :-1]).abs().amax())

    assert worst_jump(y) < 0.5 * worst_jump(hard)


def test_single_tile_and_scale() -> None:
    x = np.random.default_rng(0).random((2, 1, 20, 30), dtype=np.float32)

    def up2(t: np.ndarray) -> np.ndarray:
        return t.repeat(2, axis=2).repeat(2, axis=3) * 3

    # image smaller than the tile: one call on the stride-padded image, cropped back
    y = translate_tiled(up2, x, tile=64, overlap=8, stride=4, scale=2)
    np.testing.assert_allclose(y, up2(x), rtol=1e-6)
    # a pointwise function is reproduced exactly by any tiling (weights are normalized)
    big = np.random.default_rng(1).random((1, 1, 100, 70), dtype=np.float32)
    y = translate_tiled(up2, big, tile=32, overlap=8, stride=4, scale=2, tile_batch=3)
    np.testing.assert_allclose(y, up2(big), rtol=1e-5)


def test_geometry() -> None:
    assert tile_starts(50, 64, 48) == [0]
    assert tile_starts(152, 64, 48) == [0, 48, 88]
    r = ramp(16)
    assert r.shape == (16,) and (r > 0).all() and r[0] < 0.01 and r[-1] > 0.99
    np.testing.assert_allclose(r + r[::-1], 1.0, atol=1e-3)


@pytest.mark.parametrize(
    ("tile", "overlap", "stride", "needle"),
    [
        (0, 8, 1, "positive"),
        (64, -1, 1, "0 or more"),
        (62, 8, 4, "multiple of the network stride 4"),
        (32, 16, 4, "larger than twice --overlap 16"),
    ],
)
def test_bad_tiling_options(tile: int, overlap: int, stride: int, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle) as e:
        check_tiling(tile, overlap, stride)
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError):
        translate_tiled(lambda t: t, np.zeros((1, 1, 8, 8), np.float32), tile, overlap, stride)
