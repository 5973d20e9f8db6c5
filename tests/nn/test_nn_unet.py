from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from i2i.errors import ConfigError, InputError
from i2i.nn import (
    PerImageBatchNorm,
    UnetGenerator,
    UnetSkipConnectionBlock,
    disable_dropout,
    init_weights,
    per_image_batch_norm,
)


def _blocks(g: UnetGenerator) -> list[UnetSkipConnectionBlock]:
    """The skip blocks, outermost first."""
    return [m for m in g.modules() if isinstance(m, UnetSkipConnectionBlock)]


def _n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


# -- UnetGenerator --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("num_downs", "ngf", "h", "w"),
    [(5, 4, 32, 32), (6, 8, 64, 64), (7, 4, 128, 128), (6, 4, 64, 128)],
)
def test_shapes_and_range(num_downs: int, ngf: int, h: int, w: int) -> None:
    g = UnetGenerator(3, 3, num_downs=num_downs, ngf=ngf)
    assert g.stride == 2**num_downs and isinstance(g.stride, int)
    assert len(_blocks(g)) == num_downs
    y = g(torch.randn(2, 3, h, w))
    assert y.shape == (2, 3, h, w)
    assert y.abs().max() <= 1.0


@pytest.mark.parametrize("norm", ["instance", "none"])
def test_channel_change_and_other_norms(norm: str) -> None:
    g = UnetGenerator(1, 2, num_downs=5, ngf=4, norm=norm, dropout=0.0)
    assert g(torch.randn(1, 1, 32, 64)).shape == (1, 2, 32, 64)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in g.modules())


def test_reference_param_counts_and_layout() -> None:
    # unet_128 (num_downs 7, ngf 64, batch norm, 3 -> 3) as in the reference implementation;
    # unet_256 adds one 8ngf level: conv 512->512 (4,194,304) + BN (1,024) + convT 1024->512
    # (8,388,608) + BN (1,024) = 12,584,960 parameters.
    g128 = UnetGenerator(3, 3, num_downs=7)
    assert _n_params(g128) == 41_828_995
    del g128
    g256 = UnetGenerator(3, 3, num_downs=8)
    assert _n_params(g256) == 41_828_995 + 12_584_960 == 54_413_955
    keys = g256.state_dict().keys()
    # reference keys: outermost down conv, first level's BN, outermost up conv (with bias)
    assert "model.model.0.bias" not in keys
    assert {"model.model.0.weight", "model.model.1.model.2.running_mean"} <= keys
    assert "model.model.3.bias" in keys


