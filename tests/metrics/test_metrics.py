"""Tests of i2i.metrics: PSNR / SSIM against independent references, the baseline, the CSV."""

from __future__ import annotations

import ast
import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import i2i.metrics as metrics_pkg
from i2i.errors import InputError
from i2i.metrics import (
    MetricRow,
    bicubic_upscale,
    mod_crop,
    psnr,
    psnr_torch,
    rgb_to_y,
    ssim,
    ssim_torch,
    summarize,
    write_csv,
)

# ------------------------------------------------------------------------------------------
# independent references (NumPy only, explicit formulas)


def _ref_unit(img: np.ndarray) -> np.ndarray:
    scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(img.dtype, 1.0)
    return img.astype(np.float64) / scale


def _ref_y(img01: np.ndarray) -> np.ndarray:
    r, g, b = img01[..., 0], img01[..., 1], img01[..., 2]
    return ((16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0)[..., None]


def _ref_prepare(a: np.ndarray, b: np.ndarray, crop: int, y: bool) -> tuple[np.ndarray, ...]:
    x1, x2 = _ref_unit(a), _ref_unit(b)
    if crop:
        x1, x2 = x1[crop:-crop, crop:-crop], x2[crop:-crop, crop:-crop]
    if y:
        x1, x2 = _ref_y(x1), _ref_y(x2)
    return x1, x2


def _ref_psnr(a: np.ndarray, b: np.ndarray, crop: int, y: bool) -> float:
    x1, x2 = _ref_prepare(a, b, crop, y)
    mse = np.mean((x1 * 255.0 - x2 * 255.0) ** 2)
    return float(10.0 * np.log10(255.0**2 / mse))


def _ref_filter_valid(img: np.ndarray) -> np.ndarray:
    """Valid-mode correlation with the 11x11 Gaussian (sigma 1.5), one window at a time."""
    k = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
    k /= k.sum()
    window = np.outer(k, k)
    windows = np.lib.stride_tricks.sliding_window_view(img, (11, 11))
    return np.einsum("ijkl,kl->ij", windows, window)


def _ref_ssim_channel(x: np.ndarray, y: np.ndarray) -> float:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu1, mu2 = _ref_filter_valid(x), _ref_filter_valid(y)
    s1 = _ref_filter_valid(x * x) - mu1**2
    s2 = _ref_filter_valid(y * y) - mu2**2
    s12 = _ref_filter_valid(x * y) - mu1 * mu2
    m = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1**2 + mu2**2 + c1) * (s1 + s2 + c2))
    return float(m.mean())


def _ref_ssim(a: np.ndarray, b: np.ndarray, crop: int, y: bool) -> float:
    x1, x2 = _ref_prepare(a, b, crop, y)
    x1, x2 = x1 * 255.0, x2 * 255.0
    return float(np.mean([_ref_ssim_channel(x1[..., i], x2[..., i]) for i in range(x1.shape[2])]))


def _pair(
    dtype: str, seed: int = 0, shape: tuple[int, ...] = (48, 40, 3)
) -> tuple[np.ndarray, ...]:
    """A ground truth and a noisy, blurred-ish estimate of it (so SSIM is far from 0 and 1)."""
    rng = np.random.default_rng(seed)
    gt = rng.random(shape)
    gt = (gt + np.roll(gt, 1, axis=0) + np.roll(gt, 1, axis=1)) / 3.0
    est = np.clip(gt + rng.normal(0.0, 0.08, shape), 0.0, 1.0)
    if dtype == "uint8":
        return (gt * 255).round().astype(np.uint8), (est * 255).round().astype(np.uint8)
    return gt.astype(np.float32), est.astype(np.float32)


def _nchw(*imgs: np.ndarray) -> torch.Tensor:
    return torch.stack([torch.from_numpy(np.ascontiguousarray(i.transpose(2, 0, 1))) for i in imgs])


# ------------------------------------------------------------------------------------------
# colour


