"""SPADE checkpoints: generator (both spectral-norm forms), VAE encoder, label settings."""

from __future__ import annotations

import pytest
import torch

from i2i.errors import ConfigError

TOL = 1e-5


def _labels(label_nc: int, h: int, w: int, dontcare: bool) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, label_nc, (1, 1, h // 4, w // 4), generator=g)
    ids = ids.repeat_interleave(4, 2).repeat_interleave(4, 3)  # regions, not noise
    if dontcare:
        ids[..., :4, :4] = 255
    return ids


def test_generator_hook_form_instance_norm(ref, imported, tmp_path):
    """A SPADE generator (normal, instance-norm SPADE 5x5, hook spectral norm), labels set.

    Compared in float64: instance norm over the 1x2 maps of the first blocks amplifies float32
    rounding so much that the float32 reference itself is ~4e-4 from its float64 value (in
    float64 i2i and the reference agree to ~1e-13); float32 would test rounding, not the import.
    The float32 comparisons below use batch norm, SPADE's default."""
    sd = ref.spade_g(sem=6, ngf=2, n_up=5, hidden=4, k=5, batch=False)
    path = ref.save(sd, tmp_path / "ckpt" / "latest_net_G.pth")
    with pytest.raises(ConfigError, match="6 label-map channels .* --set label_nc"):
        imported(path)
    result, model = imported(path, overrides=("label_nc=5", "dontcare=255"))
    cfg = model.config
    assert (cfg.label_nc, cfg.dontcare, cfg.use_instances, cfg.use_vae) == (5, 255, False, False)
    g = cfg.generator
    assert (g.num_upsampling, g.norm, g.spade_hidden, g.spade_kernel) == (5, "instance", 4, 5)
    assert "hook spectral norm" in result.detected[0] and "D" in result.initialized
    label = _labels(5, 32, 64, dontcare=True)
    sem = ref.one_hot_semantics(label, 5, True, None).double()
    sd64 = {k: v.double() if v.is_floating_point() else v for k, v in sd.items()}
    with torch.no_grad():
        got = model.double().G(sem)
        want = ref.spade_g_forward(sd64, sem, 2, 5, False)
        # the label encoding of the inference module equals the reference's one-hot + dontcare
        assert torch.equal(model.inference_module().labels(label).double(), sem)
    assert (got - want).abs().max() < TOL


def test_vae_generator_encoder_parametrization_form(ref, imported, tmp_path):
    """'more' + VAE + instance edges, spectral norm in the parametrization form, settings from
    opt.txt (label_nc, dontcare, aspect ratio 2:1), the encoder from the sibling file."""
    n_up, ngf, z = 6, 2, 4
    g = ref.spade_g(sem=5, ngf=ngf, n_up=n_up, hidden=8, k=3, batch=True, z_dim=z, cells=2)
    e = ref.spade_e(ndf=2, z_dim=z)
    folder = tmp_path / "checkpoints" / "city"
    ref.save(ref.parametrization_form(g), folder / "latest_net_G.pth")
    ref.save(e, folder / "latest_net_E.pth")
    (folder / "opt.txt").write_text(
        "               label_nc: 3                             \t[default: 182]\n"
        " contain_dontcare_label: True                          \n"
        "            no_instance: False                         \n"
        "  num_upsampling_layers: more                          \n"
        "           aspect_ratio: 2.0                           \t[default: 1.0]\n"
    )
    result, model = imported(folder / "latest_net_G.pth")
    cfg = model.config
    assert (cfg.label_nc, cfg.dontcare, cfg.use_instances, cfg.use_vae) == (3, 255, True, True)
    assert (cfg.encoder.base, cfg.encoder.base_w, cfg.encoder.z_dim) == (1, 2, z)
    assert model.inference_directions() == ("AtoB", "style") and result.initialized == ["D"]
    label = _labels(3, 64, 128, dontcare=True)
    inst = torch.arange(4).view(1, 1, 2, 2).repeat_interleave(32, 2).repeat_interleave(64, 3)
    style = torch.rand(1, 3, 64, 128, generator=torch.Generator().manual_seed(1)) * 2 - 1
    sem = ref.one_hot_semantics(label, 3, True, inst)
    with torch.no_grad():
        mu, _ = ref.spade_e_forward(e, style)
        got = model.inference_module("style")(label, inst, style)
        want = ref.spade_g_forward(g, sem, ngf, n_up, True, z=mu, base=(1, 2))
        got_mu, got_logvar = model.E(style)
        want_mu, want_logvar = ref.spade_e_forward(e, style)
    assert (got - want).abs().max() < TOL
    assert (got_mu - want_mu).abs().max() < TOL and (got_logvar - want_logvar).abs().max() < TOL


def test_most_upsampling_from_block_count(ref, imported, tmp_path):
    """'most' (5 up blocks), batch-norm SPADE, Facades' 13 channels, float32."""
    sd = ref.spade_g(sem=13, ngf=2, n_up=7, hidden=4, k=3, batch=True)
    result, model = imported(ref.save(sd, tmp_path / "latest_net_G.pth"))
    cfg = model.config
    assert (cfg.generator.num_upsampling, cfg.label_nc, cfg.generator.norm) == (7, 13, "batch")
    assert "Facades" in result.detected[1]
    label = _labels(13, 128, 128, dontcare=False)
    with torch.no_grad():
        got = model.inference_module()(label)
        want = ref.spade_g_forward(sd, ref.one_hot_semantics(label, 13, False, None), 2, 7, True)
    assert (got - want).abs().max() < TOL