@pytest.mark.parametrize("num_downs", [5, 6, 8])
def test_dropout_only_in_middle_levels(num_downs: int) -> None:
    g = UnetGenerator(3, 3, num_downs=num_downs, ngf=1, dropout=0.5)
    drops = [m for m in g.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == num_downs - 5
    assert all(d.p == 0.5 for d in drops)
    for i, block in enumerate(_blocks(g)):  # levels 4 .. num_downs-2 are the 8ngf middle ones
        has_dropout = isinstance(block.model[-1], nn.Dropout)
        assert has_dropout == (4 <= i < num_downs - 1)
    g0 = UnetGenerator(3, 3, num_downs=num_downs, ngf=1, dropout=0.0)
    assert not any(isinstance(m, nn.Dropout) for m in g0.modules())


def test_norm_placement_and_conv_bias() -> None:
    g = UnetGenerator(3, 3, num_downs=6, ngf=2)
    blocks = _blocks(g)
    for i, block in enumerate(blocks):
        layers = list(block.model)
        bns = [j for j, m in enumerate(layers) if isinstance(m, nn.BatchNorm2d)]
        # a norm after the down conv except outermost / innermost, after the up conv but outermost
        expected = 0 if i == 0 else (1 if i == len(blocks) - 1 else 2)
        assert len(bns) == expected
        for j in bns:  # no bias right before batch norm
            assert isinstance(layers[j - 1], (nn.Conv2d, nn.ConvTranspose2d))
            assert layers[j - 1].bias is None
    outer = blocks[0].model
    assert outer[0].bias is None and outer[3].bias is not None
    assert isinstance(outer[-1], nn.Tanh)
    gi = UnetGenerator(3, 3, num_downs=5, ngf=2, norm="instance")
    convs = [m for m in gi.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert all(c.bias is not None for c in convs)


def test_gradients_reach_every_parameter() -> None:
    g = init_weights(UnetGenerator(2, 3, num_downs=5, ngf=4))
    g(torch.randn(2, 2, 32, 32)).square().mean().backward()
    for name, p in g.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_in_place_leaky_relu_matches_out_of_place() -> None:
    # The skip carries LeakyReLU(x) (in place, as in the reference); the parent's ReLU makes that
    # equal to the plain skip of x.
    g = UnetGenerator(3, 3, num_downs=5, ngf=4).eval()
    ref = copy.deepcopy(g)
    for m in ref.modules():
        if isinstance(m, nn.LeakyReLU):
            m.inplace = False
    x = torch.randn(2, 3, 32, 64)
    with torch.no_grad():
        torch.testing.assert_close(g(x), ref(x))


def test_input_errors() -> None:
    g = UnetGenerator(3, 3, num_downs=5, ngf=2)
    with pytest.raises(InputError, match="multiples of 32"):
        g(torch.randn(1, 3, 48, 32))
    with pytest.raises(InputError, match="3 channels"):
        g(torch.randn(1, 1, 32, 32))
    with pytest.raises(InputError, match="3 channels"):
        g(torch.randn(3, 32, 32))


@pytest.mark.parametrize(
    "kwargs",
    [{"num_downs": 4}, {"ngf": 0}, {"dropout": 1.0}, {"dropout": -0.1}, {"norm": "layer"}],
)
def test_config_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        UnetGenerator(3, 3, **kwargs)  # type: ignore[arg-type]


def test_block_config_errors() -> None:
    inner = UnetSkipConnectionBlock(8, 8, innermost=True)
    with pytest.raises(ConfigError, match="needs a submodule"):
        UnetSkipConnectionBlock(4, 8)
    with pytest.raises(ConfigError, match="no submodule"):
        UnetSkipConnectionBlock(8, 8, submodule=inner, innermost=True)
    with pytest.raises(ConfigError, match="both"):
        UnetSkipConnectionBlock(8, 8, submodule=inner, outermost=True, innermost=True)


# -- inference conversions ------------------------------------------------------------------------


def test_per_image_batch_norm_matches_train_mode_bn_per_image() -> None:
    bn = nn.BatchNorm2d(5, eps=1e-3)
    with torch.no_grad():
        bn.weight.normal_()
        bn.bias.normal_()
        bn.running_mean.fill_(7.0)
    x = torch.randn(3, 5, 6, 7) * torch.tensor([1.0, 3.0, 0.5]).view(3, 1, 1, 1) + 2.0
    layer = PerImageBatchNorm.from_batch_norm(bn)
    assert layer.eps == 1e-3 and layer.weight is bn.weight
    out = layer(x)
    for i in range(3):
        ref = copy.deepcopy(bn).train()(x[i : i + 1])
        torch.testing.assert_close(out[i : i + 1], ref, atol=1e-5, rtol=1e-5)
    plain = PerImageBatchNorm(5, affine=False)
    assert plain.weight is None and len(list(plain.parameters())) == 0
    torch.testing.assert_close(plain(x), nn.functional.instance_norm(x))


def test_per_image_conversion_ignores_running_stats_and_batching() -> None:
    g = init_weights(UnetGenerator(3, 3, num_downs=6, ngf=4)).eval()
    x = torch.randn(3, 3, 64, 64)
    conv = disable_dropout(per_image_batch_norm(g))
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.Dropout)) for m in conv.modules())
    assert sum(isinstance(m, PerImageBatchNorm) for m in conv.modules()) == 9
    assert sum(isinstance(m, nn.BatchNorm2d) for m in g.modules()) == 9  # source untouched
    assert sum(isinstance(m, nn.Dropout) for m in g.modules()) == 1
    assert conv.stride == 64
    with torch.no_grad():
        y = conv(x)
        for m in g.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.fill_(3.0)
                m.running_var.fill_(9.0)
        torch.testing.assert_close(per_image_batch_norm(g)(x), y)
        torch.testing.assert_close(conv.train()(x), y)  # no mode dependence
        torch.testing.assert_close(conv(x[1:2]), y[1:2], atol=1e-5, rtol=1e-5)
    assert _n_params(conv) == _n_params(g)


def test_conversions_of_single_layers() -> None:
    assert isinstance(per_image_batch_norm(nn.BatchNorm2d(3)), PerImageBatchNorm)
    assert isinstance(per_image_batch_norm(nn.SyncBatchNorm(3)), PerImageBatchNorm)
    assert isinstance(disable_dropout(nn.Dropout2d()), nn.Identity)
    net = nn.Sequential(nn.Conv2d(1, 2, 1), nn.Dropout(0.9), nn.Sequential(nn.AlphaDropout()))
    out = disable_dropout(net).train()
    assert [type(m) for m in out.modules()].count(nn.Identity) == 2
    x = torch.randn(1, 1, 4, 4)
    torch.testing.assert_close(out(x), out(x))


@pytest.mark.filterwarnings("ignore")
def test_converted_unet_exports_to_onnx(tmp_path) -> None:
    np = pytest.importorskip("numpy")
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    g = init_weights(UnetGenerator(3, 3, num_downs=5, ngf=4))
    g = disable_dropout(per_image_batch_norm(g)).eval()
    path = tmp_path / "unet.onnx"
    axes = {0: "n", 2: "h", 3: "w"}
    torch.onnx.export(
        g, (torch.zeros(1, 3, 32, 32),), str(path), dynamo=False, opset_version=17,
        input_names=["image"], output_names=["out"], dynamic_axes={"image": axes, "out": axes},
    )  # fmt: skip
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert "BatchNormalization" not in ops and "Dropout" not in ops
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for shape in ((1, 3, 32, 32), (2, 3, 64, 96)):
        x = torch.rand(*shape) * 2 - 1
        with torch.no_grad():
            ref = g(x).numpy()
        out = sess.run(None, {"image": x.numpy()})[0]
        assert out.shape == ref.shape
        assert np.abs(out - ref).max() < 1e-4
