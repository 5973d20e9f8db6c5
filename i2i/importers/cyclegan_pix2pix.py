"""pytorch-CycleGAN-and-pix2pix checkpoints: ``*_net_G.pth``, ``*_net_G_A.pth`` / ``*_net_G_B.pth``
and their ``*_net_D*.pth`` discriminators.

Layouts (from the reference's ``models/networks.py``), recognised from keys and shapes:

- ``ResnetGenerator`` (``resnet_6blocks`` / ``resnet_9blocks``): ``model.1`` 7x7 conv (``ngf``,
  input channels), ``n_downsampling`` stride-2 convs, residual blocks ``model.N.conv_block.*``
  (a conv at ``conv_block.1`` with reflect padding, ``.0`` with zero padding; the second conv at
  ``.6`` instead of ``.5`` when the block has dropout), transposed convs, a 7x7 output conv.
- ``UnetGenerator`` (``unet_128`` / ``unet_256``): nested ``model.model.1.model.3...`` levels;
  the depth is the nesting.
- ``NLayerDiscriminator`` (``basic`` / ``n_layers``) and ``PixelDiscriminator`` (``pixel``).

The norm follows from the keys: affine weights and running statistics = batch norm; conv biases
without norm parameters = instance norm; neither = ``--norm none`` (whose convs have no bias:
imported with ``generator.bias = off``). Files from PyTorch < 0.4 saved running statistics for
instance norm; like the reference's loader they are dropped. Batch-norm files without
``num_batches_tracked`` get it set to 0.

One generator file imports as ``pix2pix`` (one direction; ``inference_norm = running``, the
reference's ``--eval``); ``G_A`` with its ``G_B`` sibling imports as ``cyclegan``. Discriminator
files next to the generator(s) are imported too; without them the discriminators are left
initialized (untrained).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch

from i2i.errors import CheckpointError, ConfigError
from i2i.importers.core import (
    Importer,
    ImportPlan,
    NetworkImport,
    SourceFile,
    check_family,
    indices,
    shape,
)

_STATS = (".running_mean", ".running_var", ".num_batches_tracked")
_NAME = re.compile(r"^(?P<prefix>.*)_net_(?P<net>G|D)(?P<side>_A|_B)?$")


def _norm(w: Mapping[str, torch.Tensor], norm_key: str, conv_bias_key: str) -> str:
    if f"{norm_key}.weight" in w:
        return "batch"
    return "instance" if conv_bias_key in w else "none"


def _resnet(w: Mapping[str, torch.Tensor]) -> dict[str, Any] | None:
    first = shape(w, "model.1.weight")
    blocks = indices(w, r"^model\.(\d+)\.conv_block\.")
    if first is None or len(first) != 4 or first[2:] != (7, 7) or not blocks:
        return None
    if (blocks[0] - 4) % 3:
        return None
    b0 = f"model.{blocks[0]}.conv_block."
    zero_pad = f"{b0}0.weight" in w
    second = 3 if zero_pad else 5  # index of the second conv without dropout
    dropout = f"{b0}{second + 1}.weight" in w
    convs = [
        i for i in indices(w, r"^model\.(\d+)\.weight$") if len(w[f"model.{i}.weight"].shape) == 4
    ]
    out = w[f"model.{convs[-1]}.weight"]
    return {
        "arch": "ResnetGenerator",
        "ngf": first[0],
        "in": first[1],
        "out": out.shape[0],
        "n_blocks": len(blocks),
        "n_downsampling": (blocks[0] - 4) // 3,
        "norm": _norm(w, "model.2", "model.1.bias"),
        "dropout": dropout,
        "padding": "zeros" if zero_pad else "reflect",
    }


def _unet(w: Mapping[str, torch.Tensor]) -> dict[str, Any] | None:
    down = shape(w, "model.model.0.weight")
    up = shape(w, "model.model.3.weight")
    if down is None or up is None or len(down) != 4 or down[2:] != (4, 4):
        return None
    level, depth = "model.model.1.", 2
    while any(k.startswith(f"{level}model.3.model.") for k in w):
        level += "model.3."
        depth += 1
    return {
        "arch": "UnetGenerator",
        "ngf": down[0],
        "in": down[1],
        "out": up[1],
        "depth": depth,
        "norm": _norm(w, "model.model.1.model.2", "model.model.1.model.1.bias"),
    }


def _discriminator(w: Mapping[str, torch.Tensor]) -> dict[str, Any] | None:
    first = shape(w, "model.0.weight")
    if first is not None and first[2:] == (4, 4) and not any("conv_block" in k for k in w):
        convs = [
            i for i in indices(w, r"^model\.(\d+)\.weight$") if w[f"model.{i}.weight"].ndim == 4
        ]
        return {
            "arch": "patchgan",
            "ndf": first[0],
            "in": first[1],
            "n_layers": len(convs) - 2,
            "norm": _norm(w, "model.3", "model.2.bias"),
        }
    first = shape(w, "net.0.weight")
    if first is not None and first[2:] == (1, 1):
        return {
            "arch": "pixel",
            "ndf": first[0],
            "in": first[1],
            "n_layers": 3,
            "norm": _norm(w, "net.3", "net.2.bias"),
        }
    return None


def _generator(w: Mapping[str, torch.Tensor]) -> dict[str, Any] | None:
    return _unet(w) if "model.model.0.weight" in w else _resnet(w)


def _matches(src: SourceFile) -> bool:
    return _generator(src.weights) is not None or _discriminator(src.weights) is not None


def _describe(g: dict[str, Any]) -> str:
    if g["arch"] == "UnetGenerator":
        body = f"depth {g['depth']}"
    else:
        body = (
            f"{g['n_blocks']} blocks, {g['n_downsampling']} downsamplings, {g['padding']} padding"
        )
        body += ", dropout" if g["dropout"] else ", no dropout"
    return (
        f"{g['arch']} ({body}, ngf {g['ngf']}, {g['norm']} norm, {g['in']} -> {g['out']} channels)"
    )


def _generator_config(g: dict[str, Any], opts: Mapping[str, str]) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "ngf": g["ngf"],
        "norm": g["norm"],
        "bias": "off" if g["norm"] == "none" else "auto",
    }
    if g["arch"] == "UnetGenerator":
        depth = g["depth"]
        cfg["arch"] = {7: "unet_128", 8: "unet_256"}.get(depth, "unet")
        cfg["n_downsampling"] = depth
        # dropout leaves no trace in U-Net keys; it does nothing at inference (eval mode)
        cfg["dropout"] = 0.0 if opts.get("no_dropout") == "True" else 0.5
    else:
        cfg.update(
            arch="resnet", n_blocks=g["n_blocks"], n_downsampling=g["n_downsampling"],
            dropout=0.5 if g["dropout"] else 0.0, padding=g["padding"], upsample="transpose",
        )  # fmt: skip
    return cfg


def _disc_config(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "arch": d["arch"], "ndf": d["ndf"], "n_layers": max(d["n_layers"], 1), "norm": d["norm"],
        "spectral_norm": False, "bias": "off" if d["norm"] == "none" else "auto",
    }  # fmt: skip


def _network(prefix: str, src: SourceFile, layout: dict[str, Any], what: str) -> NetworkImport:
    instance = layout["norm"] == "instance"
    return NetworkImport(
        prefix=prefix,
        weights=src.weights,
        origin=src.name,
        key=lambda k: k,  # i2i's networks keep the reference's module names
        ignore=(lambda k: k.endswith(_STATS)) if instance else (lambda _k: False),
        what=what,
    )


def _same(a: dict[str, Any], b: dict[str, Any], names: tuple[str, str]) -> None:
    keys = [k for k in a if k not in ("in", "out") and a[k] != b.get(k)]
    if keys:
        k = keys[0]
        raise CheckpointError(
            f"{names[0]} and {names[1]} differ in {k} ({a[k]} vs {b.get(k)}); i2i's cyclegan "
            "uses one architecture for both generators — import each as pix2pix (--family pix2pix)"
        )


def _plan(src: SourceFile, family: str | None, settings: Mapping[str, Any]) -> ImportPlan:
    g = _generator(src.weights)
    m = _NAME.match(src.path.stem)
    if g is None:
        hint = (
            f"{m.group('prefix')}_net_G{m.group('side') or ''}.pth"
            if m
            else "the *_net_G*.pth file"
        )
        raise ConfigError(
            f"{src.name} is a discriminator ({_discriminator(src.weights)['arch']}); import the "
            f"generator ({hint}) — discriminators next to it are imported with it"
        )
    opts = src.options()
    prefix = m.group("prefix") if m else None
    side = (m.group("side") or "") if m else ""
    pair = None
    if prefix is not None and side:
        pair = src.sibling(f"{prefix}_net_G_{'B' if side == '_A' else 'A'}.pth")
    what = f"pytorch-CycleGAN-and-pix2pix {g['arch']}"
    fam = check_family(
        "cyclegan-pix2pix",
        family,
        ("cyclegan", "pix2pix") if pair else ("pix2pix", "cyclegan"),
        what,
    )
    detected = [f"pytorch-CycleGAN-and-pix2pix {_describe(g)} from {src.name}"]
    notes: list[str] = []
    if g["norm"] == "instance" and any(k.endswith(_STATS) for k in src.weights):
        notes.append(
            "dropped instance-norm running statistics (PyTorch < 0.4 files), as the reference does"
        )
    if fam == "cyclegan":
        if pair is None:
            want = f"{prefix}_net_G_B.pth" if prefix else "<prefix>_net_G_A.pth / _net_G_B.pth"
            raise ConfigError(
                f"--family cyclegan needs both generators; {want} is not next to {src.name} — "
                "put it there, or import one direction with --family pix2pix"
            )
        a_src, b_src = (src, pair) if side == "_A" else (pair, src)
        ga, gb = _generator(a_src.weights), _generator(b_src.weights)
        if gb is None or ga is None:
            raise CheckpointError(
                f"{pair.name} is not a generator of the same layout as {src.name}"
            )
        _same(ga, gb, (a_src.name, b_src.name))
        if (gb["in"], gb["out"]) != (ga["out"], ga["in"]):
            raise CheckpointError(
                f"{b_src.name} maps {gb['in']} -> {gb['out']} channels but {a_src.name} maps "
                f"{ga['in']} -> {ga['out']}; they are not one CycleGAN"
            )
        config: dict[str, Any] = {
            "input_nc": ga["in"], "output_nc": ga["out"],
            "generator": _generator_config(ga, opts),
        }  # fmt: skip
        nets = [
            _network("G_A.", a_src, ga, what),
            _network("G_B.", b_src, gb, what),
        ]
        detected = [
            f"pytorch-CycleGAN-and-pix2pix CycleGAN: G_A = {_describe(ga)}",
            f"G_B from {b_src.name}",
        ]
        ds = [(d_name, src.sibling(f"{prefix}_net_{d_name}.pth")) for d_name in ("D_A", "D_B")]
        found = [(n, f, _discriminator(f.weights)) for n, f in ds if f is not None]
        if len(found) == 2 and all(d for _n, _f, d in found):
            (_, fa, da), (_, fb, db) = found
            _same(da, db, (fa.name, fb.name))
            config["discriminator"] = _disc_config(da)
            nets += [
                _network("D_A.", fa, da, f"{da['arch']} discriminator"),
                _network("D_B.", fb, db, f"{db['arch']} discriminator"),
            ]
            detected.append(
                f"D_A, D_B: {da['arch']} (ndf {da['ndf']}, {da['n_layers']} layers, "
                f"{da['norm']} norm)"
            )
        return ImportPlan("cyclegan", config, nets, detected, notes)
    # one direction: pix2pix family
    direction = "BtoA" if side == "_B" else "AtoB"
    if not side and opts.get("model") == "pix2pix" and opts.get("direction") in ("AtoB", "BtoA"):
        direction = opts["direction"]
    config = {
        "input_nc": g["in"], "output_nc": g["out"], "direction": direction,
        "inference_norm": "running", "generator": _generator_config(g, opts),
    }  # fmt: skip
    nets = [_network("G.", src, g, what)]
    d_src = src.sibling(f"{prefix}_net_D.pth") if prefix is not None and not side else None
    d = _discriminator(d_src.weights) if d_src is not None else None
    if d_src is not None and d is not None:
        if d["in"] != g["in"] + g["out"]:
            raise CheckpointError(
                f"{d_src.name} takes {d['in']} channels, but a pix2pix discriminator sees input "
                "and "
                f"output ({g['in']} + {g['out']}); it is not this generator's discriminator"
            )
        config["discriminator"] = _disc_config(d)
        nets.append(_network("D.", d_src, d, f"{d['arch']} discriminator"))
        detected.append(
            f"D: {d['arch']} (ndf {d['ndf']}, {d['n_layers']} layers, {d['norm']} norm) from "
            f"{d_src.name}"
        )
    detected.append(f"direction {direction}; inference_norm=running (the reference's --eval)")
    return ImportPlan("pix2pix", config, nets, detected, notes)


IMPORTER = Importer(
    name="cyclegan-pix2pix",
    project="pytorch-CycleGAN-and-pix2pix",
    summary="ResnetGenerator / UnetGenerator (*_net_G.pth, *_net_G_A.pth + _G_B.pth), "
    "PatchGAN / pixel D (*_net_D*.pth)",
    families=("pix2pix", "cyclegan"),
    matches=_matches,
    plan=_plan,
)