def test_rgb_to_y_known_values() -> None:
    img = np.zeros((1, 3, 3), dtype=np.float64)
    img[0, 0] = 1.0  # white
    img[0, 2, 0] = 1.0  # pure red
    y = rgb_to_y(img)
    assert y.shape == (1, 3, 1)
    assert y[0, :, 0] * 255 == pytest.approx([235.0, 16.0, 81.481], abs=1e-9)

    t = torch.from_numpy(img.transpose(2, 0, 1))[None]  # (1, 3, 1, 3)
    yt = rgb_to_y(t)
    assert yt.shape == (1, 1, 1, 3)
    assert yt.flatten().tolist() == pytest.approx(y[0, :, 0].tolist(), abs=1e-12)

    u8 = (img * 255).astype(np.uint8)
    assert rgb_to_y(u8)[0, :, 0] == pytest.approx(y[0, :, 0], abs=1e-12)
    assert rgb_to_y(img.astype(np.float32)).dtype == np.float32


# ------------------------------------------------------------------------------------------
# PSNR


def test_psnr_constant_offset_is_20_db() -> None:
    img = np.full((16, 12, 3), 0.4)
    assert psnr(img, img + 0.1) == pytest.approx(20.0, abs=1e-9)
    assert psnr(img * 255, img * 255 + 25.5, data_range=255.0) == pytest.approx(20.0, abs=1e-9)
    # the Y channel of a grey offset of 0.1 is an offset of 0.1 * 219 / 255
    expected_y = 20.0 - 20.0 * math.log10(219.0 / 255.0)
    assert psnr(img, img + 0.1, y_channel=True) == pytest.approx(expected_y, abs=1e-9)


def test_psnr_integer_inputs_are_scaled() -> None:
    a = np.zeros((8, 8, 3), dtype=np.uint8)
    expected = 10 * math.log10(1 / 0.2**2)
    assert psnr(a, a + 51) == pytest.approx(expected, abs=1e-9)
    assert psnr(a, np.full(a.shape, 0.2, np.float32)) == pytest.approx(expected, abs=1e-6)
    a16 = np.zeros((8, 8), dtype=np.uint16)
    assert psnr(a16, a16 + 13107) == pytest.approx(expected, abs=1e-9)  # 13107 / 65535 = 0.2


@pytest.mark.parametrize("y_channel", [False, True])
@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_psnr_matches_reference(dtype: str, y_channel: bool) -> None:
    a, b = _pair(dtype)
    got = psnr(a, b, crop_border=4, y_channel=y_channel)
    assert got == pytest.approx(_ref_psnr(a, b, 4, y_channel), abs=1e-9)


def test_identical_images() -> None:
    a, _ = _pair("float32")
    assert psnr(a, a) == math.inf
    assert ssim(a, a.copy(), y_channel=True) == 1.0
    assert ssim(a, a.copy()) == 1.0
    t = _nchw(a)
    assert torch.isinf(psnr_torch(t, t.clone())).all()
    assert ssim_torch(t, t.clone()).item() == 1.0


# ------------------------------------------------------------------------------------------
# SSIM


@pytest.mark.parametrize("y_channel", [False, True])
@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_ssim_matches_reference(dtype: str, y_channel: bool) -> None:
    a, b = _pair(dtype, seed=1)
    got = ssim(a, b, crop_border=4, y_channel=y_channel)
    ref = _ref_ssim(a, b, 4, y_channel)
    assert 0.2 < ref < 0.99  # a meaningful test pair
    assert got == pytest.approx(ref, abs=1e-9)


def test_ssim_matches_basicsr_opencv_formula() -> None:
    """BasicSR's ``_ssim`` as written (cv2.filter2D, then keep the valid part)."""
    cv2 = pytest.importorskip("cv2")
    a, b = _pair("uint8", seed=2)
    x1, x2 = (x[4:-4, 4:-4].astype(np.float64) for x in (a, b))
    kernel = cv2.getGaussianKernel(11, 1.5)
    window = np.outer(kernel, kernel.transpose())
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for i in range(3):
        p, q = x1[..., i], x2[..., i]
        mu1 = cv2.filter2D(p, -1, window)[5:-5, 5:-5]
        mu2 = cv2.filter2D(q, -1, window)[5:-5, 5:-5]
        s1 = cv2.filter2D(p**2, -1, window)[5:-5, 5:-5] - mu1**2
        s2 = cv2.filter2D(q**2, -1, window)[5:-5, 5:-5] - mu2**2
        s12 = cv2.filter2D(p * q, -1, window)[5:-5, 5:-5] - mu1 * mu2
        m = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1**2 + mu2**2 + c1) * (s1 + s2 + c2))
        vals.append(m.mean())
    assert ssim(a, b, crop_border=4) == pytest.approx(float(np.mean(vals)), abs=1e-9)


