"""Reference-layout state dicts and minimal reference forwards for the importer tests.

Written here from the documented key layouts and forward math of the reference projects
(pytorch-CycleGAN-and-pix2pix ``ResnetGenerator`` / ``UnetGenerator`` / ``NLayerDiscriminator``,
BasicSR / ESRGAN ``RRDBNet`` and ``MSRResNet``, SPADE's generator and ``ConvEncoder``), as plain
``torch.nn.functional`` code over the raw state dicts — independent of i2i's modules, so a wrong
key mapping or a different layer order shows up as a different output. Tests get them through
the ``ref`` fixture.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

Sd = dict[str, torch.Tensor]
_GEN = torch.Generator().manual_seed(1234)


def rnd(*shape: int, scale: float = 0.1) -> torch.Tensor:
    return torch.randn(*shape, generator=_GEN) * scale


def save(sd: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(sd, path)
    return path


# -- pytorch-CycleGAN-and-pix2pix ----------------------------------------------------------------


def _conv(sd: Sd, name: str, cout: int, cin: int, k: int, bias: bool, transposed: bool = False):
    sd[f"{name}.weight"] = rnd(cin, cout, k, k) if transposed else rnd(cout, cin, k, k)
    if bias:
        sd[f"{name}.bias"] = rnd(cout)


def _norm(sd: Sd, name: str, c: int, norm: str, old_stats: bool = False, nbt: bool = True):
    if norm == "batch":
        sd[f"{name}.weight"] = 1 + rnd(c)
        sd[f"{name}.bias"] = rnd(c)
        sd[f"{name}.running_mean"] = rnd(c)
        sd[f"{name}.running_var"] = 0.5 + torch.rand(c, generator=_GEN)
        if nbt:
            sd[f"{name}.num_batches_tracked"] = torch.tensor(7)
    elif norm == "instance" and old_stats:  # PyTorch < 0.4 InstanceNorm2d kept statistics
        sd[f"{name}.running_mean"] = rnd(c)
        sd[f"{name}.running_var"] = 1 + rnd(c)


def resnet_g(
    cin: int = 3, cout: int = 3, ngf: int = 4, n_blocks: int = 2, norm: str = "instance",
    dropout: bool = False, old_stats: bool = False, nbt: bool = True,
) -> Sd:  # fmt: skip
    """``ResnetGenerator`` keys (``model.N``; residual blocks ``model.N.conv_block.M``)."""
    sd: Sd = {}
    bias = norm == "instance"
    kw = {"norm": norm, "old_stats": old_stats, "nbt": nbt}
    _conv(sd, "model.1", ngf, cin, 7, bias)
    _norm(sd, "model.2", ngf, **kw)
    i = 4
    for d in range(2):
        c = ngf * 2**d
        _conv(sd, f"model.{i}", 2 * c, c, 3, bias)
        _norm(sd, f"model.{i + 1}", 2 * c, **kw)
        i += 3
    c = ngf * 4
    second = 6 if dropout else 5
    for _ in range(n_blocks):
        _conv(sd, f"model.{i}.conv_block.1", c, c, 3, bias)
        _norm(sd, f"model.{i}.conv_block.2", c, **kw)
        _conv(sd, f"model.{i}.conv_block.{second}", c, c, 3, bias)
        _norm(sd, f"model.{i}.conv_block.{second + 1}", c, **kw)
        i += 1
    for d in range(2):
        c = ngf * 2 ** (2 - d)
        _conv(sd, f"model.{i}", c // 2, c, 3, bias, transposed=True)
        _norm(sd, f"model.{i + 1}", c // 2, **kw)
        i += 3
    _conv(sd, f"model.{i + 1}", cout, ngf, 7, True)
    return sd


def _apply_norm(sd: Sd, name: str, x: torch.Tensor, norm: str) -> torch.Tensor:
    if norm == "batch":
        return F.batch_norm(
            x, sd[f"{name}.running_mean"], sd[f"{name}.running_var"], sd[f"{name}.weight"],
            sd[f"{name}.bias"], training=False, eps=1e-5,
        )  # fmt: skip
    if norm == "instance":
        return F.instance_norm(x, eps=1e-5)
    return x


def _c(sd: Sd, name: str, x: torch.Tensor, stride: int = 1, pad: int = 0) -> torch.Tensor:
    return F.conv2d(x, sd[f"{name}.weight"], sd.get(f"{name}.bias"), stride, pad)


def resnet_g_forward(
    sd: Sd, x: torch.Tensor, n_blocks: int, norm: str, dropout: bool
) -> torch.Tensor:
    """Eval-mode ``ResnetGenerator``: reflect-padded 7x7, 2 stride-2 convs, residual blocks
    (reflect pad, conv3x3, norm, ReLU, [dropout], reflect pad, conv3x3, norm), 2 transposed convs
    (k3 s2 p1 op1), reflect-padded 7x7 to the output, tanh."""
    x = F.relu(
        _apply_norm(sd, "model.2", _c(sd, "model.1", F.pad(x, (3,) * 4, mode="reflect")), norm)
    )
    i = 4
    for _ in range(2):
        x = F.relu(_apply_norm(sd, f"model.{i + 1}", _c(sd, f"model.{i}", x, 2, 1), norm))
        i += 3
    second = 6 if dropout else 5
    for _ in range(n_blocks):
        p = f"model.{i}.conv_block"
        y = F.relu(
            _apply_norm(sd, f"{p}.2", _c(sd, f"{p}.1", F.pad(x, (1,) * 4, mode="reflect")), norm)
        )
        y = _apply_norm(
            sd,
            f"{p}.{second + 1}",
            _c(sd, f"{p}.{second}", F.pad(y, (1,) * 4, mode="reflect")),
            norm,
        )
        x = x + y
        i += 1
    for _ in range(2):
        w, b = sd[f"model.{i}.weight"], sd.get(f"model.{i}.bias")
        x = F.relu(_apply_norm(sd, f"model.{i + 1}", F.conv_transpose2d(x, w, b, 2, 1, 1), norm))
        i += 3
    return torch.tanh(_c(sd, f"model.{i + 1}", F.pad(x, (3,) * 4, mode="reflect")))


def _unet_levels(cin: int, cout: int, ngf: int, depth: int) -> list[tuple[int, int, int]]:
    """(outer, inner, input) channels, outermost first."""
    levels = [
        (cout, ngf, cin),
        (ngf, 2 * ngf, ngf),
        (2 * ngf, 4 * ngf, 2 * ngf),
        (4 * ngf, 8 * ngf, 4 * ngf),
    ]
    levels += [(8 * ngf, 8 * ngf, 8 * ngf)] * (depth - 4)
    return levels


def unet_g(cin: int = 3, cout: int = 3, ngf: int = 2, depth: int = 5, norm: str = "batch") -> Sd:
    """``UnetGenerator`` keys: nested ``model.model.1.model.3.model...`` levels."""
    sd: Sd = {}
    bias = norm == "instance"
    levels = _unet_levels(cin, cout, ngf, depth)
    prefix = "model.model."
    for li, (outer, inner, inp) in enumerate(levels):
        if li == 0:
            _conv(sd, f"{prefix}0", inner, inp, 4, bias)
            _conv(sd, f"{prefix}3", outer, 2 * inner, 4, True, transposed=True)
            prefix += "1.model."
        elif li == len(levels) - 1:
            _conv(sd, f"{prefix}1", inner, inp, 4, bias)
            _conv(sd, f"{prefix}3", outer, inner, 4, bias, transposed=True)
            _norm(sd, f"{prefix}4", outer, norm)
        else:
            _conv(sd, f"{prefix}1", inner, inp, 4, bias)
            _norm(sd, f"{prefix}2", inner, norm)
            _conv(sd, f"{prefix}5", outer, 2 * inner, 4, bias, transposed=True)
            _norm(sd, f"{prefix}6", outer, norm)
            prefix += "3.model."
    return sd


def unet_g_forward(sd: Sd, x: torch.Tensor, depth: int, norm: str) -> torch.Tensor:
    """Eval-mode ``UnetGenerator``: conv4x4/2 down (LeakyReLU 0.2 before all but the first,
    norm after all but the first and the innermost), ReLU + transposed conv4x4/2 up (norm after
    all but the outermost), skip concatenation ``[x, up]`` (``x`` after the in-place LeakyReLU),
    tanh."""

    def ct(name: str, y: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose2d(y, sd[f"{name}.weight"], sd.get(f"{name}.bias"), 2, 1)

    def level(li: int, prefix: str, x: torch.Tensor) -> torch.Tensor:
        if li == depth - 1:  # innermost
            x = F.leaky_relu(x, 0.2)
            y = _apply_norm(
                sd, f"{prefix}4", ct(f"{prefix}3", F.relu(_c(sd, f"{prefix}1", x, 2, 1))), norm
            )
            return torch.cat([x, y], 1)
        x = F.leaky_relu(x, 0.2)
        y = _apply_norm(sd, f"{prefix}2", _c(sd, f"{prefix}1", x, 2, 1), norm)
        y = level(li + 1, prefix + "3.model.", y)
        y = _apply_norm(sd, f"{prefix}6", ct(f"{prefix}5", F.relu(y)), norm)
        return torch.cat([x, y], 1)

    y = _c(sd, "model.model.0", x, 2, 1)
    y = level(1, "model.model.1.model.", y)
    return torch.tanh(ct("model.model.3", F.relu(y)))


def patchgan_d(cin: int = 6, ndf: int = 4, n_layers: int = 3, norm: str = "batch") -> Sd:
    """``NLayerDiscriminator`` keys (``model.N``)."""
    sd: Sd = {}
    bias = norm == "instance"
    _conv(sd, "model.0", ndf, cin, 4, True)
    mult, i = 1, 2
    for n in range(1, n_layers + 1):
        prev, mult = mult, min(2**n, 8)
        _conv(sd, f"model.{i}", ndf * mult, ndf * prev, 4, bias)
        _norm(sd, f"model.{i + 1}", ndf * mult, norm)
        i += 3
    _conv(sd, f"model.{i}", 1, ndf * mult, 4, True)
    return sd


def patchgan_d_forward(sd: Sd, x: torch.Tensor, n_layers: int, norm: str) -> torch.Tensor:
    x = F.leaky_relu(_c(sd, "model.0", x, 2, 1), 0.2)
    i = 2
    for n in range(1, n_layers + 1):
        x = _c(sd, f"model.{i}", x, 2 if n < n_layers else 1, 1)
        x = F.leaky_relu(_apply_norm(sd, f"model.{i + 1}", x, norm), 0.2)
        i += 3
    return _c(sd, f"model.{i}", x, 1, 1)


# -- BasicSR / ESRGAN / Real-ESRGAN ---------------------------------------------------------------


def rrdb_g(
    cin: int = 3, nf: int = 8, n_blocks: int = 2, gc: int = 4, unshuffle: int = 1, n_up: int = 2
) -> Sd:
    """``RRDBNet`` in BasicSR's naming (Real-ESRGAN x2 / x1: ``conv_first`` on unshuffled input)."""
    sd: Sd = {}
    _conv(sd, "conv_first", nf, cin * unshuffle**2, 3, True)
    for b in range(n_blocks):
        for j in (1, 2, 3):
            for c in range(1, 6):
                _conv(
                    sd, f"body.{b}.rdb{j}.conv{c}", gc if c < 5 else nf, nf + (c - 1) * gc, 3, True
                )
    _conv(sd, "conv_body", nf, nf, 3, True)
    for u in range(1, n_up + 1):
        _conv(sd, f"conv_up{u}", nf, nf, 3, True)
    _conv(sd, "conv_hr", nf, nf, 3, True)
    _conv(sd, "conv_last", cin, nf, 3, True)
    return sd


