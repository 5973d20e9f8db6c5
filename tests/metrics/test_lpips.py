"""i2i's LPIPS equals the ``lpips`` package's (and torchmetrics') with the same weight files."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from i2i.errors import CheckpointError, ConfigError, DatasetError, InputError
from i2i.metrics.folders import lpips_folders, paired_files
from i2i.metrics.lpips import LPIPS_NETS, load_lpips

REL = 1e-4


def _pairs(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for i, (h, w) in enumerate([(64, 64), (48, 80), (64, 64)]):
        x = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        y = np.clip(x.astype(int) + rng.integers(-40, 41, x.shape), 0, 255).astype(np.uint8)
        Image.fromarray(x).save(a / f"{i}.png")
        Image.fromarray(y).save(b / f"{i}.jpg" if i == 1 else b / f"{i}.png", quality=95)
    return a, b


def _lpips_reference(net: str, lin: Path, backbone: Path) -> torch.nn.Module:
    """The lpips package's LPIPS: random trunk (nothing downloaded), then the same files."""
    lpips = pytest.importorskip("lpips")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its torchvision 'pretrained=' deprecation
        ref = lpips.LPIPS(net=net, pnet_rand=True, model_path=str(lin), verbose=False)
    features = {
        k.removeprefix("features."): v
        for k, v in torch.load(backbone, map_location="cpu", weights_only=True).items()
    }
    # its slices keep torchvision's layer indices: slice2.3.weight <- features.3.weight
    ref.net.load_state_dict({k: features[k.split(".", 1)[1]] for k in ref.net.state_dict()})
    return ref.eval()


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_lpips_matches_the_lpips_package(
    tmp_path: Path, metric_weights: dict[str, Path], net: str
) -> None:
    a, b = _pairs(tmp_path)
    lin, backbone = metric_weights[f"lpips-{net}"], metric_weights[LPIPS_NETS[net][0]]
    model = load_lpips(net, lin, backbone)
    summary, rows = lpips_folders(a, b, model=model)
    ref = _lpips_reference(net, lin, backbone)
    import lpips

    expected = []
    with torch.no_grad():
        for _name, pa, pb in paired_files(a, b):
            ta = lpips.im2tensor(np.asarray(Image.open(pa).convert("RGB")))
            tb = lpips.im2tensor(np.asarray(Image.open(pb).convert("RGB")))
            expected.append(float(ref(ta, tb)))
    got = [r["lpips"] for r in rows]
    rel = max(abs(g - e) / e for g, e in zip(got, expected, strict=True))
    print(f"AGREEMENT lpips {net} vs lpips: max rel {rel:.2e} over {len(got)} pairs")
    assert min(expected) > 0.01
    np.testing.assert_allclose(got, expected, rtol=REL)
    assert summary["lpips"] == pytest.approx(np.mean(expected), rel=REL)
    assert summary["images"] == 3 and summary["net"] == net


def test_lpips_matches_torchmetrics(metric_weights: dict[str, Path]) -> None:
    pytest.importorskip("torchmetrics")
    from torchmetrics.functional.image.lpips import _NoTrainLpips

    lin, backbone = metric_weights["lpips-alex"], metric_weights["alexnet"]
    ref = _NoTrainLpips(net="alex", pnet_rand=True, model_path=str(lin))
    features = {
        k.removeprefix("features."): v
        for k, v in torch.load(backbone, map_location="cpu", weights_only=True).items()
    }
    ref.net.load_state_dict({k: features[k.split(".", 1)[1]] for k in ref.net.state_dict()})
    x = torch.rand(2, 3, 40, 40) * 2 - 1
    y = (x + 0.3 * torch.randn_like(x)).clamp(-1, 1)
    ours = load_lpips("alex", lin, backbone)
    with torch.no_grad():
        np.testing.assert_allclose(ours(x, y).numpy(), ref(x, y).flatten().numpy(), rtol=REL)


def test_lpips_of_identical_images_is_zero(metric_weights: dict[str, Path]) -> None:
    model = load_lpips("alex", metric_weights["lpips-alex"], metric_weights["alexnet"])
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert float(model(x, x)[0]) == 0.0
    with pytest.raises(InputError, match="one size"):
        model(x, torch.zeros(1, 3, 16, 16))
    with pytest.raises(InputError, match="at least 31x31"):
        model(x[..., :20, :], x[..., :20, :])


def test_lpips_loading_errors_name_the_file(
    tmp_path: Path, metric_weights: dict[str, Path]
) -> None:
    with pytest.raises(ConfigError, match="i2i weights download alexnet"):
        load_lpips("alex", metric_weights["lpips-alex"], tmp_path / "none.pth")
    # the VGG linear layers are not AlexNet's
    with pytest.raises(CheckpointError, match="lin1 has shape"):
        load_lpips("alex", metric_weights["lpips-vgg"], metric_weights["alexnet"])
    with pytest.raises(CheckpointError, match="key '0.weight' has shape"):
        load_lpips("vgg", metric_weights["lpips-vgg"], metric_weights["alexnet"])
    with pytest.raises(ConfigError, match="unknown LPIPS network"):
        load_lpips("squeeze", metric_weights["lpips-alex"], metric_weights["alexnet"])


def test_pairing_by_name_reports_unmatched_files(tmp_path: Path) -> None:
    a, b = _pairs(tmp_path)
    (b / "0.png").unlink()
    with pytest.raises(DatasetError, match=r"only in .*a: 0"):
        paired_files(a, b)
