from __future__ import annotations

import pytest
import torch
from torch.nn.utils import parametrize

from i2i.errors import ConfigError, InputError
from i2i.nn import (
    ConditionalBatchNorm2d,
    ConditionalGenerator,
    MinibatchStdDev,
    ProjectionDiscriminator,
    SelfAttention2d,
)

K = 3  # classes


def _g(**kw: object) -> ConditionalGenerator:
    args: dict[str, object] = {"z_dim": 8, "num_classes": K, "ngf": 8, "image_size": 32}
    args.update(kw)
    return ConditionalGenerator(**args)  # type: ignore[arg-type]


def _d(**kw: object) -> ProjectionDiscriminator:
    args: dict[str, object] = {"num_classes": K, "ndf": 8, "image_size": 32}
    args.update(kw)
    return ProjectionDiscriminator(**args)  # type: ignore[arg-type]


def test_cbn_uses_the_class_parameters() -> None:
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(4, K)
    with torch.no_grad():
        cbn.gamma.weight[2] = 3.0
        cbn.beta.weight[2] = -5.0
    x = torch.randn(4, 4, 5, 5)
    y = torch.tensor([0, 2, 1, 2])
    out = cbn(x, y)
    normed = torch.nn.functional.batch_norm(x, None, None, training=True, eps=1e-5)
    torch.testing.assert_close(out[[0, 2]], normed[[0, 2]])
    torch.testing.assert_close(out[[1, 3]], 3.0 * normed[[1, 3]] - 5.0)
    with pytest.raises(InputError):
        cbn(x, torch.tensor([0, 1, 2, 3]))


def test_self_attention_starts_as_identity_and_keeps_shape() -> None:
    att = SelfAttention2d(16)
    x = torch.randn(2, 16, 8, 6)
    torch.testing.assert_close(att(x), x)
    with torch.no_grad():
        att.gamma.fill_(1.0)
    out = att(x)
    assert out.shape == x.shape and not torch.allclose(out, x)
    assert SelfAttention2d(4, spectral_norm=False, pool=False)(torch.randn(1, 4, 3, 3)).shape == (
        1, 4, 3, 3,
    )  # fmt: skip


@pytest.mark.parametrize("n", [1, 3, 4, 8])
def test_minibatch_std_adds_a_channel(n: int) -> None:
    x = torch.randn(n, 5, 4, 4)
    out = MinibatchStdDev(group_size=4)(x)
    assert out.shape == (n, 6, 4, 4)
    torch.testing.assert_close(out[:, :5], x)
    if n == 1:
        torch.testing.assert_close(out[:, 5], torch.full((1, 4, 4), 1e-4))
    if n == 3:  # one group of 3: everyone gets the same value
        expected = torch.sqrt(x.var(0, unbiased=False) + 1e-8).mean()
        torch.testing.assert_close(out[:, 5], expected.expand(3, 4, 4))
    if n == 8:  # groups {0, 2, 4, 6} and {1, 3, 5, 7}
        expected = torch.sqrt(x[0::2].var(0, unbiased=False) + 1e-8).mean()
        torch.testing.assert_close(out[0::2, 5], expected.expand(4, 4, 4))


@pytest.mark.parametrize(("size", "att"), [(32, 0), (32, 16), (64, 0), (64, 32)])
def test_generator_shapes(size: int, att: int) -> None:
    g = _g(image_size=size, attention_resolution=att)
    assert (g.z_dim, g.num_classes, g.image_size, g.out_channels) == (8, K, size, 3)
    assert (g.attention is not None) == bool(att)
    out = g(torch.randn(3, 8), torch.tensor([0, 1, 2]))
    assert out.shape == (3, 3, size, size) and out.abs().max() <= 1.0


def test_generator_conditions_on_y() -> None:
    torch.manual_seed(0)
    g = _g(ngf=4)
    with torch.no_grad():
        for m in g.modules():
            if isinstance(m, ConditionalBatchNorm2d):
                m.beta.weight.normal_()
    g.eval()
    z = torch.randn(1, 8).repeat(2, 1)
    out = g(z, torch.tensor([0, 1]))
    assert not torch.allclose(out[0], out[1])


@pytest.mark.parametrize("att", [0, 8])
def test_discriminator_projection_and_aux(att: int) -> None:
    torch.manual_seed(0)
    x = torch.randn(3, 3, 32, 32)
    d = _d(attention_resolution=att).eval()
    out = d(x, torch.tensor([0, 1, 2]))
    assert isinstance(out, torch.Tensor) and out.shape == (3, 1)
    other = d(x, torch.tensor([1, 2, 0]))
    assert not torch.allclose(out, other)  # the projection term depends on y
    logits, cls = _d(aux_classifier=True, minibatch_std=True)(x, torch.tensor([0, 1, 2]))
    assert logits.shape == (3, 1) and cls.shape == (3, K)
    plain = _d(aux_classifier=True, projection=False).eval()
    assert plain.embed is None
    a, _ = plain(x, torch.tensor([0, 0, 0]))
    b, _ = plain(x, torch.tensor([2, 2, 2]))
    torch.testing.assert_close(a, b)