def esrgan_naming(sd: Sd) -> Sd:
    """BasicSR names -> the original ESRGAN repository's (``RRDB_trunk``, ``trunk_conv``, ...)."""
    out = {}
    for k, v in sd.items():
        k = (
            k.replace("conv_body", "trunk_conv")
            .replace("conv_up", "upconv")
            .replace("conv_hr", "HRconv")
        )
        if k.startswith("body."):
            k = "RRDB_trunk." + k[len("body.") :].replace(".rdb", ".RDB")
        out[k] = v
    return out


def esrgan_old_naming(sd: Sd, n_blocks: int) -> Sd:
    """BasicSR names -> the oldest sequential ESRGAN layout (``model.0``, ``model.1.sub.N``...)."""
    table = {"conv_first": "model.0", "conv_body": f"model.1.sub.{n_blocks}", "conv_up1": "model.3",
             "conv_up2": "model.6", "conv_hr": "model.8", "conv_last": "model.10"}  # fmt: skip
    out = {}
    for k, v in sd.items():
        name, p = k.rsplit(".", 1)
        if name.startswith("body."):
            _, b, rdb, conv = name.split(".")
            out[f"model.1.sub.{b}.RDB{rdb[3:]}.{conv}.0.{p}"] = v
        else:
            out[f"{table[name]}.{p}"] = v
    return out