def test_metrics_are_symmetric() -> None:
    a, b = _pair("float32", seed=3)
    for y in (False, True):
        assert psnr(a, b, crop_border=2, y_channel=y) == psnr(b, a, crop_border=2, y_channel=y)
        assert ssim(a, b, crop_border=2, y_channel=y) == pytest.approx(
            ssim(b, a, crop_border=2, y_channel=y), abs=1e-12
        )


def test_gray_images_ignore_y_channel() -> None:
    a, b = _pair("float32", shape=(20, 20))
    assert psnr(a, b, y_channel=True) == psnr(a, b)
    assert ssim(a, b, y_channel=True) == ssim(a, b)
    assert ssim(a, b) == pytest.approx(_ref_ssim(a[..., None], b[..., None], 0, False), abs=1e-9)


# ------------------------------------------------------------------------------------------
# torch twins


@pytest.mark.parametrize("y_channel", [False, True])
def test_torch_versions_match_numpy(y_channel: bool) -> None:
    pairs = [_pair("float32", seed=s) for s in (4, 5)]
    ta = _nchw(*(p[0] for p in pairs))
    tb = _nchw(*(p[1] for p in pairs))
    tp = psnr_torch(ta, tb, crop_border=3, y_channel=y_channel)
    ts = ssim_torch(ta, tb, crop_border=3, y_channel=y_channel)
    assert tp.shape == ts.shape == (2,)
    for i, (a, b) in enumerate(pairs):
        assert tp[i].item() == pytest.approx(psnr(a, b, crop_border=3, y_channel=y_channel))
        assert ts[i].item() == pytest.approx(ssim(a, b, crop_border=3, y_channel=y_channel))
    u8 = torch.zeros(2, 3, 8, 8, dtype=torch.uint8)
    assert psnr_torch(u8, u8 + 51).tolist() == pytest.approx([10 * math.log10(25)] * 2)


# ------------------------------------------------------------------------------------------
# bicubic baseline


def test_bicubic_upscale_shapes_and_range() -> None:
    lr = np.random.default_rng(6).random((10, 7, 3)).astype(np.float32)
    up = bicubic_upscale(lr, 4)
    assert up.shape == (40, 28, 3) and up.dtype == np.float32
    assert up.min() >= 0.0 and up.max() <= 1.0
    ref = F.interpolate(
        torch.from_numpy(lr.transpose(2, 0, 1))[None], scale_factor=4, mode="bicubic"
    ).clamp(0, 1)
    np.testing.assert_allclose(up, ref[0].numpy().transpose(1, 2, 0), atol=1e-6)

    assert bicubic_upscale(lr[..., 0], 2).shape == (20, 14)
    assert bicubic_upscale((lr * 255).astype(np.uint8), 2).max() <= 1.0
    t = torch.from_numpy(lr.transpose(2, 0, 1))
    assert bicubic_upscale(t, 3).shape == (3, 30, 21)
    assert bicubic_upscale(t[None].double(), 2).dtype == torch.float64
    flat = np.full((6, 6, 3), 0.25, dtype=np.float32)
    np.testing.assert_allclose(bicubic_upscale(flat, 2), 0.25, atol=1e-6)


def test_mod_crop() -> None:
    assert mod_crop(np.zeros((50, 43, 3)), 4).shape == (48, 40, 3)
    assert mod_crop(torch.zeros(1, 3, 50, 43), 4).shape == (1, 3, 48, 40)
    assert mod_crop(np.zeros((50, 43)), 1).shape == (50, 43)


# ------------------------------------------------------------------------------------------
# errors


