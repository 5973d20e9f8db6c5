"""The super-resolution format (``sr``): items, degradations, validation, demo and CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from i2i.cli.app import build_app
from i2i.cli.datasets import demo_kinds, parse_params
from i2i.datasets.image_io import write_image
from i2i.datasets.sr import (
    SPEC,
    SRParams,
    bicubic_downscale,
    build_sr,
    degrade,
    make_sr_demo,
    validate_sr,
)
from i2i.errors import ConfigError, DatasetError, ImageReadError
from i2i.specs import DataOptions

DEGRADE = {"blur_sigma": 2.0, "noise_std": 0.1, "jpeg_quality": 30}


def opts(scale: int = 4, size: int = 16, **kw) -> DataOptions:
    params = {"scale": scale, **kw.pop("params", {})}
    channels = kw.pop("channels", 3)
    return DataOptions(size=size, channels={"lr": channels, "hr": channels}, params=params, **kw)


def _pattern(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.float32) / 255.0


def flat_root(tmp_path: Path, n: int = 3, w: int = 40, h: int = 36, split: str = "train") -> Path:
    root = tmp_path / "flat"
    for i in range(n):
        write_image(root / split / f"img{i}.png", _pattern(h, w, i))
    return root


def paired_root(tmp_path: Path, scale: int, n: int = 3, lw: int = 10, lh: int = 9) -> Path:
    """HR = LR blown up by pixel repetition, so every aligned HR block equals one LR pixel."""
    root = tmp_path / f"pairs{scale}"
    for i in range(n):
        lr = np.round(_pattern(lh, lw, 10 + i) * 255) / 255
        write_image(root / "train" / "LR" / f"p{i}.png", lr)
        write_image(root / "train" / "HR" / f"p{i}.png", np.kron(lr, np.ones((scale, scale, 1))))
    return root


def _error(fn, root: Path, options: DataOptions, kind: type = DatasetError) -> str:
    with pytest.raises(kind) as info:
        fn(root, options)
    msg = str(info.value)
    assert "\n" not in msg, msg
    return msg


# -- items -------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [2, 4])
def test_item_shapes_range_and_crop_alignment(tmp_path: Path, scale: int) -> None:
    ds = build_sr(flat_root(tmp_path), opts(scale, size=16))
    assert len(ds) == 3 and not ds.paired
    for seed in range(4):
        item = ds[(seed % 3, seed)]
        hr, lr = item["hr"], item["lr"]
        assert hr.shape == (3, 16, 16) and lr.shape == (3, 16 // scale, 16 // scale)
        assert hr.dtype == lr.dtype == torch.float32 and item["skipped"] == 0
        assert hr.min() >= -1 and hr.max() <= 1 and lr.min() >= -1 and lr.max() <= 1
        # the LR of a flat folder is exactly the bicubic downscale of the HR crop
        expected = bicubic_downscale((hr[None] + 1) / 2, scale)[0] * 2 - 1
        torch.testing.assert_close(lr, expected, atol=1e-5, rtol=0)


def test_crop_is_taken_from_the_file_at_scale_aligned_positions(tmp_path: Path) -> None:
    root = flat_root(tmp_path, n=1, w=40, h=36)
    full = torch.from_numpy(_pattern(36, 40, 0)).permute(2, 0, 1)
    full = torch.round(full * 255) / 255 * 2 - 1
    ds = build_sr(root, opts(4, size=16, flip=False))
    offsets = set()
    for seed in range(12):
        hr = ds[(0, seed)]["hr"]
        hits = [
            (y, x)
            for y in range(0, 36 - 16 + 1)
            for x in range(0, 40 - 16 + 1)
            if torch.allclose(full[:, y : y + 16, x : x + 16], hr, atol=1e-3)
        ]
        assert len(hits) == 1 and hits[0][0] % 4 == 0 and hits[0][1] % 4 == 0, hits
        offsets.add(hits[0])
    assert len(offsets) > 1  # the crop position is random


def test_paired_folders_give_aligned_pairs_with_flips(tmp_path: Path) -> None:
    for scale in (2, 3):
        root = paired_root(tmp_path, scale)
        o = opts(scale, size=6 * scale, params={"rot90": True})
        assert validate_sr(root, o).counts == {"hr": 3, "lr": 3}
        ds = build_sr(root, o)
        assert ds.paired and len(ds) == 3
        for seed in range(6):
            item = ds[(seed % 3, seed)]
            hr, lr = item["hr"], item["lr"]
            assert hr.shape == (3, 6 * scale, 6 * scale) and lr.shape == (3, 6, 6)
            assert item["lr_path"].endswith(Path(item["hr_path"]).name)
            torch.testing.assert_close(hr[:, ::scale, ::scale], lr, atol=1e-6, rtol=0)


def test_whole_image_when_size_is_zero(tmp_path: Path) -> None:
    root = flat_root(tmp_path, n=1, w=42, h=38, split="test")
    ds = build_sr(root, opts(4, size=0, split="test"))
    item = ds[0]
    assert item["hr"].shape == (3, 36, 40) and item["lr"].shape == (3, 9, 10)
    full = torch.from_numpy(_pattern(38, 42, 0)).permute(2, 0, 1)
    torch.testing.assert_close((item["hr"] + 1) / 2, full[:, :36, :40], atol=3e-3, rtol=0)


def test_degradations_are_seeded_and_grayscale_works(tmp_path: Path) -> None:
    root = flat_root(tmp_path)
    ds = build_sr(root, opts(4, size=16, params=DEGRADE))
    a, b, c = ds[(1, 7)], ds[(1, 7)], ds[(1, 8)]
    assert torch.equal(a["lr"], b["lr"]) and torch.equal(a["hr"], b["hr"])
    assert not torch.equal(a["lr"], c["lr"])
    clean = bicubic_downscale((a["hr"][None] + 1) / 2, 4)[0] * 2 - 1
    assert (a["lr"] - clean).abs().mean() > 0.01  # the degradations did something
    gray = build_sr(root, opts(4, size=16, channels=1, params=DEGRADE))[(0, 3)]
    assert gray["hr"].shape == (1, 16, 16) and gray["lr"].shape == (1, 4, 4)
    assert gray["lr"].min() >= -1 and gray["lr"].max() <= 1


def test_degrade_function() -> None:
    hr = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    run = lambda s, **kw: degrade(hr, 4, torch.Generator().manual_seed(s), **kw)  # noqa: E731
    assert torch.equal(run(1, **DEGRADE), run(1, **DEGRADE))
    assert not torch.equal(run(1, **DEGRADE), run(2, **DEGRADE))
    out = run(1, **DEGRADE)
    assert out.shape == (2, 3, 8, 8) and out.min() >= 0 and out.max() <= 1
    torch.testing.assert_close(run(1), bicubic_downscale(hr, 4))  # no extras: plain bicubic
    noise = run(1, noise_std=0.2) - run(1)
    assert noise.abs().mean() > 0 and abs(noise[0].std() - noise[1].std()) > 1e-3  # per image
    blurred = run(1, blur_sigma=3.0)
    assert (blurred[..., 1:] - blurred[..., :-1]).abs().mean() < (
        (run(1)[..., 1:] - run(1)[..., :-1]).abs().mean()
    )
    with pytest.raises(ValueError, match="multiples of the scale 4"):
        degrade(hr[..., :30], 4)
    with pytest.raises(ValueError, match="jpeg_quality"):
        degrade(hr, 4, jpeg_quality=99)


def test_bicubic_downscale_antialias_flattens_fine_patterns() -> None:
    y, x = np.mgrid[0:96, 0:96]
    checker = torch.from_numpy(((x // 1 + y // 1) % 3 == 0).astype(np.float32))
    img = checker.expand(1, 3, 96, 96)
    smooth = bicubic_downscale(img, 4)
    plain = bicubic_downscale(img, 4, antialias=False)
    assert smooth.shape == plain.shape == (1, 3, 24, 24)
    inner = (slice(None), slice(None), slice(2, -2), slice(2, -2))
    assert smooth[inner].std() < 0.02 and abs(smooth[inner].mean() - img.mean()) < 0.02
    assert plain[inner].std() > 0.1  # aliasing: a false coarse pattern
    assert smooth.min() >= 0 and plain.min() >= 0 and plain.max() <= 1


# -- validation --------------------------------------------------------------------------------


def test_validate_flat_and_errors(tmp_path: Path) -> None:
    root = flat_root(tmp_path, w=40, h=36)
    assert validate_sr(root, opts(4, size=32)).counts == {"hr": 3}
    msg = _error(validate_sr, root, opts(4, size=30), ConfigError)
    assert "multiple of the super-resolution scale 4" in msg and "28 or 32" in msg
    _error(build_sr, root, opts(4, size=30), ConfigError)
    write_image(root / "train" / "tiny.png", _pattern(20, 24, 9))
    msg = _error(validate_sr, root, opts(4, size=32))
    assert "train/tiny.png (24x20)" in msg and "smaller than the crop size 32x32" in msg
    assert "train with --size 20 (the largest multiple of the scale 4" in msg  # 20 fits 24x20
    assert "img0" not in msg
    msg = _error(validate_sr, tmp_path / "nope", opts())
    assert "does not exist" in msg and "demo --kind sr" in msg
    msg = _error(validate_sr, root, opts(split="test"))
    assert "no test/ folder" in msg
    msg = _error(validate_sr, root, opts(params={"scal": 2}), ConfigError)
    assert "unknown sr dataset param(s) scal" in msg and "scale (default 4)" in msg
    assert "one of 1, 2, 3, 4, 8" in _error(validate_sr, root, opts(5), ConfigError)


def test_validate_pairs_errors(tmp_path: Path) -> None:
    root = paired_root(tmp_path, 2)
    assert validate_sr(root, opts(2, size=16)).counts == {"hr": 3, "lr": 3}
    msg = _error(validate_sr, root, opts(4, size=16))  # the files are x2 pairs
    assert "do not match the scale 4" in msg and "LR size times 4 must equal" in msg
    assert "train/LR/p0.png 10x9 vs train/HR/p0.png 20x18" in msg
    write_image(root / "train" / "HR" / "extra.png", _pattern(18, 20, 3))
    write_image(root / "train" / "LR" / "other.png", _pattern(9, 10, 4))
    msg = _error(validate_sr, root, opts(2, size=16))
    assert "1 file(s) in HR/ have no partner in LR/: extra.png" in msg
    assert "1 file(s) in LR/ have no partner in HR/: other.png" in msg
    only_hr = tmp_path / "only"
    write_image(only_hr / "train" / "HR" / "a.png", _pattern(16, 16, 0))
    msg = _error(validate_sr, only_hr, opts(2, size=16))
    assert "has HR/ but no LR/" in msg


def test_corrupt_files_are_skipped_unless_strict(tmp_path: Path) -> None:
    root = flat_root(tmp_path, n=2)
    (root / "train" / "img0.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    msg = _error(validate_sr, root, opts(4, size=16))
    assert "1 unreadable image file(s)" in msg and "train/img0.png" in msg
    ds = build_sr(root, opts(4, size=16))
    item = ds[(0, 5)]
    assert item["skipped"] == 1 and item["hr_path"].endswith("img1.png")
    assert ds[(0, 6)]["skipped"] == 1  # remembered: not decoded again, still counted
    with pytest.raises(ImageReadError, match="img0.png"):
        build_sr(root, opts(4, size=16, strict=True))[(0, 5)]


# -- demo, registration, CLI -------------------------------------------------------------------


def test_demo_is_deterministic_and_valid(tmp_path: Path) -> None:
    make_sr_demo(tmp_path / "a", seed=3, n_train=3, n_test=1)
    make_sr_demo(tmp_path / "b", seed=3, n_train=3, n_test=1)
    make_sr_demo(tmp_path / "c", seed=4, n_train=3, n_test=1)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.png"))
    assert len(files) == 4
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    assert (tmp_path / "a" / files[0]).read_bytes() != (tmp_path / "c" / files[0]).read_bytes()
    for scale in (2, 3, 4):
        assert validate_sr(tmp_path / "a", opts(scale, size=48)).counts == {"hr": 3}
    hr = build_sr(tmp_path / "a", opts(4, size=96, flip=False))[0]["hr"]
    # high-frequency content: neighbouring pixels differ a lot somewhere
    assert (hr[:, :, 1:] - hr[:, :, :-1]).abs().max() > 0.5
    with pytest.raises(DatasetError, match="made with seed=3"):
        make_sr_demo(tmp_path / "a", seed=5, n_train=3, n_test=1)


def test_registered_with_a_demo_kind(ctx) -> None:
    assert ctx.dataset_formats.get("sr") is SPEC
    assert SPEC.keys == ("lr", "hr")
    assert demo_kinds(ctx)["sr"] is SPEC


def test_sr_params_and_parse_params() -> None:
    assert SRParams.from_mapping({}) == SRParams(4, 0.0, 0.0, 0, False)
    assert SRParams.from_mapping({"scale": 2.0, "jpeg_quality": 50}).scale == 2
    with pytest.raises(ConfigError, match="noise_std must be in"):
        SRParams.from_mapping({"noise_std": 2})
    with pytest.raises(ConfigError, match="jpeg_quality must be"):
        SRParams.from_mapping({"jpeg_quality": 97})
    assert parse_params(["scale=2", "noise_std=0.05", "mode=x"]) == {
        "scale": 2,
        "noise_std": 0.05,
        "mode": "x",
    }
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_params(["scale"])


def test_cli_demo_and_check(ctx, tmp_path: Path) -> None:
    runner, app = CliRunner(), build_app(ctx)

    def invoke(*args: object):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    out = tmp_path / "srdemo"
    r = invoke("datasets", "demo", out, "--kind", "sr")
    assert r.exit_code == 0, r.output
    assert len(list((out / "train").glob("*.png"))) == 24
    assert len(list((out / "test").glob("*.png"))) == 8
    r = invoke("datasets", "check", out, "--format", "sr", "--param", "scale=2", "--size", "96")
    assert r.exit_code == 0 and "valid 'sr' dataset (hr: 24)" in r.output, r.output
    r = invoke("datasets", "check", out, "--format", "sr", "--param", "scale=3", "--size", "64")
    assert r.exit_code == 1 and "use 63 or 66" in r.output, r.output
    r = invoke("datasets", "check", out, "-f", "sr", "-p", "scale=4", "--size", "128")
    assert r.exit_code == 1 and "smaller than the crop size 128x128" in r.output, r.output
    assert "train with --size 96" in r.output