def rrdb_g_forward(
    sd: Sd, x: torch.Tensor, n_blocks: int, unshuffle: int = 1, n_up: int = 2
) -> torch.Tensor:
    """BasicSR ``RRDBNet`` on [0, 1] input: [pixel unshuffle], conv, RRDB trunk (dense blocks
    with LeakyReLU 0.2, residuals scaled by 0.2), conv + long skip, nearest x2 + conv + LeakyReLU
    per step, HR conv + LeakyReLU, output conv."""
    lrelu = lambda t: F.leaky_relu(t, 0.2)  # noqa: E731
    if unshuffle > 1:
        x = F.pixel_unshuffle(x, unshuffle)
    fea = _c(sd, "conv_first", x, 1, 1)
    t = fea
    for b in range(n_blocks):
        block_in = t
        for j in (1, 2, 3):
            feats = [t]
            for c in range(1, 5):
                feats.append(lrelu(_c(sd, f"body.{b}.rdb{j}.conv{c}", torch.cat(feats, 1), 1, 1)))
            t = _c(sd, f"body.{b}.rdb{j}.conv5", torch.cat(feats, 1), 1, 1) * 0.2 + feats[0]
        t = t * 0.2 + block_in
    fea = fea + _c(sd, "conv_body", t, 1, 1)
    for u in range(1, n_up + 1):
        fea = lrelu(_c(sd, f"conv_up{u}", F.interpolate(fea, scale_factor=2, mode="nearest"), 1, 1))
    return _c(sd, "conv_last", lrelu(_c(sd, "conv_hr", fea, 1, 1)), 1, 1)


