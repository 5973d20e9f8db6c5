"""SPADE primitives: normalization, residual blocks, generator, encoder, multi-scale D, losses."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from i2i.errors import ConfigError, InputError
from i2i.nn import (
    SPADE,
    HingeGANLoss,
    MultiscaleDiscriminator,
    SPADEDiscriminator,
    SPADEGenerator,
    SPADEResBlock,
    StyleEncoder,
    feature_matching_loss,
    instance_edges,
    kl_divergence,
    one_hot_labels,
)


def _ids(n: int, h: int, w: int, classes: int, seed: int = 0, cell: int = 4) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randint(0, classes, (n, 1, h // cell, w // cell), generator=g)
    return coarse.repeat_interleave(cell, 2).repeat_interleave(cell, 3)


@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_spade_shapes_and_label_dependence(norm: str) -> None:
    torch.manual_seed(0)
    layer = SPADE(6, label_nc=4, hidden=8, norm=norm).train()
    x = torch.randn(2, 6, 8, 12)
    seg_a = one_hot_labels(_ids(2, 32, 48, 4, seed=1), 4)  # 4x larger: resized with nearest
    seg_b = one_hot_labels(_ids(2, 32, 48, 4, seed=2), 4)
    ya, yb = layer(x, seg_a), layer(x, seg_b)
    assert ya.shape == x.shape
    # the same features, another label map: another modulation
    assert (ya - yb).abs().max() > 1e-3
    # gamma and beta get gradients through the label map
    ya.square().mean().backward()
    for conv in (layer.gamma, layer.beta, layer.shared[0]):
        assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0
    # and a soft (differentiable) label map gets a gradient too
    soft = seg_a.clone().requires_grad_(True)
    layer(x, soft).sum().backward()
    assert soft.grad is not None and soft.grad.abs().sum() > 0


def test_spade_norm_is_parameter_free_and_exact_in_eval() -> None:
    torch.manual_seed(0)
    layer = SPADE(5, label_nc=3, hidden=4, norm="batch")
    assert not list(layer.param_free_norm.parameters())
    x = torch.randn(3, 5, 6, 6) * 3 + 1
    for _ in range(3):
        layer.param_free_norm(x)  # running statistics move
    ref = nn.BatchNorm2d(5, affine=False)
    ref.load_state_dict(layer.param_free_norm.state_dict())
    layer.eval(), ref.eval()
    assert torch.allclose(layer.param_free_norm(x), ref(x), atol=1e-5)


def test_spade_uses_nearest_resize_of_ids() -> None:
    """A label map resized with nearest keeps one-hot vectors: the modulation at each feature
    pixel equals the modulation computed from that pixel's class alone."""
    torch.manual_seed(0)
    layer = SPADE(2, label_nc=3, hidden=4, kernel=1, norm="instance")
    ids = _ids(1, 16, 16, 3, seed=4, cell=8)
    x = torch.randn(1, 2, 4, 4)
    small = F.interpolate(one_hot_labels(ids, 3), size=(4, 4), mode="nearest")
    assert set(small.unique().tolist()) <= {0.0, 1.0} and torch.all(small.sum(1) == 1)
    assert torch.allclose(layer(x, one_hot_labels(ids, 3)), layer(x, small))


def test_spade_rejects_even_kernels_and_unknown_norms() -> None:
    with pytest.raises(ConfigError, match="odd"):
        SPADE(4, 3, kernel=4)
    with pytest.raises(ConfigError, match="batch, instance"):
        SPADE(4, 3, norm="group")


def test_resblock_learned_shortcut_and_spectral_norm() -> None:
    same = SPADEResBlock(8, 8, label_nc=3, hidden=4)
    change = SPADEResBlock(8, 4, label_nc=3, hidden=4)
    assert not same.learned_shortcut and not hasattr(same, "conv_s")
    assert change.learned_shortcut and change.conv_s.bias is None
    assert all(
        parametrize.is_parametrized(c) for c in (change.conv_0, change.conv_1, change.conv_s)
    )
    plain = SPADEResBlock(8, 4, label_nc=3, hidden=4, spectral=False)
    assert not parametrize.is_parametrized(plain.conv_0)
    seg = one_hot_labels(_ids(2, 16, 16, 3), 3)
    assert change(torch.randn(2, 8, 16, 16), seg).shape == (2, 4, 16, 16)


