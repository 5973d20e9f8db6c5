"""i2i's FID / KID / IS equal the reference packages' on the same folders with the same weights.

One randomly initialised weights file in the real layout (pytorch-fid's / torch-fidelity's keys)
is loaded into i2i and into each reference: torch-fidelity (the ``tf`` protocol: FID, KID, IS),
pytorch-fid (the ``pytorch-fid`` protocol: FID) and clean-fid (the ``clean`` protocol: FID,
KID). Tolerances: FID 1e-3 absolute, KID / IS 1e-4 relative. No test may touch the network:
every socket connection outside the loopback fails the test.

Inception v3 at 299 px is slow on CPU, so the folders are small and every set of features is
computed once per session (by i2i and by each reference) and shared between the tests.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from i2i.metrics.fid import (
    InceptionExtractor,
    InceptionOutputs,
    inception_score,
    kernel_inception_distance,
)
from i2i.metrics.folders import fid_result

FID_ABS = 1e-3
REL = 1e-4

# ---------------------------------------------------------------------------------------------
# no network


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else str(address)
        if self.family == socket.AF_UNIX or host in ("127.0.0.1", "::1", "localhost"):
            return real_connect(self, address)
        pytest.fail(f"a metric tried to reach the network ({address})")

    monkeypatch.setattr(socket.socket, "connect", guarded)


# ---------------------------------------------------------------------------------------------
# image folders


def _image(rng: np.random.Generator, style: str, h: int, w: int) -> np.ndarray:
    if style == "blobs":  # smooth colour fields with a little noise
        base = Image.fromarray(rng.integers(0, 256, (3, 3, 3), dtype=np.uint8))
        arr = np.asarray(base.resize((w, h), Image.BILINEAR)).astype(np.int16)
        arr = arr + rng.integers(-12, 13, (h, w, 3))
    else:  # "stripes": hard-edged bands in a warm palette with strong noise
        period = int(rng.integers(3, 8))
        band = ((np.arange(w)[None, :] + np.arange(h)[:, None] * rng.integers(0, 2)) // period) % 2
        colour = rng.integers(0, 256, 3)
        arr = np.where(band[..., None] == 1, colour, 255 - colour * [0.2, 0.6, 1.0])
        arr = arr + rng.integers(-60, 61, (h, w, 3))
    return np.clip(arr, 0, 255).astype(np.uint8)


def _write(folder: Path, n: int, seed: int, style: str, sizes: list[tuple[int, int]]) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        h, w = sizes[i % len(sizes)]
        Image.fromarray(_image(rng, style, h, w)).save(folder / f"{i:03d}.png")
    return folder


@pytest.fixture(scope="session")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fid-folders")
    f = {
        "A": _write(root / "A", 6, 1, "blobs", [(32, 32)]),
        "B": _write(root / "B", 6, 2, "stripes", [(32, 32)]),
        "C": _write(root / "C", 20, 3, "blobs", [(24, 24)]),  # 20 images: IS with 10 splits
        "M": _write(root / "M", 4, 4, "stripes", [(20, 28), (40, 32), (33, 17), (64, 48)]),
    }
    f["G"] = root / "G"  # grayscale (mode L) versions of B
    f["B16"] = root / "B16"  # 16-bit RGB versions of B (values x 257)
    f["G"].mkdir()
    f["B16"].mkdir()
    import cv2

    for p in sorted(f["B"].iterdir()):
        rgb = np.asarray(Image.open(p))
        Image.fromarray(rgb).convert("L").save(f["G"] / p.name)
        cv2.imwrite(str(f["B16"] / p.name), (rgb[..., ::-1].astype(np.uint16) * 257))
    return f


# ---------------------------------------------------------------------------------------------
# features, each computed once


@pytest.fixture(scope="session")
def i2i_feats(metric_weights: dict[str, Path], folders: dict[str, Path]) -> Callable[..., Any]:
    extractors: dict[str, InceptionExtractor] = {}
    cache: dict[tuple[str, str], InceptionOutputs] = {}

    def get(key: str, protocol: str = "tf") -> InceptionOutputs:
        if (key, protocol) not in cache:
            if protocol not in extractors:
                extractors[protocol] = InceptionExtractor(
                    metric_weights["inception"], protocol=protocol, batch_size=20
                )
            cache[key, protocol] = extractors[protocol].folder(folders[key], keep_logits=True)
        return cache[key, protocol]

    return get


@pytest.fixture(scope="session")
def torch_fidelity_metrics(
    metric_weights: dict[str, Path], folders: dict[str, Path], tmp_path_factory: Any
) -> Callable[..., dict[str, float]]:
    """``metrics(key1, key2, **kwargs)`` from ``torch_fidelity.calculate_metrics``, end to end,
    with its feature cache (per folder name) so each folder goes through its network once."""
    torch_fidelity = pytest.importorskip("torch_fidelity")
    cache_root = tmp_path_factory.mktemp("torch-fidelity-cache")

    def metrics(key1: str, key2: str | None = None, **kw: Any) -> dict[str, float]:
        args: dict[str, Any] = {
            "input1": str(folders[key1]),
            "input1_cache_name": f"i2i-test-{key1}",
            "cuda": False,
            "batch_size": 1,  # folders may mix sizes
            "save_cpu_ram": True,
            "verbose": False,
            "cache": True,
            "cache_root": str(cache_root),
            "feature_extractor_weights_path": str(metric_weights["inception"]),
        }
        if key2 is not None:
            args.update(input2=str(folders[key2]), input2_cache_name=f"i2i-test-{key2}")
        return torch_fidelity.calculate_metrics(**args, **kw)

    return metrics


@pytest.fixture(scope="session")
def pytorch_fid_stats(
    metric_weights: dict[str, Path], folders: dict[str, Path]
) -> Callable[[str], tuple[np.ndarray, np.ndarray]]:
    """pytorch-fid's ``compute_statistics_of_path`` with its InceptionV3 holding the test
    weights (its download function is replaced by reading the file)."""
    pytest.importorskip("pytorch_fid")
    from pytorch_fid import fid_score, inception

    state = torch.load(metric_weights["inception"], map_location="cpu", weights_only=True)
    mp = pytest.MonkeyPatch()
    mp.setattr(inception, "load_state_dict_from_url", lambda *a, **k: state)
    try:
        model = inception.InceptionV3([inception.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    finally:
        mp.undo()
    cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def stats(key: str) -> tuple[np.ndarray, np.ndarray]:
        if key not in cache:
            cache[key] = fid_score.compute_statistics_of_path(
                str(folders[key]), model, batch_size=50, dims=2048, device="cpu", num_workers=0
            )
        return cache[key]

    return stats


@pytest.fixture(scope="session")
def clean_fid_feats(
    metric_weights: dict[str, Path], folders: dict[str, Path]
) -> Callable[[str], np.ndarray]:
    """clean-fid's ``get_folder_features`` in ``clean`` mode (its PIL-bicubic resize); the
    network is pytorch-fid's InceptionV3 with the test weights, fed ``(x - 128) / 128`` exactly
    as clean-fid feeds its TorchScript Inception (which cannot load other weights)."""
    pytest.importorskip("cleanfid")
    from cleanfid import fid as cfid
    from pytorch_fid import inception

    state = torch.load(metric_weights["inception"], map_location="cpu", weights_only=True)
    mp = pytest.MonkeyPatch()
    mp.setattr(inception, "load_state_dict_from_url", lambda *a, **k: state)
    try:
        net = inception.InceptionV3([3], resize_input=False, normalize_input=False).eval()
    finally:
        mp.undo()

    def model(x: torch.Tensor) -> torch.Tensor:
        assert x.shape[-2:] == (299, 299)
        return net((x - 128) / 128)[0].squeeze(-1).squeeze(-1)

    cache: dict[str, np.ndarray] = {}

    def feats(key: str) -> np.ndarray:
        if key not in cache:
            cache[key] = cfid.get_folder_features(
                str(folders[key]), model, num_workers=0, batch_size=8,
                device=torch.device("cpu"), mode="clean", verbose=False,
            )  # fmt: skip
        return cache[key]

    return feats


def _fid(a: InceptionOutputs, b: InceptionOutputs) -> float:
    return fid_result(a, b, "tf")["fid"]  # few images: from the features (the fast exact path)


def _rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


def _report(what: str, **pairs: tuple[float, float]) -> None:
    """Print the measured differences (shown with ``pytest -s``; the report quotes them)."""
    parts = [
        f"{k} {a:.6g} vs {b:.6g} "
        + (f"|diff| {abs(a - b):.2e}" if k == "fid" else f"rel {_rel(a, b):.2e}")
        for k, (a, b) in pairs.items()
    ]
    print(f"AGREEMENT {what}: " + "; ".join(parts))


# ---------------------------------------------------------------------------------------------
# the tf protocol against torch-fidelity


def test_fid_kid_is_match_torch_fidelity(
    i2i_feats: Callable[..., Any], torch_fidelity_metrics: Callable[..., Any]
) -> None:
    # C (blobs) against B (stripes): distributions apart, so KID is not a rounding residue
    ref = torch_fidelity_metrics("C", "B", fid=True, kid=True, isc=True, kid_subset_size=6)
    c, a = i2i_feats("C"), i2i_feats("B")
    fid = _fid(c, a)
    kid, _, m = kernel_inception_distance(c.features, a.features, subset_size=6)
    isc, isc_std = inception_score(c.logits)
    assert m == 6
    _report("tf vs torch-fidelity", fid=(fid, ref["frechet_inception_distance"]),
            kid=(kid, ref["kernel_inception_distance_mean"]),
            isc=(isc, ref["inception_score_mean"]))  # fmt: skip
    assert fid > 1.0 and isc > 1.05  # real comparisons, not of zeros
    assert abs(fid - ref["frechet_inception_distance"]) < FID_ABS
    assert _rel(kid, ref["kernel_inception_distance_mean"]) < REL
    assert _rel(isc, ref["inception_score_mean"]) < REL
    assert _rel(isc_std, ref["inception_score_std"]) < 1e-3


def test_kid_subsets_smaller_than_the_sets_sample_like_torch_fidelity(
    i2i_feats: Callable[..., Any], torch_fidelity_metrics: Callable[..., Any]
) -> None:
    ref = torch_fidelity_metrics("C", "B", kid=True, kid_subset_size=4, kid_subsets=7)
    kid, std, _ = kernel_inception_distance(
        i2i_feats("C").features, i2i_feats("B").features, subset_size=4, subsets=7
    )
    _report("tf vs torch-fidelity, subsets", kid=(kid, ref["kernel_inception_distance_mean"]))
    assert _rel(kid, ref["kernel_inception_distance_mean"]) < REL
    assert _rel(std, ref["kernel_inception_distance_std"]) < 1e-3


def test_grayscale_folder_matches_torch_fidelity(
    i2i_feats: Callable[..., Any], torch_fidelity_metrics: Callable[..., Any]
) -> None:
    ref = torch_fidelity_metrics("A", "G", fid=True)
    fid = _fid(i2i_feats("A"), i2i_feats("G"))
    _report("tf vs torch-fidelity, grayscale", fid=(fid, ref["frechet_inception_distance"]))
    assert abs(fid - ref["frechet_inception_distance"]) < FID_ABS


def test_mixed_size_folder_matches_torch_fidelity(
    i2i_feats: Callable[..., Any], torch_fidelity_metrics: Callable[..., Any]
) -> None:
    ref = torch_fidelity_metrics("A", "M", fid=True)
    fid = _fid(i2i_feats("A"), i2i_feats("M"))
    _report("tf vs torch-fidelity, mixed sizes", fid=(fid, ref["frechet_inception_distance"]))
    assert abs(fid - ref["frechet_inception_distance"]) < FID_ABS


def test_16bit_folder_gives_the_fid_of_its_8bit_version(
    i2i_feats: Callable[..., Any], torch_fidelity_metrics: Callable[..., Any]
) -> None:
    # the references read 16-bit PNGs through PIL's convert("RGB"), which clips them to white;
    # i2i reduces them to the 8-bit values (v / 257), so its FID is the 8-bit folder's
    ref = torch_fidelity_metrics("A", "B", fid=True)
    np.testing.assert_array_equal(i2i_feats("B16").features, i2i_feats("B").features)
    assert abs(_fid(i2i_feats("A"), i2i_feats("B16")) - ref["frechet_inception_distance"]) < FID_ABS


# ---------------------------------------------------------------------------------------------
# the pytorch-fid and clean protocols


def test_fid_matches_pytorch_fid(
    i2i_feats: Callable[..., Any], pytorch_fid_stats: Callable[[str], Any]
) -> None:
    from pytorch_fid.fid_score import calculate_frechet_distance

    ref = calculate_frechet_distance(*pytorch_fid_stats("A"), *pytorch_fid_stats("B"))
    ours = _fid(i2i_feats("A", "pytorch-fid"), i2i_feats("B", "pytorch-fid"))
    _report("pytorch-fid vs pytorch-fid", fid=(ours, ref))
    assert ours > 1.0
    assert abs(ours - ref) < FID_ABS
    # the protocols differ: the tf protocol's FID is another number
    assert abs(_fid(i2i_feats("A"), i2i_feats("B")) - ref) > 10 * FID_ABS


def test_fid_and_kid_match_clean_fid(
    i2i_feats: Callable[..., Any], clean_fid_feats: Callable[[str], np.ndarray]
) -> None:
    from cleanfid.fid import fid_from_feats, kernel_distance

    fa, fb = clean_fid_feats("A"), clean_fid_feats("B")
    a, b = i2i_feats("A", "clean"), i2i_feats("B", "clean")
    assert abs(_fid(a, b) - fid_from_feats(fa, fb)) < FID_ABS
    np.random.seed(0)  # clean-fid samples subsets with the global RNG; 6 of 6 is every image
    ref_kid = kernel_distance(fa, fb)
    kid, _, m = kernel_inception_distance(a.features, b.features)
    _report("clean vs clean-fid", fid=(_fid(a, b), fid_from_feats(fa, fb)), kid=(kid, ref_kid))
    assert m == 6
    assert _rel(kid, ref_kid) < REL