def msrresnet_g(cin: int = 3, nf: int = 8, n_blocks: int = 2, scale: int = 4) -> Sd:
    sd: Sd = {}
    _conv(sd, "conv_first", nf, cin, 3, True)
    for b in range(n_blocks):
        _conv(sd, f"body.{b}.conv1", nf, nf, 3, True)
        _conv(sd, f"body.{b}.conv2", nf, nf, 3, True)
    if scale == 4:
        _conv(sd, "upconv1", nf * 4, nf, 3, True)
        _conv(sd, "upconv2", nf * 4, nf, 3, True)
    else:
        _conv(sd, "upconv1", nf * scale * scale, nf, 3, True)
    _conv(sd, "conv_hr", nf, nf, 3, True)
    _conv(sd, "conv_last", cin, nf, 3, True)
    return sd


def msrresnet_g_forward(sd: Sd, x: torch.Tensor, n_blocks: int, scale: int) -> torch.Tensor:
    """``MSRResNet``: LeakyReLU 0.1, residual blocks without BN, pixel shuffle, + bilinear skip."""
    lrelu = lambda t: F.leaky_relu(t, 0.1)  # noqa: E731
    feat = lrelu(_c(sd, "conv_first", x, 1, 1))
    out = feat
    for b in range(n_blocks):
        out = out + _c(sd, f"body.{b}.conv2", F.relu(_c(sd, f"body.{b}.conv1", out, 1, 1)), 1, 1)
    if scale == 4:
        out = lrelu(F.pixel_shuffle(_c(sd, "upconv1", out, 1, 1), 2))
        out = lrelu(F.pixel_shuffle(_c(sd, "upconv2", out, 1, 1), 2))
    else:
        out = lrelu(F.pixel_shuffle(_c(sd, "upconv1", out, 1, 1), scale))
    out = _c(sd, "conv_last", lrelu(_c(sd, "conv_hr", out, 1, 1)), 1, 1)
    return out + F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)


