from __future__ import annotations

import pytest
import torch
from torch import nn

from i2i.errors import ConfigError, InputError
from i2i.nn import ResnetBlock, ResnetGenerator, init_weights


def _tiny(**kw: object) -> ResnetGenerator:
    args = {"ngf": 4, "n_blocks": 1}
    args.update(kw)
    return ResnetGenerator(kw.pop("in_channels", 3), kw.pop("out_channels", 3), **args)  # type: ignore[arg-type]


@pytest.mark.parametrize("upsample", ["transpose", "resize"])
@pytest.mark.parametrize(("h", "w"), [(64, 64), (36, 52)])
def test_shapes_and_range(upsample: str, h: int, w: int) -> None:
    g = ResnetGenerator(3, 3, ngf=4, n_blocks=1, upsample=upsample)
    assert g.stride == 4 and isinstance(g.stride, int)
    y = g(torch.randn(2, 3, h, w))
    assert y.shape == (2, 3, h, w)
    assert y.abs().max() <= 1.0


@pytest.mark.parametrize("upsample", ["transpose", "resize"])
def test_channel_change_and_deeper_stride(upsample: str) -> None:
    g = ResnetGenerator(1, 3, ngf=4, n_blocks=1, n_downsampling=3, upsample=upsample)
    assert g.stride == 8
    assert g(torch.randn(1, 1, 40, 56)).shape == (1, 3, 40, 56)


def test_no_downsampling_has_stride_one() -> None:
    g = ResnetGenerator(3, 2, ngf=4, n_blocks=1, n_downsampling=0)
    assert g.stride == 1
    assert g(torch.randn(1, 3, 13, 17)).shape == (1, 2, 13, 17)


@pytest.mark.parametrize("padding", ["reflect", "replicate", "zeros"])
def test_padding_modes(padding: str) -> None:
    g = ResnetGenerator(3, 3, ngf=4, n_blocks=1, padding=padding, upsample="resize")
    assert g(torch.randn(1, 3, 32, 32)).shape == (1, 3, 32, 32)
    pads = {
        type(m) for m in g.modules() if isinstance(m, (nn.ReflectionPad2d, nn.ReplicationPad2d))
    }
    if padding == "replicate":
        assert nn.ReplicationPad2d in pads
    else:
        assert nn.ReplicationPad2d not in pads


def test_reference_layout_and_param_count() -> None:
    # resnet_9blocks of the reference implementation has 11,378,179 parameters.
    g = ResnetGenerator(3, 3)
    assert sum(p.numel() for p in g.parameters()) == 11_378_179
    assert "model.10.conv_block.1.weight" in g.state_dict()


def test_gradients_reach_every_parameter() -> None:
    g = init_weights(ResnetGenerator(3, 3, ngf=4, n_blocks=2, norm="batch"))
    g(torch.randn(2, 3, 32, 32)).square().mean().backward()
    for name, p in g.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        if name.endswith("weight"):
            assert p.grad.abs().sum() > 0, name


def test_dropout_layer_only_when_requested() -> None:
    assert not any(isinstance(m, nn.Dropout) for m in ResnetBlock(4).modules())
    block = ResnetBlock(4, dropout=0.5)
    assert any(isinstance(m, nn.Dropout) and m.p == 0.5 for m in block.modules())


def test_bias_follows_norm() -> None:
    g = ResnetGenerator(3, 3, ngf=4, n_blocks=1, norm="batch")
    convs = [m for m in g.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert all(c.bias is None for c in convs[:-1]) and convs[-1].bias is not None
    g = ResnetGenerator(3, 3, ngf=4, n_blocks=1, norm="instance")
    assert all(m.bias is not None for m in g.modules() if isinstance(m, nn.Conv2d))


def test_input_errors() -> None:
    g = ResnetGenerator(3, 3, ngf=4, n_blocks=1)
    with pytest.raises(InputError, match="multiples of 4"):
        g(torch.randn(1, 3, 30, 32))
    with pytest.raises(InputError, match="3 channels"):
        g(torch.randn(1, 1, 32, 32))


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"padding": "circular"}, "reflect, replicate, zeros"),
        ({"upsample": "pixelshuffle"}, "transpose, resize"),
        ({"norm": "group"}, "batch, instance, none"),
        ({"dropout": 1.0}, "dropout"),
        ({"ngf": 0}, "ngf"),
        ({"n_blocks": -1}, "n_blocks"),
    ],
)
def test_config_errors(kw: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ResnetGenerator(3, 3, **kw)  # type: ignore[arg-type]
