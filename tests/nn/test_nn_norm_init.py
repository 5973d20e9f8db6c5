from __future__ import annotations

import ast
import copy
import math
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm as torch_spectral_norm

from i2i.errors import ConfigError
from i2i.nn import (
    INIT_KINDS,
    NORM_LAYERS,
    SpectralNorm,
    add_spectral_norm,
    init_weights,
    norm_layer,
    spectral_norm,
    uses_bias,
)


def test_norm_layers() -> None:
    bn = norm_layer("batch", 8)
    assert isinstance(bn, nn.BatchNorm2d) and bn.affine
    inn = norm_layer("instance", 8)
    assert not inn.affine and list(inn.state_dict()) == []
    # exactly the paper code's InstanceNorm2d(affine=False), forward and backward, any mode
    ref = nn.InstanceNorm2d(8, affine=False, track_running_stats=False)
    x = torch.randn(3, 8, 11, 7, requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    for mode in (True, False):
        inn.train(mode)
        ref.train(mode)
        torch.testing.assert_close(inn(x), ref(x2))
    g = torch.randn(3, 8, 11, 7)
    inn(x).backward(g)
    ref(x2).backward(g)
    torch.testing.assert_close(x.grad, x2.grad)
    assert isinstance(norm_layer("none", 8), nn.Identity)
    assert (uses_bias("batch"), uses_bias("instance"), uses_bias("none")) == (False, True, True)


def test_norm_mapping_is_read_only() -> None:
    with pytest.raises(TypeError):
        NORM_LAYERS["group"] = nn.GroupNorm  # type: ignore[index]
    with pytest.raises(TypeError):
        INIT_KINDS["zeros"] = nn.init.zeros_  # type: ignore[index]


def test_unknown_names_list_known_ones() -> None:
    with pytest.raises(ConfigError, match="batch, instance, none"):
        norm_layer("group", 8)
    with pytest.raises(ConfigError, match="batch, instance, none"):
        uses_bias("layer")
    with pytest.raises(ConfigError, match="normal, xavier, kaiming, orthogonal"):
        init_weights(nn.Conv2d(1, 1, 1), kind="uniform")
    with pytest.raises(ConfigError, match="gain"):
        init_weights(nn.Conv2d(1, 1, 1), gain=0.0)


def _conv() -> nn.Conv2d:
    torch.manual_seed(0)
    return nn.Conv2d(64, 64, 3)  # fan_in = fan_out = 576


def test_init_normal_and_bias() -> None:
    c = init_weights(_conv(), "normal", 0.02)
    assert c.weight.mean().abs() < 2e-3
    assert c.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert torch.count_nonzero(c.bias) == 0


def test_init_xavier_kaiming_orthogonal() -> None:
    c = init_weights(_conv(), "xavier", 0.5)
    assert c.weight.std().item() == pytest.approx(0.5 * math.sqrt(2 / (576 + 576)), rel=0.05)
    c = init_weights(_conv(), "kaiming")
    assert c.weight.std().item() == pytest.approx(math.sqrt(2 / 576), rel=0.05)
    c = init_weights(_conv(), "orthogonal", 2.0)
    w = c.weight.detach().flatten(1)
    assert torch.allclose(w @ w.T, 4.0 * torch.eye(64), atol=1e-4)


def test_init_batch_norm_and_linear() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(16, 32), nn.BatchNorm2d(512))
    init_weights(net, "normal", 0.02)
    bn = net[1]
    assert bn.weight.mean().item() == pytest.approx(1.0, abs=5e-3)
    assert bn.weight.std().item() == pytest.approx(0.02, rel=0.15)
    assert torch.count_nonzero(bn.bias) == 0
    assert torch.count_nonzero(net[0].bias) == 0


def test_init_spectral_normed_module() -> None:
    c = spectral_norm(_conv())
    init_weights(c, "normal", 0.02)
    original = c.parametrizations.weight.original
    assert original.std().item() == pytest.approx(0.02, rel=0.05)
    c.eval()
    sigma = torch.linalg.matrix_norm(c.weight.detach().flatten(1), ord=2)
    assert sigma.item() == pytest.approx(1.0, rel=0.1)  # power-iteration estimate, not exact


def test_spectral_norm_wrapper() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.ConvTranspose2d(4, 4, 3), nn.Linear(4, 2))
    assert spectral_norm(net, enabled=False) is net
    assert not any(parametrize.is_parametrized(m) for m in net.modules())
    assert spectral_norm(net) is net
    layers = [net[0], net[2], net[3]]
    assert all(parametrize.is_parametrized(m, "weight") for m in layers)
    spectral_norm(net)  # idempotent: no second parametrization
    assert all(len(m.parametrizations.weight) == 1 for m in layers)
    single = spectral_norm(nn.Linear(3, 3))
    assert parametrize.is_parametrized(single, "weight")


