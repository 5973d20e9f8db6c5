"""The pieces of FID / KID / IS without the network: statistics, distances, resizes, weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from i2i.errors import CheckpointError, ConfigError, InputError
from i2i.metrics.fid import (
    FeatureStats,
    frechet_distance,
    frechet_distance_features,
    inception_score,
    kernel_inception_distance,
)
from i2i.metrics.inception import (
    FIDInceptionV3,
    load_inception,
    preprocess,
    resize_bilinear_tf1,
    to_uint8_rgb,
)
from i2i.metrics.weights import (
    KNOWN_WEIGHTS,
    WeightsMissingError,
    resolve_weights,
    verify_file,
)


def test_streaming_statistics_equal_numpy() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 0.3, (37, 8)).astype(np.float32)
    s = FeatureStats(8)
    for i in range(0, 37, 10):
        s.update(x[i : i + 10])
    mu, sigma = s.mean_cov()
    np.testing.assert_allclose(mu, x.astype(np.float64).mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x.astype(np.float64), rowvar=False), atol=1e-12)
    with pytest.raises(InputError, match="at least 2 images"):
        FeatureStats(8).mean_cov()


def test_frechet_distance_equals_scipy_sqrtm_formula() -> None:
    scipy_linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(50, 6)), rng.normal(0.5, 2.0, size=(40, 6))
    m1, s1, m2, s2 = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    covmean = scipy_linalg.sqrtm(s1 @ s2).real
    ref = (m1 - m2) @ (m1 - m2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(ref, rel=1e-10)
    assert abs(frechet_distance(m1, s1, m1, s1)) < 1e-10
    with pytest.raises(InputError, match="do not fit"):
        frechet_distance(m1, s1, m2[:3], s2[:3, :3])


@pytest.mark.parametrize("n", [5, 40])  # fewer and more vectors than dimensions
def test_fid_from_features_equals_fid_from_statistics(n: int) -> None:
    rng = np.random.default_rng(5)
    a, b = rng.random((n, 24)), rng.random((n + 3, 24)) * 1.3 + 0.1
    ref = frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert frechet_distance_features(a, b) == pytest.approx(ref, rel=1e-9, abs=1e-9)
    assert abs(frechet_distance_features(a, a)) < 1e-10


def test_stats_npz_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    s = FeatureStats(4)
    s.update(rng.normal(size=(9, 4)))
    back = FeatureStats.from_npz(s.save_npz(tmp_path / "s.npz"))
    for x, y in zip(s.mean_cov(), back.mean_cov(), strict=True):
        np.testing.assert_array_equal(x, y)
    assert back.n == 9
    np.savez(tmp_path / "bad.npz", mu=np.zeros(3))
    with pytest.raises(ConfigError, match="'mu' and 'sigma'"):
        FeatureStats.from_npz(tmp_path / "bad.npz")


def test_kid_of_one_distribution_is_near_zero_and_subsets_shrink() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(30, 64)), rng.normal(size=(25, 64))
    mean, _, m = kernel_inception_distance(a, b, subsets=20)
    assert m == 25
    far, _, _ = kernel_inception_distance(a, b + 1.0, subsets=20)
    assert far > 10 * abs(mean)
    with pytest.raises(InputError, match="at least 2 images"):
        kernel_inception_distance(a[:1], b)


def test_inception_score_bounds_and_too_few_images() -> None:
    uniform = np.zeros((20, 10))
    assert inception_score(uniform)[0] == pytest.approx(1.0)
    confident = np.eye(10)[np.arange(20) % 10] * 50.0  # every class, each image sure of one
    assert inception_score(confident, splits=2, shuffle=False)[0] == pytest.approx(10.0, rel=1e-6)
    with pytest.raises(InputError, match="one image per split"):
        inception_score(uniform[:9])


def test_tf1_resize_equals_torch_fidelity_exactly() -> None:
    pytest.importorskip("torch_fidelity")
    from torch_fidelity.interpolate_compat_tensorflow import (
        interpolate_bilinear_2d_like_tensorflow1x,
    )

    for h, w in [(32, 32), (17, 45), (512, 300)]:
        x = torch.randint(0, 256, (2, 3, h, w)).float()
        ref = interpolate_bilinear_2d_like_tensorflow1x(x, size=(299, 299), align_corners=False)
        assert torch.equal(resize_bilinear_tf1(x, 299), ref)


def test_protocols_preprocess_differently() -> None:
    img = np.random.default_rng(4).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    outs = {p: preprocess(img, p) for p in ("tf", "pytorch-fid", "clean")}
    assert all(o.shape == (3, 299, 299) for o in outs.values())
    assert not torch.allclose(outs["tf"], outs["pytorch-fid"], atol=1e-3)
    assert not torch.allclose(outs["tf"], outs["clean"], atol=1e-3)
    with pytest.raises(ConfigError, match="unknown FID protocol"):
        preprocess(img, "tf2")


def test_to_uint8_rgb_handles_gray_16bit_and_float() -> None:
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert to_uint8_rgb(gray).shape == (3, 4, 3)
    sixteen = gray.astype(np.uint16) * 257
    np.testing.assert_array_equal(to_uint8_rgb(sixteen), to_uint8_rgb(gray))
    np.testing.assert_array_equal(to_uint8_rgb(gray.astype(np.float32) / 255), to_uint8_rgb(gray))
    with pytest.raises(InputError):
        to_uint8_rgb(np.zeros((2, 2, 2), np.uint8))


def test_inception_loading_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="i2i weights download inception"):
        load_inception(tmp_path / "missing.pth")
    state = FIDInceptionV3().state_dict()
    del state["Mixed_7c.branch_pool.conv.weight"]
    torch.save(state, tmp_path / "short.pth")
    with pytest.raises(CheckpointError, match="lack key 'Mixed_7c.branch_pool.conv.weight'"):
        load_inception(tmp_path / "short.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_inception(tmp_path / "junk.pth")


def test_resolve_weights_order_and_missing_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wdir, settings = tmp_path / "w", tmp_path / "settings.toml"
    wdir.mkdir()
    env = {"I2I_WEIGHTS_DIR": str(wdir), "I2I_SETTINGS": str(settings)}
    with pytest.raises(WeightsMissingError) as e:
        resolve_weights("inception", env=env)
    msg = str(e.value)
    assert "pt_inception-2015-12-05-6726825d.pth" in msg and "\n" not in msg
    assert "i2i weights download inception" in msg and "--inception-weights" in msg
    (wdir / KNOWN_WEIGHTS["inception"].filename).write_bytes(b"x")
    assert resolve_weights("inception", env=env) == wdir / KNOWN_WEIGHTS["inception"].filename
    other = tmp_path / "mine.pth"
    other.write_bytes(b"y")
    settings.write_text(f'[weights]\ninception = "{other}"\n')
    assert resolve_weights("inception", env=env) == other
    assert resolve_weights("inception", other, env=env) == other
    with pytest.raises(WeightsMissingError, match="--inception-weights"):
        resolve_weights("inception", tmp_path / "nope.pth", env=env)
    settings.write_text("[weights\n")
    with pytest.raises(ConfigError, match="settings file"):
        resolve_weights("inception", env=env)
    with pytest.raises(ConfigError, match="known: inception"):
        resolve_weights("fid", env=env)


def test_known_hashes_verify(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"abc")
    ok, digest = verify_file("lpips-alex", p)
    assert not ok and len(digest) == 64
    assert all(len(w.sha256) in (8, 64) for w in KNOWN_WEIGHTS.values())
    lpips = pytest.importorskip("lpips")
    shipped = Path(lpips.__file__).parent / "weights" / "v0.1"
    assert verify_file("lpips-alex", shipped / "alex.pth")[0]
    assert verify_file("lpips-vgg", shipped / "vgg.pth")[0]