def test_input_errors() -> None:
    a = np.zeros((48, 40, 3), np.float32)
    with pytest.raises(InputError, match=r"\(48, 40, 3\) and \(48, 41, 3\)"):
        psnr(a, np.zeros((48, 41, 3), np.float32))
    with pytest.raises(InputError, match=r"\(1, 3, 8, 8\) and \(1, 1, 8, 8\)"):
        psnr_torch(torch.zeros(1, 3, 8, 8), torch.zeros(1, 1, 8, 8))
    with pytest.raises(InputError, match="crop_border=20 .* 48x40 image; use crop_border <= 19"):
        psnr(a, a, crop_border=20)
    with pytest.raises(InputError, match="SSIM needs at least 11x11 pixels"):
        ssim(a, a, crop_border=15)
    with pytest.raises(InputError, match="crop_border must be"):
        psnr(a, a, crop_border=-1)
    with pytest.raises(InputError, match="dtype int32"):
        psnr(a.astype(np.int32), a.astype(np.int32))
    with pytest.raises(InputError, match="4 channels"):
        ssim(np.zeros((16, 16, 4)), np.zeros((16, 16, 4)), y_channel=True)
    with pytest.raises(InputError, match=r"\(N, C, H, W\)"):
        ssim_torch(torch.zeros(3, 16, 16), torch.zeros(3, 16, 16))
    with pytest.raises(InputError, match="data_range"):
        psnr(a, a, data_range=0)
    with pytest.raises(InputError, match="scale"):
        bicubic_upscale(a, 0)
    with pytest.raises(InputError, match="rgb_to_y"):
        rgb_to_y(np.zeros((4, 4, 2)))
    # one line each, and a ValueError for callers that catch that
    with pytest.raises(ValueError) as info:
        ssim(a, a[:, :30])
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------------------------------
# CSV and summary


def _read(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_write_csv_rows_and_mean(tmp_path: Path) -> None:
    rows = [
        MetricRow("a.png", {"psnr_y": 30.0, "ssim_y": 0.9}),
        {"image": "b.png", "psnr_y": math.inf, "ssim_y": 1.0},
        {"image": "c.png", "psnr_y": 20.0, "ssim_y": 0.8, "note": "x"},
    ]
    out = write_csv(rows, tmp_path / "sub" / "eval.csv", precision=4)
    assert out == tmp_path / "sub" / "eval.csv"
    table = _read(out)
    assert table[0] == ["image", "psnr_y", "ssim_y", "note"]
    assert table[1] == ["a.png", "30.0000", "0.9000", ""]
    assert table[2] == ["b.png", "inf", "1.0000", ""]
    assert table[-1] == ["mean", "25.0000", "0.9000", ""]
    assert len(table) == 5
    assert [p.name for p in out.parent.iterdir()] == ["eval.csv"]  # no temporary file left


def test_write_csv_adds_key_column_and_rejects_empty(tmp_path: Path) -> None:
    table = _read(write_csv([{"psnr": 1.5}, {"psnr": 2.5}], tmp_path / "m.csv"))
    assert table == [["image", "psnr"], ["", "1.500000"], ["", "2.500000"], ["mean", "2.000000"]]
    with pytest.raises(InputError, match="no rows"):
        write_csv([], tmp_path / "empty.csv")


def test_summarize() -> None:
    rows = [
        {"image": "a", "psnr": 30.0, "ssim": 0.5, "ok": True},
        {"image": "b", "psnr": math.inf, "ssim": 0.7, "ok": False},
        {"image": "c", "psnr": 40.0, "ssim": np.float64(0.9), "ok": True},
    ]
    assert summarize(rows) == pytest.approx({"psnr": 35.0, "ssim": 0.7})
    assert summarize([{"psnr": math.inf}, {"psnr": math.inf}]) == {"psnr": math.inf}
    assert summarize([]) == {}


def test_metrics_import_no_cli_or_plugin_libraries() -> None:
    banned = {"typer", "pluggy", "albumentations"}
    for path in Path(metrics_pkg.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not {n.split(".")[0] for n in names} & banned, (path.name, names)
