"""BasicSR / ESRGAN / Real-ESRGAN super-resolution generators -> the ``srgan`` family.

Layouts, recognised from keys and shapes:

- ``RRDBNet`` in BasicSR's naming (``conv_first``, ``body.N.rdbK.convC``, ``conv_body``,
  ``conv_up1/2``, ``conv_hr``, ``conv_last``; BasicSR's ``net_g_*.pth``, Real-ESRGAN's
  ``RealESRGAN_x4plus.pth``, ``RealESRGAN_x4plus_anime_6B.pth``, ``RealESRGAN_x2plus.pth``). The
  x2 / x1 models pixel-unshuffle the input (4x / 16x the channels of ``conv_first``) in front of
  a x4 trunk: imported with ``generator.pixel_unshuffle`` 2 / 4.
- ``RRDBNet`` in the original ESRGAN naming (``RRDB_trunk.N.RDBK.convC``, ``trunk_conv``,
  ``upconv1/2``, ``HRconv``; ``RRDB_ESRGAN_x4.pth``, ``RRDB_PSNR_x4.pth``).
- The oldest sequential ESRGAN naming (``model.0``, ``model.1.sub.N.RDBK.convC.0``,
  ``model.1.sub.<blocks>``, then upsampling convs, HR conv and output conv as ``model.N``;
  ``*_old_arch.pth``). A single x2 and a single x3 upsampling step have the same keys: x2 is
  assumed; ``--set scale=3`` for x3.
- ``MSRResNet`` (BasicSR's SRResNet without batch norm, x2 / x3 / x4; ``conv_first``,
  ``body.N.conv1/2``, ``upconv1`` [``upconv2``], ``conv_hr``, ``conv_last``).

Files may wrap the weights as ``{"params": ...}`` / ``{"params_ema": ...}``: ``params_ema`` is
used for inference (the EMA generator), ``params`` for the trained generator when both exist.
All these models work on RGB in [0, 1]: imported with ``generator.value_range = [0, 1]``, which
maps i2i's [-1, 1] around the network.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import torch

from i2i.errors import CheckpointError
from i2i.importers.core import (
    Importer,
    ImportPlan,
    NetworkImport,
    SourceFile,
    check_family,
    indices,
)

_RDB = re.compile(r"^body\.(\d+)\.rdb(\d)\.convs\.(\d)\.(weight|bias)$")
_UP = re.compile(r"^upsample\.(\d+)\.(weight|bias)$")


def _naming(w: Mapping[str, torch.Tensor]) -> str | None:
    if "conv_first.weight" in w and "body.0.rdb1.conv1.weight" in w:
        return "basicsr"
    if "conv_first.weight" in w and "RRDB_trunk.0.RDB1.conv1.weight" in w:
        return "esrgan"
    if "model.0.weight" in w and "model.1.sub.0.RDB1.conv1.0.weight" in w:
        return "esrgan-old"
    if "conv_first.weight" in w and "body.0.conv1.weight" in w and "upconv1.weight" in w:
        return "msrresnet"
    return None


def _matches(src: SourceFile) -> bool:
    return _naming(src.weights) is not None


def _rrdb_key(naming: str, n_blocks: int, n_up: int, ps: bool) -> Callable[[str], str]:
    """i2i ``RRDBNet`` key -> the file's key."""

    def key(k: str) -> str:
        if m := _RDB.match(k):
            i, j, c, p = m.group(1), m.group(2), int(m.group(3)) + 1, m.group(4)
            if naming == "basicsr":
                return f"body.{i}.rdb{j}.conv{c}.{p}"
            if naming == "esrgan":
                return f"RRDB_trunk.{i}.RDB{j}.conv{c}.{p}"
            return f"model.1.sub.{i}.RDB{j}.conv{c}.0.{p}"
        if m := _UP.match(k):
            step, p = (int(m.group(1)) - (0 if ps else 1)) // 3, m.group(2)
            if naming == "basicsr":
                return f"conv_up{step + 1}.{p}"
            if naming == "esrgan":
                return f"upconv{step + 1}.{p}"
            return f"model.{3 * step + (2 if ps else 3)}.{p}"
        name, p = k.rsplit(".", 1)
        if naming == "basicsr":
            return k
        if naming == "esrgan":
            return {"conv_body": "trunk_conv", "conv_hr": "HRconv"}.get(name, name) + f".{p}"
        last = 2 + 3 * n_up
        idx = {"conv_first": 0, "conv_hr": last, "conv_last": last + 2}
        if name == "conv_body":
            return f"model.1.sub.{n_blocks}.{p}"
        return f"model.{idx[name]}.{p}"

    return key