# -- SPADE ---------------------------------------------------------------------------------------


def _sn_conv(sd: Sd, name: str, cout: int, cin: int, k: int, bias: bool) -> None:
    """A ``torch.nn.utils.spectral_norm`` conv (hook form): weight_orig, weight_u, weight_v."""
    sd[f"{name}.weight_orig"] = rnd(cout, cin, k, k, scale=0.3)
    sd[f"{name}.weight_u"] = F.normalize(rnd(cout), dim=0)
    sd[f"{name}.weight_v"] = F.normalize(rnd(cin * k * k), dim=0)
    if bias:
        sd[f"{name}.bias"] = rnd(cout)


def _spade_norm(sd: Sd, name: str, c: int, sem: int, hidden: int, k: int, batch: bool) -> None:
    if batch:
        sd[f"{name}.param_free_norm.running_mean"] = rnd(c)
        sd[f"{name}.param_free_norm.running_var"] = 0.5 + torch.rand(c, generator=_GEN)
        sd[f"{name}.param_free_norm.num_batches_tracked"] = torch.tensor(3)
    _conv(sd, f"{name}.mlp_shared.0", hidden, sem, k, True)
    _conv(sd, f"{name}.mlp_gamma", c, hidden, k, True)
    _conv(sd, f"{name}.mlp_beta", c, hidden, k, True)


def spade_g(
    sem: int, ngf: int = 2, n_up: int = 5, hidden: int = 8, k: int = 3, batch: bool = True,
    z_dim: int = 0, cells: int = 1,
) -> Sd:  # fmt: skip
    """SPADE generator keys: ``fc``, ``head_0``, ``G_middle_0/1``, ``up_0..``, ``conv_img``."""
    sd: Sd = {}
    nf = 16 * ngf
    if z_dim:
        sd["fc.weight"], sd["fc.bias"] = rnd(nf * cells, z_dim), rnd(nf * cells)
    else:
        _conv(sd, "fc", nf, sem, 3, True)
    for name, fin, fout in spade_blocks(ngf, n_up):
        fmid = min(fin, fout)
        _sn_conv(sd, f"{name}.conv_0", fmid, fin, 3, True)
        _sn_conv(sd, f"{name}.conv_1", fout, fmid, 3, True)
        _spade_norm(sd, f"{name}.norm_0", fin, sem, hidden, k, batch)
        _spade_norm(sd, f"{name}.norm_1", fmid, sem, hidden, k, batch)
        if fin != fout:
            _sn_conv(sd, f"{name}.conv_s", fout, fin, 1, False)
            _spade_norm(sd, f"{name}.norm_s", fin, sem, hidden, k, batch)
    final = ngf // 2 if n_up == 7 else ngf
    _conv(sd, "conv_img", 3, final, 3, True)
    return sd