def test_nn_imports_only_torch_and_core() -> None:
    allowed_i2i = {"i2i.errors", "i2i.registry"}
    nn_dir = Path(__file__).resolve().parents[2] / "i2i" / "nn"
    for path in nn_dir.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == "i2i":
                    assert name in allowed_i2i or name.startswith("i2i.nn"), (path.name, name)
                else:
                    assert top in {
                        "torch",
                        "__future__",
                        "collections",
                        "copy",
                        "types",
                        "typing",
                        "math",
                        "logging",
                        "pathlib",
                        # the VGG perceptual loss builds torchvision's VGG19 and reads local
                        # weights (torch or safetensors files); both imported lazily
                        "torchvision",
                        "safetensors",
                    }, (
                        path.name,
                        name,
                    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: nn.Conv2d(6, 10, 3),
        lambda: nn.ConvTranspose2d(6, 10, 4),  # output dimension 1
        lambda: nn.Linear(5, 7),
        lambda: nn.Embedding(4, 6),
    ],
)
def test_spectral_norm_matches_torch_parametrization(make) -> None:
    """Same weights, gradients, power-iteration vectors and state-dict keys as torch's."""
    torch.manual_seed(0)
    ours = make()
    ref = copy.deepcopy(ours)
    torch.manual_seed(1)
    add_spectral_norm(ours)
    torch.manual_seed(1)
    torch_spectral_norm(ref)
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert isinstance(ours.parametrizations.weight[0], SpectralNorm)
    for train in (True, True, False, True):
        ours.train(train)
        ref.train(train)
        w, w_ref = ours.weight, ref.weight
        torch.testing.assert_close(w, w_ref, rtol=1e-5, atol=1e-6)
        g = torch.randn_like(w)
        (w * g).sum().backward()
        (w_ref * g).sum().backward()
        grad = ours.parametrizations.weight.original.grad
        grad_ref = ref.parametrizations.weight.original.grad
        torch.testing.assert_close(grad, grad_ref, rtol=1e-4, atol=1e-6)
        for key in ("_u", "_v"):
            torch.testing.assert_close(
                getattr(ours.parametrizations.weight[0], key),
                getattr(ref.parametrizations.weight[0], key),
            )
        ours.zero_grad()
        ref.zero_grad()
    # checkpoints of either load into the other
    ref.load_state_dict(ours.state_dict())
    ours.load_state_dict(ref.state_dict())


def test_spectral_norm_weight_has_unit_norm_and_gradients_check() -> None:
    torch.manual_seed(0)
    conv = add_spectral_norm(nn.Conv2d(4, 8, 3).double())
    for _ in range(30):  # power iteration converges over training forwards
        _ = conv.weight
    sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
    assert sigma.item() == pytest.approx(1.0, abs=1e-3)
    conv.eval()  # frozen u, v: a deterministic function of the weight
    sn = conv.parametrizations.weight[0]
    w = conv.parametrizations.weight.original.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(sn, (w,))  # the fused backward
    assert torch.autograd.gradgradcheck(sn, (w,))  # the differentiable path (create_graph)
    deconv = add_spectral_norm(nn.ConvTranspose2d(3, 5, 4).double()).eval()
    w = deconv.parametrizations.weight.original.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(deconv.parametrizations.weight[0], (w,))


def test_spectral_norm_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="no parameter 'kernel'"):
        add_spectral_norm(nn.Conv2d(2, 2, 3), name="kernel")
    with pytest.raises(ConfigError, match="n_power_iterations >= 1"):
        add_spectral_norm(nn.Conv2d(2, 2, 3), n_power_iterations=0)


@pytest.mark.parametrize("host_scalars", [True, False])
def test_spectral_norm_fused_gradient_both_variants(host_scalars: bool) -> None:
    """The CPU (host scalars, one pass) and the accelerator (no host sync) forms of the fused
    backward both equal autograd's gradient of ``W / (u^T W v)``."""
    from i2i.nn.norm import _fused_rank1

    torch.manual_seed(0)
    w = torch.randn(6, 4, 3, 3, dtype=torch.float64, requires_grad=True)
    u = torch.nn.functional.normalize(torch.randn(6, dtype=torch.float64), dim=0)
    v = torch.nn.functional.normalize(torch.randn(36, dtype=torch.float64), dim=0)
    g = torch.randn(6, 4, 3, 3, dtype=torch.float64)
    sigma = torch.vdot(u, torch.mv(w.flatten(1), v))
    (expected,) = torch.autograd.grad(w / sigma, w, g)
    with torch.no_grad():
        got = _fused_rank1(g, u, v, 1.0 / sigma, torch.vdot(g.flatten(), w.flatten()), host_scalars)
    torch.testing.assert_close(got, expected)


def test_spectral_norm_under_torch_compile() -> None:
    """``--compile`` runs: the fused backward traces without graph breaks and matches eager."""
    import torch._dynamo

    torch.manual_seed(0)
    net = spectral_norm(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Linear(16, 4)))
    ref = copy.deepcopy(net)
    torch._dynamo.reset()
    compiled = torch.compile(net, backend="aot_eager", fullgraph=True)
    x = torch.randn(2, 3, 16, 16)
    for _ in range(2):  # two training forwards: power iteration in place each time
        y, y_ref = compiled(x), ref(x)
        y.square().mean().backward()
        y_ref.square().mean().backward()
        torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-6)
    for m, m_ref in ((net[0], ref[0]), (net[2], ref[2])):
        torch.testing.assert_close(
            m.parametrizations.weight.original.grad, m_ref.parametrizations.weight.original.grad
        )