def _rrdb(
    w: Mapping[str, torch.Tensor], naming: str, origin: str
) -> tuple[dict[str, Any], Callable[[str], str]]:
    if naming == "basicsr":
        blocks, ups = (
            indices(w, r"^body\.(\d+)\.rdb1\.conv1\.weight$"),
            indices(w, r"^conv_up(\d+)\.weight$"),
        )
        growth, last, ps = w["body.0.rdb1.conv1.weight"].shape[0], "conv_last.weight", False
    elif naming == "esrgan":
        blocks, ups = (
            indices(w, r"^RRDB_trunk\.(\d+)\.RDB1\.conv1\.weight$"),
            indices(w, r"^upconv(\d+)\.weight$"),
        )
        growth, last, ps = w["RRDB_trunk.0.RDB1.conv1.weight"].shape[0], "conv_last.weight", False
    else:
        blocks = indices(w, r"^model\.1\.sub\.(\d+)\.RDB1\.conv1\.0\.weight$")
        growth = w["model.1.sub.0.RDB1.conv1.0.weight"].shape[0]
        tail = [i for i in indices(w, r"^model\.(\d+)\.weight$") if i >= 2]
        if len(tail) < 2:
            raise CheckpointError(
                f"{origin}: no HR / output convs (model.N.weight) after the trunk"
            )
        ups, last = tail[:-2], f"model.{tail[-1]}.weight"
        ps = bool(ups) and ups[0] % 3 == 2  # pixel shuffle: conv, shuffle, act from model.2
    first = w["conv_first.weight" if naming != "esrgan-old" else "model.0.weight"]
    nf, cin = first.shape[0], first.shape[1]
    cout = w[last].shape[0]
    unshuffle = {1: 1, 4: 2, 16: 4}.get(cin // cout if cin % cout == 0 else 0)
    if unshuffle is None:
        raise CheckpointError(
            f"{origin}: conv_first takes {cin} channels for {cout} output channels; expected "
            f"{cout} (x4), {4 * cout} (x2 with pixel unshuffle) or {16 * cout} (x1)"
        )
    step = math.isqrt(w[f"model.{ups[0]}.weight"].shape[0] // nf) if ps else 2
    trunk = step ** len(ups)
    scale = trunk // unshuffle
    info = {
        "arch": "RRDBNet", "naming": naming, "nf": nf, "n_blocks": len(blocks), "growth": growth,
        "channels": cout, "scale": scale, "unshuffle": unshuffle, "ps": ps, "n_up": len(ups),
    }  # fmt: skip
    return info, _rrdb_key(naming, len(blocks), len(ups), ps)


def _msrresnet(w: Mapping[str, torch.Tensor]) -> tuple[dict[str, Any], Callable[[str], str]]:
    nf, cin = w["conv_first.weight"].shape[:2]
    up1 = w["upconv1.weight"].shape[0]
    scale = 4 if "upconv2.weight" in w else int(round((up1 // nf) ** 0.5))
    info = {
        "arch": "MSRResNet", "naming": "basicsr", "nf": nf,
        "n_blocks": len(indices(w, r"^body\.(\d+)\.conv1\.weight$")),
        "channels": w["conv_last.weight"].shape[0], "in": cin, "scale": scale,
    }  # fmt: skip

    def key(k: str) -> str:
        if m := _UP.match(k):
            return f"upconv{int(m.group(1)) // 3 + 1}.{m.group(2)}"
        return k

    return info, key


def _plan(src: SourceFile, family: str | None, settings: Mapping[str, Any]) -> ImportPlan:
    w = src.weights
    naming = _naming(w)
    assert naming is not None
    if naming == "msrresnet":
        info, key = _msrresnet(w)
        gen: dict[str, Any] = {
            "arch": "srresnet",
            "upsampler": "pixelshuffle",
            "n_blocks": info["n_blocks"],
        }
        if info["in"] != info["channels"]:
            raise CheckpointError(
                f"{src.name}: MSRResNet with {info['in']} input and {info['channels']} output "
                "channels; i2i's srgan needs equal counts"
            )
    else:
        info, key = _rrdb(w, naming, src.name)
        gen = {
            "arch": "rrdb", "upsampler": "pixelshuffle" if info["ps"] else "nearest",
            "n_blocks": info["n_blocks"], "growth": info["growth"],
            "pixel_unshuffle": info["unshuffle"],
        }  # fmt: skip
    what = f"{info['arch']} ({naming} naming)"
    check_family("basicsr", family, ("srgan",), what)
    gen.update(nf=info["nf"], value_range=[0.0, 1.0])
    config = {"scale": info["scale"], "channels": info["channels"], "generator": gen}
    desc = f"{info['arch']} in {naming} naming: x{info['scale']}, nf {info['nf']}"
    desc += f", {info['n_blocks']} blocks"
    if info["arch"] == "RRDBNet":
        desc += f", growth {info['growth']}"
        if info["unshuffle"] > 1:
            trunk = info["scale"] * info["unshuffle"]
            desc += f", pixel-unshuffle {info['unshuffle']} before a x{trunk} trunk"
    detected = [f"{desc}, {info['channels']} channels, values in [0, 1]"]
    ema = src.wrapper == "params_ema"
    trained = src.others.get("params", w)
    nets = [
        NetworkImport(
            "G_ema.module.", w, src.name + ("[params_ema]" if ema else ""), key, what=what
        ),
        NetworkImport(
            "G.", trained, src.name + ("[params]" if "params" in src.others else ""), key, what=what
        ),
    ]
    if settings.get("ema_decay", 1.0) == 0:
        nets = nets[:1]
        nets[0] = NetworkImport("G.", w, nets[0].origin, key, what=what)
    return ImportPlan("srgan", config, nets, detected)


IMPORTER = Importer(
    name="basicsr",
    project="BasicSR / ESRGAN / Real-ESRGAN",
    summary="RRDBNet (RRDB_ESRGAN_x4.pth, RealESRGAN_x4plus / x2plus.pth, net_g_*.pth; three "
    "namings), MSRResNet x2/x3/x4",
    families=("srgan",),
    matches=_matches,
    plan=_plan,
)