def spade_blocks(ngf: int, n_up: int) -> list[tuple[str, int, int]]:
    nf = 16 * ngf
    blocks = [("head_0", nf, nf), ("G_middle_0", nf, nf), ("G_middle_1", nf, nf)]
    blocks += [
        ("up_0", nf, 8 * ngf),
        ("up_1", 8 * ngf, 4 * ngf),
        ("up_2", 4 * ngf, 2 * ngf),
        ("up_3", 2 * ngf, ngf),
    ]
    if n_up == 7:
        blocks.append(("up_4", ngf, ngf // 2))
    return blocks


def _sn_weight(sd: Sd, name: str) -> torch.Tensor:
    w = sd[f"{name}.weight_orig"]
    sigma = torch.dot(sd[f"{name}.weight_u"], torch.mv(w.flatten(1), sd[f"{name}.weight_v"]))
    return w / sigma


def spade_g_forward(
    sd: Sd, seg: torch.Tensor, ngf: int, n_up: int, batch: bool, z: torch.Tensor | None = None,
    base: tuple[int, int] = (1, 1),
) -> torch.Tensor:  # fmt: skip
    """Eval-mode SPADE generator: spectral-norm weights ``W / (u . W v)``, SPADE norm
    ``norm(x) * (1 + gamma) + beta`` with ``gamma``/``beta`` from the nearest-resized label map,
    residual blocks ``shortcut + conv_1(lrelu(SPADE(conv_0(lrelu(SPADE(x))))))``, nearest x2
    upsampling, tanh."""
    k = sd["head_0.norm_0.mlp_shared.0.weight"].shape[-1]

    def spade(name: str, x: torch.Tensor) -> torch.Tensor:
        if batch:
            stats = (sd[f"{name}.param_free_norm.{s}"] for s in ("running_mean", "running_var"))
            n = F.batch_norm(x, *stats, training=False, eps=1e-5)
        else:
            n = F.instance_norm(x, eps=1e-5)
        s = F.interpolate(seg, size=x.shape[2:], mode="nearest")
        a = F.relu(_c(sd, f"{name}.mlp_shared.0", s, 1, k // 2))
        return n * (1 + _c(sd, f"{name}.mlp_gamma", a, 1, k // 2)) + _c(
            sd, f"{name}.mlp_beta", a, 1, k // 2
        )

    def conv(name: str, x: torch.Tensor, pad: int) -> torch.Tensor:
        return F.conv2d(x, _sn_weight(sd, name), sd.get(f"{name}.bias"), 1, pad)

    def block(name: str, x: torch.Tensor) -> torch.Tensor:
        xs = (
            conv(f"{name}.conv_s", spade(f"{name}.norm_s", x), 0)
            if f"{name}.conv_s.weight_orig" in sd
            else x
        )
        dx = conv(f"{name}.conv_0", F.leaky_relu(spade(f"{name}.norm_0", x), 0.2), 1)
        dx = conv(f"{name}.conv_1", F.leaky_relu(spade(f"{name}.norm_1", dx), 0.2), 1)
        return xs + dx

    up = lambda t: F.interpolate(t, scale_factor=2, mode="nearest")  # noqa: E731
    sh, sw = seg.shape[2] // 2**n_up, seg.shape[3] // 2**n_up
    if z is not None:
        x = F.linear(z, sd["fc.weight"], sd["fc.bias"]).view(-1, 16 * ngf, *base)
    else:
        x = _c(sd, "fc", F.interpolate(seg, size=(sh, sw)), 1, 1)
    x = up(block("head_0", x))
    x = block("G_middle_0", x)
    if n_up >= 6:
        x = up(x)
    x = block("G_middle_1", x)
    for name in ("up_0", "up_1", "up_2", "up_3") + (("up_4",) if n_up == 7 else ()):
        x = block(name, up(x))
    return torch.tanh(_c(sd, "conv_img", F.leaky_relu(x, 0.2), 1, 1))


def spade_e(ndf: int = 2, z_dim: int = 4) -> Sd:
    """SPADE ``ConvEncoder`` keys: ``layer1..6`` (spectral-norm convs, no bias), ``fc_mu/var``."""
    sd: Sd = {}
    chans = [3, ndf, 2 * ndf, 4 * ndf, 8 * ndf, 8 * ndf, 8 * ndf]
    for i in range(6):
        _sn_conv(sd, f"layer{i + 1}.0", chans[i + 1], chans[i], 3, False)
    for name in ("fc_mu", "fc_var"):
        sd[f"{name}.weight"], sd[f"{name}.bias"] = rnd(z_dim, 8 * ndf * 16), rnd(z_dim)
    return sd


def spade_e_forward(sd: Sd, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if x.shape[2:] != (256, 256):
        x = F.interpolate(x, size=(256, 256), mode="bilinear", align_corners=False)
    for i in range(6):
        name = f"layer{i + 1}.0"
        x = F.leaky_relu(
            F.instance_norm(F.conv2d(x, _sn_weight(sd, name), None, 2, 1), eps=1e-5), 0.2
        )
    x = x.flatten(1)
    return F.linear(x, sd["fc_mu.weight"], sd["fc_mu.bias"]), F.linear(
        x, sd["fc_var.weight"], sd["fc_var.bias"]
    )


def parametrization_form(sd: Sd) -> Sd:
    """Hook-form spectral-norm keys -> ``torch.nn.utils.parametrizations.spectral_norm``'s."""
    out = {}
    for k, v in sd.items():
        k = k.replace(".weight_orig", ".parametrizations.weight.original")
        k = k.replace(".weight_u", ".parametrizations.weight.0._u").replace(
            ".weight_v", ".parametrizations.weight.0._v"
        )
        out[k] = v
    return out


def one_hot_semantics(
    label: torch.Tensor, label_nc: int, dontcare: bool, instance: torch.Tensor | None
) -> torch.Tensor:
    """SPADE's ``preprocess_input``: 255 -> class ``label_nc``, one-hot, + instance edges."""
    label = torch.where(label == 255, torch.full_like(label, label_nc), label)
    nc = label_nc + int(dontcare)
    sem = torch.zeros(label.shape[0], nc, *label.shape[2:]).scatter_(1, label, 1.0)
    if instance is not None:
        t = instance
        edge = torch.zeros_like(t, dtype=torch.bool)
        edge[:, :, :, 1:] |= t[:, :, :, 1:] != t[:, :, :, :-1]
        edge[:, :, :, :-1] |= t[:, :, :, 1:] != t[:, :, :, :-1]
        edge[:, :, 1:, :] |= t[:, :, 1:, :] != t[:, :, :-1, :]
        edge[:, :, :-1, :] |= t[:, :, 1:, :] != t[:, :, :-1, :]
        sem = torch.cat([sem, edge.float()], 1)
    return sem


@pytest.fixture
def ref() -> Any:
    """This module: the builders and reference forwards above."""
    return sys.modules[__name__]


@pytest.fixture
def imported(ctx: Any, tmp_path: Path) -> Callable[..., Any]:
    """``imported(path, family=None, overrides=())`` -> (ImportResult, loaded model).

    Discriminators not in the files are left initialized; the tests make them small
    (``discriminator.ndf=4``, the width of the test files' discriminators) to stay fast."""
    from i2i.importers import import_checkpoint
    from i2i.training.checkpoint import load_model

    count = iter(range(1000))

    def run(path: Path, family: str | None = None, overrides: tuple[str, ...] = ()) -> Any:
        out = tmp_path / f"run{next(count)}"
        sets = ("discriminator.ndf=4", *overrides)
        result = import_checkpoint(ctx, path, out, family=family, overrides=sets)
        return result, load_model(ctx, out).model.eval()

    return run
