"""VGG perceptual loss: real loading path with a randomly initialized VGG19 saved to disk."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
import torchvision
from safetensors.torch import save_file
from torch import nn

from i2i.errors import CheckpointError, ConfigError, InputError
from i2i.nn import (
    VGG19_LAYERS,
    VGGPerceptualLoss,
    load_vgg19_features,
    vgg_loss_or_none,
)


@pytest.fixture(scope="module")
def tv_vgg19(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], nn.Sequential]:
    """torchvision's random VGG19 saved as a full dict, a features-only dict and a safetensors
    file, plus its ``features`` module (the reference layout); built once for the module."""
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("vgg")
    model = torchvision.models.vgg19(weights=None)
    state = model.state_dict()
    features = {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
    files = {
        "full": root / "vgg19_full.pth",
        "features": root / "vgg19_features.pth",
        "safetensors": root / "vgg19.safetensors",
    }
    torch.save(state, files["full"])
    torch.save(features, files["features"])
    save_file({k: v.contiguous() for k, v in features.items()}, str(files["safetensors"]))
    return files, model.features


@pytest.fixture(scope="module")
def vgg_files(tv_vgg19: tuple[dict[str, Path], nn.Sequential]) -> dict[str, Path]:
    return tv_vgg19[0]


@pytest.fixture(scope="module")
def loss(vgg_files: dict[str, Path]) -> VGGPerceptualLoss:
    return VGGPerceptualLoss.from_file(vgg_files["features"])


def _images(seed: int, channels: int = 3, size: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(2, channels, size, size, generator=g) * 2 - 1


def test_layer_names_match_torchvision_layout(
    tv_vgg19: tuple[dict[str, Path], nn.Sequential],
) -> None:
    features = tv_vgg19[1]  # torchvision.models.vgg19(weights=None).features
    assert len(features) == len(VGG19_LAYERS) == 37
    assert VGG19_LAYERS["conv1_1"] == 0
    assert VGG19_LAYERS["relu1_1"] == 1
    assert VGG19_LAYERS["relu2_1"] == 6
    assert VGG19_LAYERS["relu3_1"] == 11
    assert VGG19_LAYERS["relu4_1"] == 20
    assert VGG19_LAYERS["relu5_1"] == 29
    assert VGG19_LAYERS["conv5_4"] == 34
    assert VGG19_LAYERS["pool5"] == 36
    kinds = {"conv": nn.Conv2d, "relu": nn.ReLU, "pool": nn.MaxPool2d}
    for name, index in VGG19_LAYERS.items():
        assert isinstance(features[index], kinds[name[:4]]), name
    # conv5_4 is the last 512->512 conv before the final ReLU and pooling
    assert features[34].in_channels == features[34].out_channels == 512
    # the loader builds the same layout (without allocating the classifier)
    loaded = load_vgg19_features(tv_vgg19[0]["features"])
    assert [type(m) for m in loaded] == [type(m) for m in features]
    assert [tuple(p.shape) for p in loaded.parameters()] == [
        tuple(p.shape) for p in features.parameters()
    ]


@pytest.mark.parametrize("kind", ["full", "features", "safetensors"])
def test_load_formats_give_the_saved_weights(vgg_files: dict[str, Path], kind: str) -> None:
    feats = load_vgg19_features(vgg_files[kind], max_layer=VGG19_LAYERS["relu2_1"])
    reference = torch.load(vgg_files["features"], weights_only=True)
    assert len(feats) == 7  # truncation keeps modules 0..6 only
    assert torch.equal(feats[0].weight, reference["0.weight"])
    assert torch.equal(feats[5].bias, reference["5.bias"])
    assert not feats.training
    assert all(not p.requires_grad for p in feats.parameters())
    assert all(not m.inplace for m in feats if isinstance(m, nn.ReLU))


def test_legacy_format_and_unsuffixed_safetensors(tmp_path: Path) -> None:
    torch.manual_seed(1)
    conv = {"0.weight": torch.randn(64, 3, 3, 3), "0.bias": torch.randn(64)}
    legacy = tmp_path / "legacy.pth"
    torch.save(conv, legacy, _use_new_zipfile_serialization=False)
    unsuffixed = tmp_path / "weights.bin"
    save_file(conv, str(unsuffixed))
    for path in (legacy, unsuffixed):
        feats = load_vgg19_features(path, max_layer=VGG19_LAYERS["relu1_1"])
        assert torch.equal(feats[0].weight, conv["0.weight"])


def test_from_file_truncates_at_deepest_layer(vgg_files: dict[str, Path]) -> None:
    sr = VGGPerceptualLoss.from_file(
        vgg_files["features"], layers=("conv2_1",), weights=(1.0,), input_range=(0, 1)
    )
    assert len(sr.features) == VGG19_LAYERS["conv2_1"] + 1
    assert isinstance(sr.features[-1], nn.Conv2d)  # before the activation
    x = torch.rand(1, 3, 32, 32)
    assert sr(x, x).item() == 0.0


def test_default_recipe(loss: VGGPerceptualLoss) -> None:
    assert loss.layers == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    assert loss.weights == pytest.approx((1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0))
    assert len(loss.features) == VGG19_LAYERS["relu5_1"] + 1


def test_zero_for_identical_positive_otherwise(loss: VGGPerceptualLoss) -> None:
    x, y = _images(1), _images(2)
    same = loss(x, x.clone())
    assert same.dtype == torch.float32 and same.ndim == 0
    assert same.item() == 0.0
    assert loss(x, y).item() > 0


def test_gradient_reaches_input_not_vgg(loss: VGGPerceptualLoss) -> None:
    x = _images(3).requires_grad_(True)
    target = _images(4).requires_grad_(True)
    loss(x, target).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert target.grad is None  # target features are detached
    assert all(p.grad is None for p in loss.features.parameters())


def test_vgg_not_in_state_dict_but_follows_dtype_changes(loss: VGGPerceptualLoss) -> None:
    holder = nn.Module()
    holder.vgg = loss
    assert list(holder.state_dict()) == []
    assert list(holder.parameters()) == []
    holder.load_state_dict({}, strict=True)
    holder.to(torch.float64)
    try:
        assert next(loss.features.parameters()).dtype == torch.float32
        x, y = _images(5), _images(6)
        assert loss(x, y).dtype == torch.float32
    finally:
        holder.to(torch.float32)


def test_grayscale_equals_repeated_rgb(loss: VGGPerceptualLoss) -> None:
    x, y = _images(7, channels=1), _images(8, channels=1)
    gray = loss(x, y)
    rgb = loss(x.repeat(1, 3, 1, 1), y.repeat(1, 3, 1, 1))
    assert gray.item() > 0
    torch.testing.assert_close(gray, rgb)


def test_autocast_bfloat16_returns_float32(loss: VGGPerceptualLoss) -> None:
    x, y = _images(9), _images(10)
    expected = loss(x, y)
    xb = x.to(torch.bfloat16).requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = loss(xb, y.to(torch.bfloat16))
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected, rtol=0.05, atol=1e-4)
    out.backward()
    assert xb.grad is not None and xb.grad.dtype == torch.bfloat16


def test_input_checks(loss: VGGPerceptualLoss) -> None:
    with pytest.raises(InputError, match="same"):
        loss(_images(1), _images(2, size=16))
    with pytest.raises(InputError, match="at least 16x16"):
        loss(_images(1, size=8), _images(2, size=8))


def test_config_errors(vgg_files: dict[str, Path], loss: VGGPerceptualLoss) -> None:
    with pytest.raises(ConfigError, match="unknown VGG19 layer 'relu6_1'"):
        VGGPerceptualLoss.from_file(vgg_files["features"], layers=("relu6_1",), weights=(1.0,))
    with pytest.raises(ConfigError, match="one weight per layer"):
        VGGPerceptualLoss(loss.features, layers=("relu1_1",), weights=(1.0, 2.0))
    with pytest.raises(ConfigError, match="l1, mse"):
        VGGPerceptualLoss(loss.features, criterion="l3")
    with pytest.raises(ConfigError, match="low < high"):
        VGGPerceptualLoss(loss.features, input_range=(1, -1))
    with pytest.raises(ConfigError, match="max_layer >= 34"):
        VGGPerceptualLoss(loss.features, layers=("conv5_4",), weights=(1.0,))


def test_missing_file_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"does not exist.*vgg19\(weights='IMAGENET1K_V1'\)"):
        load_vgg19_features(tmp_path / "nope.pth")


def test_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.pth"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="cannot read VGG19 weights"):
        load_vgg19_features(bad)
    bad_st = tmp_path / "garbage.safetensors"
    bad_st.write_bytes(b"xx")
    with pytest.raises(CheckpointError, match="cannot read VGG19 weights"):
        load_vgg19_features(bad_st)
    whole_model = tmp_path / "model.pth"
    torch.save(torch.nn.Linear(2, 2), whole_model)  # pickled objects: never unpickled
    with pytest.raises(CheckpointError) as err:
        load_vgg19_features(whole_model)
    msg = str(err.value)
    assert "holds pickled Python objects (torch.nn.modules.linear.Linear)" in msg
    assert "weights_only" not in msg and "\n" not in msg
    not_dict = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], not_dict)
    with pytest.raises(CheckpointError, match="not a state dict"):
        load_vgg19_features(not_dict)


def test_wrong_keys_and_shapes_name_the_key(tmp_path: Path) -> None:
    other = tmp_path / "other.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, other)
    with pytest.raises(CheckpointError, match="lack key '0.weight'.*'conv1.weight'"):
        load_vgg19_features(other, max_layer=1)

    wrong = tmp_path / "wrong.pth"
    torch.save(
        {"features.0.weight": torch.zeros(64, 1, 3, 3), "features.0.bias": torch.zeros(64)}, wrong
    )
    with pytest.raises(
        CheckpointError, match=r"'features.0.weight' has shape \(64, 1, 3, 3\), expected "
    ):
        load_vgg19_features(wrong, max_layer=1)

    extra = tmp_path / "extra.pth"
    torch.save(
        {
            "0.weight": torch.zeros(64, 3, 3, 3),
            "0.bias": torch.zeros(64),
            "1.weight": torch.ones(64),
        },
        extra,
    )
    with pytest.raises(CheckpointError, match="unexpected key '1.weight'"):
        load_vgg19_features(extra, max_layer=1)


def test_vgg_loss_or_none(vgg_files: dict[str, Path], caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("i2i.test.vgg")
    with caplog.at_level(logging.INFO, logger="i2i.test.vgg"):
        assert vgg_loss_or_none(None, log) is None
        assert vgg_loss_or_none("", log) is None
    off = [r.getMessage() for r in caplog.records]
    assert (
        off
        == [
            "VGG perceptual loss is off: no vgg_weights given "
            "(set vgg_weights=PATH to a local torchvision VGG19 state dict)"
        ]
        * 2
    )
    on = vgg_loss_or_none(str(vgg_files["safetensors"]), log, layers=("relu1_1",), weights=(1,))
    assert isinstance(on, VGGPerceptualLoss) and len(on.features) == 2


@pytest.mark.gpu
def test_follows_device_stays_float32(loss: VGGPerceptualLoss) -> None:
    holder = nn.Module()
    holder.vgg = loss
    try:
        holder.cuda().half()
        assert next(loss.features.parameters()).device.type == "cuda"
        assert next(loss.features.parameters()).dtype == torch.float32
        x = _images(11).cuda().half().requires_grad_(True)
        with torch.autocast("cuda", dtype=torch.float16):
            out = loss(x, _images(12).cuda().half())
        assert out.dtype == torch.float32 and out.item() > 0
        out.backward()
        assert x.grad is not None and torch.isfinite(x.grad).all()
    finally:
        holder.cpu().float()