def test_discriminator_64px_and_channels() -> None:
    d = _d(image_size=64, in_channels=1, attention_resolution=16)
    assert d(torch.randn(2, 1, 64, 64), torch.tensor([0, 2])).shape == (2, 1)


def test_spectral_norm_toggle() -> None:
    def parametrized(m: torch.nn.Module) -> list[bool]:
        layers = (torch.nn.Conv2d, torch.nn.Linear)
        return [parametrize.is_parametrized(x) for x in m.modules() if isinstance(x, layers)]

    g, d = _g(attention_resolution=16), _d(attention_resolution=8)
    assert all(parametrized(g)) and all(parametrized(d))
    assert parametrize.is_parametrized(d.embed)
    g, d = _g(spectral_norm=False, attention_resolution=16), _d(spectral_norm=False)
    assert not any(parametrized(g)) and not any(parametrized(d))
    assert not parametrize.is_parametrized(d.embed)


def test_gradients_reach_every_parameter() -> None:
    torch.manual_seed(0)
    g = _g(attention_resolution=16)
    d = _d(attention_resolution=8, minibatch_std=True, aux_classifier=True)
    for m in (g, d):
        for sa in m.modules():
            if isinstance(sa, SelfAttention2d):
                sa.gamma.data.fill_(0.5)  # at 0 the attention convs get zero gradient
    y = torch.tensor([0, 1, 2, 1])
    logits, cls = d(g(torch.randn(4, 8), y), y)
    (logits.mean() + cls.mean()).backward()
    for name, p in [*g.named_parameters(), *d.named_parameters()]:
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_bad_inputs_raise_input_error() -> None:
    g, d = _g(), _d()
    z, x = torch.randn(2, 8), torch.randn(2, 3, 32, 32)
    for y in (
        torch.tensor([0, K]),
        torch.tensor([-1, 0]),
        torch.tensor([0.0, 1.0]),
        torch.tensor([0]),
    ):
        with pytest.raises(InputError):
            g(z, y)
        with pytest.raises(InputError):
            d(x, y)
    with pytest.raises(InputError):
        g(torch.randn(2, 7), torch.tensor([0, 1]))
    with pytest.raises(InputError):
        d(torch.randn(2, 3, 16, 16), torch.tensor([0, 1]))


@pytest.mark.parametrize(
    "kw",
    [
        {"image_size": 48},
        {"image_size": 4},
        {"image_size": 0},
        {"attention_resolution": 4},
        {"attention_resolution": 12},
        {"ngf": 0},
        {"num_classes": 0},
    ],
)
def test_bad_generator_config(kw: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        _g(**kw)


@pytest.mark.parametrize("kw", [{"image_size": 100}, {"attention_resolution": 32}, {"ndf": 0}])
def test_bad_discriminator_config(kw: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        _d(**kw)


@pytest.mark.filterwarnings("ignore")
def test_export_to_onnx_matches_pytorch(tmp_path) -> None:
    np = pytest.importorskip("numpy")
    ort = pytest.importorskip("onnxruntime")
    from i2i.export.onnx import prepare_for_export

    torch.manual_seed(0)
    g, d = _g(attention_resolution=16), _d(attention_resolution=8, minibatch_std=True)
    y3 = torch.tensor([0, 1, 2])
    d(g(torch.randn(3, 8), y3), y3)  # one train step of power iteration / BN stats
    g, d = prepare_for_export(g), prepare_for_export(d)

    gp = tmp_path / "g.onnx"
    torch.onnx.export(
        g, (torch.zeros(2, 8), torch.zeros(2, dtype=torch.long)), str(gp), dynamo=False,
        opset_version=17, input_names=["z", "y"], output_names=["image"],
        dynamic_axes={"z": {0: "n"}, "y": {0: "n"}, "image": {0: "n"}},
    )  # fmt: skip
    sess = ort.InferenceSession(str(gp), providers=["CPUExecutionProvider"])
    for n in (1, 3):
        z, y = torch.randn(n, 8), torch.randint(0, K, (n,))
        with torch.no_grad():
            ref = g(z, y).numpy()
        out = sess.run(None, {"z": z.numpy(), "y": y.numpy()})[0]
        assert out.shape == ref.shape and np.abs(out - ref).max() < 1e-4

    dp = tmp_path / "d.onnx"  # minibatch std: fixed batch
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    torch.onnx.export(
        d, (x, y3), str(dp), dynamo=False, opset_version=17,
        input_names=["x", "y"], output_names=["logits"],
    )  # fmt: skip
    sess = ort.InferenceSession(str(dp), providers=["CPUExecutionProvider"])
    for y in (y3, torch.tensor([2, 2, 0])):
        with torch.no_grad():
            ref = d(x, y).numpy()
        out = sess.run(None, {"x": x.numpy(), "y": y.numpy()})[0]
        assert out.shape == (3, 1) and np.abs(out - ref).max() < 1e-4