@pytest.mark.parametrize("ups", [3, 5, 6])
def test_generator_shapes_stride_and_channels(ups: int) -> None:
    torch.manual_seed(0)
    g = SPADEGenerator(label_nc=5, ngf=2, num_upsampling=ups, hidden=4)
    assert g.stride == 2**ups
    assert g.G_middle_0.conv_0.in_channels == 32 and g.up[-1].conv_1.out_channels >= 1
    size = 2**ups
    seg = one_hot_labels(_ids(2, size * 2, size * 3, 5, cell=size // 2), 5)
    y = g(seg)
    assert y.shape == (2, 3, size * 2, size * 3)
    assert y.abs().max() <= 1
    with pytest.raises(InputError, match=f"multiples of {size}"):
        g(seg[..., : size * 2 - 1, :])


def test_generator_from_style_code_any_size() -> None:
    torch.manual_seed(0)
    g = SPADEGenerator(label_nc=3, ngf=2, num_upsampling=3, hidden=4, z_dim=8, base_size=(4, 4))
    seg = one_hot_labels(_ids(2, 32, 48, 3), 3)
    z = torch.randn(2, 8)
    assert g(seg, z).shape == (2, 3, 32, 48)
    assert not torch.allclose(g(seg, z), g(seg, torch.randn(2, 8)))  # the code matters
    with pytest.raises(InputError, match="style code"):
        g(seg)


def test_style_encoder_and_kl() -> None:
    torch.manual_seed(0)
    e = StyleEncoder(3, z_dim=8, ndf=4, size=32)
    assert (
        len([m for m in e.body if isinstance(m, nn.Conv2d) or hasattr(m, "parametrizations")]) == 3
    )
    mu, logvar = e(torch.randn(2, 3, 50, 70))  # any input size: resized to 32x32
    assert mu.shape == logvar.shape == (2, 8)
    assert kl_divergence(torch.zeros(2, 8), torch.zeros(2, 8)).item() == 0.0
    # KL(N(1, e^0) || N(0, 1)) = 0.5 per dimension, summed
    assert kl_divergence(torch.ones(2, 8), torch.zeros(2, 8)).item() == pytest.approx(8.0)
    with pytest.raises(ConfigError, match="power of two"):
        StyleEncoder(size=48)


def test_multiscale_discriminator_feature_lists() -> None:
    torch.manual_seed(0)
    d = MultiscaleDiscriminator(7, ndf=4, n_layers=3, num_D=3)
    out = d(torch.randn(2, 7, 64, 64))
    assert len(out) == 3
    for scale in out:
        assert len(scale) == 4  # first conv, two middle blocks, prediction
        assert scale[-1].shape[:2] == (2, 1)
        assert [f.shape[1] for f in scale[:-1]] == [4, 8, 16]
    # each scale sees a 2x smaller input
    assert out[1][0].shape[-1] < out[0][0].shape[-1] and out[2][0].shape[-1] < out[1][0].shape[-1]
    middle = d.scales[0].blocks[1][0]
    assert parametrize.is_parametrized(middle)  # spectral norm on the middle blocks
    # hinge loss averages the scales' predictions (the last item of each list)
    loss = HingeGANLoss()(out, True, for_discriminator=True)
    manual = sum(F.relu(1 - s[-1]).mean() for s in out) / 3
    assert torch.allclose(loss, manual)


def test_single_scale_layout_matches_reference() -> None:
    d = SPADEDiscriminator(3, ndf=8, n_layers=4, norm="instance")
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1, 1]
    assert [c.out_channels for c in convs] == [8, 16, 32, 64, 1]
    assert all(c.kernel_size == (4, 4) and c.padding == (2, 2) for c in convs)


def test_feature_matching_loss() -> None:
    torch.manual_seed(0)
    real = [[torch.randn(1, 2, 4, 4), torch.randn(1, 1, 2, 2)] for _ in range(2)]
    assert feature_matching_loss(real, real).item() == 0.0
    fake = [[(f + 0.5).requires_grad_(True) for f in s] for s in real]
    real_req = [[f.clone().requires_grad_(True) for f in s] for s in real]
    loss = feature_matching_loss(fake, real_req, weight=10.0)
    # only intermediate features count (0.5 each), weighted 10 / num_D, summed over 2 scales
    assert loss.item() == pytest.approx(10.0 / 2 * (0.5 + 0.5))
    loss.backward()
    assert fake[0][0].grad is not None and fake[0][1].grad is None  # prediction left out
    assert real_req[0][0].grad is None  # reals are detached
    with pytest.raises(InputError, match="same scales"):
        feature_matching_loss(fake[:1], real)


def test_one_hot_and_instance_edges() -> None:
    ids = torch.tensor([[[[0, 1], [2, 7]]]])
    oh = one_hot_labels(ids, 3)
    assert oh.shape == (1, 3, 2, 2)
    assert oh[0, :, 1, 1].sum() == 0  # an id out of range is all zero, never an index
    assert oh[0, 2, 1, 0] == 1
    inst = torch.tensor([[[[5, 5, 5, 9], [5, 5, 5, 9], [5, 5, 5, 9]]]])
    edges = instance_edges(inst)
    assert edges.tolist() == [[[[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]]]]
