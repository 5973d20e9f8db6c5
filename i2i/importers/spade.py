"""SPADE (NVlabs) generators ``*_net_G.pth`` and VAE encoders ``*_net_E.pth`` -> ``spade``.

Layout (from the reference's ``models/networks/generator.py``, ``architecture.py``,
``normalization.py`` and ``encoder.py``): ``fc`` (a 3x3 conv from the label map, or a linear
layer from the style code with ``--use_vae``), ``head_0``, ``G_middle_0/1``, ``up_0..up_3``
(``up_4`` with ``most``), ``conv_img``; each SPADE residual block has ``conv_0``, ``conv_1``
(and ``conv_s`` when the width changes) with spectral norm — ``weight_orig`` / ``weight_u`` /
``weight_v`` from ``torch.nn.utils.spectral_norm`` or ``parametrizations.weight.original`` /
``.0._u`` / ``.0._v`` from the parametrization — and SPADE norms ``norm_0/1/s`` with
``mlp_shared.0``, ``mlp_gamma``, ``mlp_beta`` (running statistics: batch norm, else instance).
The encoder has ``layer1..layer6`` (spectral-norm convs without bias, each followed by instance
norm) and ``fc_mu`` / ``fc_var``; i2i's encoder convs have a bias, imported as zero (exact: the
instance norm after them removes any constant).

The file gives the label-map channel count ``label_nc + dontcare + instance``, not its parts:
they come from ``--set label_nc=... dontcare=255 use_instances=true``, else from ``opt.txt``
next to the file (``label_nc``, ``contain_dontcare_label``, ``no_instance``,
``num_upsampling_layers``, ``aspect_ratio``), else from the channel counts of the released
models (Cityscapes 36, ADE20K 151, COCO-Stuff 184, Facades 13). ``normal`` and ``more`` have the
same keys: ``num_upsampling_layers`` comes from the same sources (default ``normal``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import torch

from i2i.errors import CheckpointError, ConfigError
from i2i.importers.core import (
    ZERO,
    Fill,
    Importer,
    ImportPlan,
    NetworkImport,
    SourceFile,
    check_family,
    indices,
)

#: Released SPADE models by label-map channels: (dataset, label_nc, dontcare, instance,
#: num_upsampling, aspect ratio).
KNOWN: dict[int, tuple[str, int, bool, bool, int, float]] = {
    36: ("Cityscapes", 35, False, True, 6, 2.0),
    151: ("ADE20K", 150, True, False, 5, 1.0),
    184: ("COCO-Stuff", 182, True, True, 5, 1.0),
    13: ("Facades", 13, False, False, 5, 1.0),
}
_UPSAMPLING = {"normal": 5, "more": 6, "most": 7}
_SN = re.compile(r"^(.*)\.parametrizations\.weight\.(original|0\._u|0\._v)$")
_HOOK = {"original": "weight_orig", "0._u": "weight_u", "0._v": "weight_v"}


def _weight(w: Mapping[str, torch.Tensor], layer: str) -> torch.Tensor | None:
    for suffix in (".weight_orig", ".parametrizations.weight.original", ".weight"):
        if layer + suffix in w:
            return w[layer + suffix]
    return None


def _sn_form(w: Mapping[str, torch.Tensor], layer: str) -> str:
    if f"{layer}.weight_orig" in w:
        return "hook"
    return "parametrization" if f"{layer}.parametrizations.weight.original" in w else "none"


def _matches(src: SourceFile) -> bool:
    w = src.weights
    return "head_0.norm_0.mlp_shared.0.weight" in w or (
        "fc_mu.weight" in w and _weight(w, "layer1.0") is not None
    )


def _sn_key(form: str, k: str) -> str:
    m = _SN.match(k)
    if m and form == "hook":
        return f"{m.group(1)}.{_HOOK[m.group(2)]}"
    return k


def _g_key(form: str):  # noqa: ANN202 - a key function
    def key(k: str) -> str:
        k = re.sub(r"^up\.(\d+)\.", r"up_\1.", k)
        k = re.sub(r"(norm_[01s])\.shared\.0\.", r"\1.mlp_shared.0.", k)
        k = re.sub(r"(norm_[01s])\.(gamma|beta)\.", r"\1.mlp_\2.", k)
        return _sn_key(form, k)

    return key


def _e_key(form: str):  # noqa: ANN202
    def key(k: str) -> str | Fill:
        m = re.match(r"^body\.(\d+)\.(.*)$", k)
        if m:
            layer = f"layer{int(m.group(1)) // 3 + 1}.0"
            if m.group(2) == "bias":
                return ZERO
            return _sn_key(form, f"{layer}.{m.group(2)}")
        return k

    return key


def _labels(
    sem: int, settings: Mapping[str, Any], opts: Mapping[str, str], origin: str
) -> tuple[int, bool, bool, str]:
    """(label_nc, dontcare, instance, where from)."""
    known = KNOWN.get(sem)
    if "label_nc" in settings:
        n = int(settings["label_nc"])
        dc = settings.get("dontcare", -1) >= 0 if "dontcare" in settings else None
        inst = bool(settings["use_instances"]) if "use_instances" in settings else None
        rest = sem - n
        if dc is None and inst is None:
            if rest == 1:
                raise ConfigError(
                    f"{origin}: {sem} label channels = label_nc {n} + 1: set dontcare=255 or "
                    "use_instances=true to say which"
                )
            dc = inst = rest == 2
        elif dc is None:
            dc = rest - int(inst) == 1
        elif inst is None:
            inst = rest - int(dc) == 1
        return n, bool(dc), bool(inst), "--set"
    if "label_nc" in opts:
        return (
            int(opts["label_nc"]), opts.get("contain_dontcare_label") == "True",
            opts.get("no_instance", "False") != "True", "opt.txt",
        )  # fmt: skip
    if known is not None:
        return known[1], known[2], known[3], f"the released {known[0]} model's channel count"
    raise ConfigError(
        f"{origin}: the generator takes {sem} label-map channels (label_nc + 1 for a dontcare "
        f"label + 1 for instance edges); set them: --set label_nc=N [dontcare=255] "
        "[use_instances=true], or put the training's opt.txt next to the file"
    )


def _encoder(e_src: SourceFile, z_dim: int) -> tuple[dict[str, Any], NetworkImport]:
    w = e_src.weights
    layers = indices(w, r"^layer(\d+)\.0\.")
    first = _weight(w, "layer1.0")
    if first is None or "fc_mu.weight" not in w:
        raise CheckpointError(f"{e_src.name}: not a SPADE ConvEncoder (layer1.0, fc_mu)")
    if len(layers) != 6:
        raise CheckpointError(
            f"{e_src.name}: a ConvEncoder with {len(layers)} layers (crop_size < 256); i2i's "
            "encoder has 6 (256 px input), as the reference's for crop_size >= 256"
        )
    if w["fc_mu.weight"].shape[0] != z_dim:
        raise CheckpointError(
            f"{e_src.name}: codes of {w['fc_mu.weight'].shape[0]} values, but the generator "
            f"takes {z_dim}; the files are not one model"
        )
    form = _sn_form(w, "layer1.0")
    cfg = {"z_dim": z_dim, "ndf": first.shape[0], "size": 256}
    net = NetworkImport(
        "E.", w, e_src.name, _e_key(form), what=f"SPADE ConvEncoder ({form} spectral norm)"
    )
    return cfg, net


def _plan(src: SourceFile, family: str | None, settings: Mapping[str, Any]) -> ImportPlan:
    w = src.weights
    m = re.match(r"^(?P<prefix>.*)_net_(?P<net>[GED])$", src.path.stem)
    if "head_0.norm_0.mlp_shared.0.weight" not in w:
        raise ConfigError(
            f"{src.name} is a SPADE encoder; import the generator"
            + (f" ({m.group('prefix')}_net_G.pth)" if m else "")
            + " — the encoder next to it is imported with it"
        )
    check_family("spade", family, ("spade",), "SPADE generator")
    opts = src.options()
    head = _weight(w, "head_0.conv_0")
    shared = w["head_0.norm_0.mlp_shared.0.weight"]
    if head is None:
        raise CheckpointError(f"{src.name}: missing key 'head_0.conv_0.weight_orig'")
    ngf = head.shape[0] // 16
    sem = shared.shape[1]
    form = _sn_form(w, "head_0.conv_0")
    n_up_blocks = len(indices(w, r"^up_(\d+)\."))
    label_nc, dontcare, instance, source = _labels(sem, settings, opts, src.name)
    known = KNOWN.get(sem)
    gen_settings = (
        settings.get("generator", {}) if isinstance(settings.get("generator"), Mapping) else {}
    )
    if "num_upsampling" in gen_settings:
        n_up = int(gen_settings["num_upsampling"])
    elif opts.get("num_upsampling_layers") in _UPSAMPLING:
        n_up = _UPSAMPLING[opts["num_upsampling_layers"]]
    elif n_up_blocks == 5:
        n_up = 7
    elif known is not None and source != "--set":
        n_up = known[4]
    else:
        n_up = 5
    vae = w["fc.weight"].ndim == 2
    gen: dict[str, Any] = {
        "ngf": ngf, "num_upsampling": n_up,
        "norm": "batch" if "head_0.norm_0.param_free_norm.running_mean" in w else "instance",
        "spade_hidden": shared.shape[0], "spade_kernel": shared.shape[-1],
        "spectral_norm": form != "none",
    }  # fmt: skip
    config: dict[str, Any] = {
        "label_nc": label_nc, "dontcare": 255 if dontcare else -1, "use_instances": instance,
        "output_nc": w["conv_img.weight"].shape[0], "use_vae": vae, "generator": gen,
    }  # fmt: skip
    names = {5: "normal", 6: "more", 7: "most"}
    detected = [
        f"SPADE generator ({names.get(n_up, n_up)} = {n_up} upsamplings, ngf {ngf}, "
        f"{gen['norm']} SPADE norm {gen['spade_kernel']}x{gen['spade_kernel']}, {form} spectral "
        f"norm) from {src.name}",
        f"label maps: label_nc {label_nc}, dontcare {'255' if dontcare else 'none'}, instance "
        f"edges {'yes' if instance else 'no'} (from {source})",
    ]
    nets = [
        NetworkImport(
            "G.", w, src.name, _g_key(form), what=f"SPADE generator ({form} spectral norm)"
        )
    ]
    notes: list[str] = []
    if vae:
        z_dim = w["fc.weight"].shape[1]
        cells = w["fc.weight"].shape[0] // (16 * ngf)
        aspect = float(opts.get("aspect_ratio", known[5] if known else 1.0))
        sw = round(math.sqrt(cells * aspect))
        if sw < 1 or cells % sw:
            raise ConfigError(
                f"{src.name}: the style code starts from {cells} cells, not a {aspect}:1 map; set "
                "encoder.base (height) and encoder.base_w (width)"
            )
        config["encoder"] = {"z_dim": z_dim, "base": cells // sw, "base_w": sw}
        detected.append(f"VAE: z_dim {z_dim}, code map {cells // sw}x{sw}")
        e_src = src.sibling(f"{m.group('prefix')}_net_E.pth") if m else None
        if e_src is not None:
            e_cfg, e_net = _encoder(e_src, z_dim)
            config["encoder"].update(e_cfg)
            nets.append(e_net)
            detected.append(f"encoder E from {e_src.name} (ndf {e_cfg['ndf']})")
        else:
            notes.append("no *_net_E.pth next to the generator: the style encoder is untrained")
    return ImportPlan("spade", config, nets, detected, notes)


IMPORTER = Importer(
    name="spade",
    project="SPADE",
    summary="SPADE generator *_net_G.pth (+ VAE encoder *_net_E.pth), spectral norm in hook or "
    "parametrization form",
    families=("spade",),
    matches=_matches,
    plan=_plan,
)
