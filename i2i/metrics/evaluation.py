"""Shared building blocks of the families' ``i2i eval``: the network metrics, examples, neighbours.

A family's ``ModelSpec.evaluate(ctx, loaded, data_root, out_dir, options=EvalOptions(...))``
uses an :class:`Evaluator` to compute what needs a metric network (FID, KID, IS, LPIPS): the
networks are loaded once, from local files only. With ``options.metrics`` empty ("auto") a
metric whose weights are not on this machine is skipped and listed under ``"skipped"`` with the
command that fetches them; a metric asked for by name without its weights is an error (one line
naming the file). Then:

- :func:`evaluate_translations` scores translated images: FID / KID of each direction's outputs
  against the target domain's real test images, and for paired data LPIPS, PSNR and SSIM
  against each input's own target; writes the outputs, ``per_image.csv`` and best / worst
  examples.
- :func:`neighbour_report` writes ``nearest.png``: outputs beside their nearest training images
  (pixel L2 at a common small size) to spot memorization.
- :func:`examples` picks the best and worst images by a per-image metric.

The result of ``evaluate`` is a flat dict of numbers (written to ``eval.json``) plus a few
structured entries the results page reads: ``"score"`` (the headline metric, used to pick the
best step when evaluating during training), ``"examples"``, ``"nearest"`` and ``"skipped"``.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from i2i.errors import ConfigError
from i2i.metrics.weights import WeightsMissingError, resolve_weights

__all__ = [
    "NETWORK_METRICS",
    "EvalOptions",
    "Evaluator",
    "TranslationSet",
    "evaluate_translations",
    "examples",
    "run_evaluation",
    "neighbour_report",
    "score",
]

log = logging.getLogger(__name__)

#: Metric -> the weights it needs (names of :data:`~i2i.metrics.weights.KNOWN_WEIGHTS`, with
#: ``{net}`` the LPIPS backbone).
NETWORK_METRICS: dict[str, tuple[str, ...]] = {
    "fid": ("inception",),
    "kid": ("inception",),
    "is": ("inception",),
    "lpips": ("lpips-{net}", "{backbone}"),
}


@dataclasses.dataclass(frozen=True)
class EvalOptions:
    """How ``i2i eval`` computes the network metrics.

    Attributes:
        metrics: Network metrics to compute (``fid``, ``kid``, ``is``, ``lpips``); empty = every
            one the family reports whose weights are found ("auto").
        inception_weights: The Inception weights file (default: found by
            :func:`~i2i.metrics.weights.resolve_weights`).
        lpips_weights: The LPIPS linear layers file.
        lpips_backbone: The LPIPS backbone (torchvision) file.
        lpips_net: ``alex`` or ``vgg``.
        protocol: FID protocol: ``tf``, ``pytorch-fid`` or ``clean``.
        batch_size: Images per Inception forward pass.
        kid_subset_size: Images per KID subset (at most the set sizes).
        save_images: Write the translated / generated images under the report folder.
        max_images: Evaluate at most this many test inputs (and real targets) per direction;
            0 = all (a quick look during training; FIDs of different counts do not compare).
    """

    metrics: tuple[str, ...] = ()
    inception_weights: str | None = None
    lpips_weights: str | None = None
    lpips_backbone: str | None = None
    lpips_net: str = "alex"
    protocol: str = "tf"
    batch_size: int = 16
    kid_subset_size: int = 1000
    save_images: bool = True
    max_images: int = 0

    def __post_init__(self) -> None:
        unknown = [m for m in self.metrics if m not in NETWORK_METRICS]
        if unknown:
            raise ConfigError(
                f"unknown metric(s) {', '.join(unknown)}; network metrics: "
                f"{', '.join(NETWORK_METRICS)} (PSNR / SSIM / accuracy need no weights and are "
                "always reported)"
            )


class Evaluator:
    """The metric networks of one evaluation, loaded on first use from local files.

    Args:
        options: What to compute and which files to read.
        device: Where the networks run.
    """

    def __init__(self, options: EvalOptions | None = None, device: Any = "cpu") -> None:
        self.options = options or EvalOptions()
        self.device = torch.device(device)
        self.skipped: dict[str, str] = {}
        self._inception: Any = None
        self._lpips: Any = None

    def _paths(self, metric: str) -> list[Path]:
        from i2i.metrics.lpips import LPIPS_NETS

        o = self.options
        net = o.lpips_net
        if net not in LPIPS_NETS:
            raise ConfigError(f"unknown LPIPS network '{net}'; use one of: {', '.join(LPIPS_NETS)}")
        explicit = {
            "inception": o.inception_weights,
            f"lpips-{net}": o.lpips_weights,
            LPIPS_NETS[net][0]: o.lpips_backbone,
        }
        names = [n.format(net=net, backbone=LPIPS_NETS[net][0]) for n in NETWORK_METRICS[metric]]
        return [resolve_weights(n, explicit.get(n)) for n in names]

    def wants(self, metric: str) -> bool:
        """Whether to compute ``metric`` (see :class:`EvalOptions`); records why when not.

        Raises:
            WeightsMissingError: the metric was asked for by name and its weights are missing.
        """
        if self.options.metrics and metric not in self.options.metrics:
            return False
        try:
            self._paths(metric)
        except WeightsMissingError as e:
            if self.options.metrics:
                raise
            self.skipped[metric] = str(e)
            log.info("%s skipped: %s", metric, e)
            return False
        return True

    def inception(self) -> Any:
        """The :class:`~i2i.metrics.fid.InceptionExtractor` (loaded once)."""
        if self._inception is None:
            from i2i.metrics.fid import InceptionExtractor

            (path,) = self._paths("fid")
            self._inception = InceptionExtractor(
                path,
                protocol=self.options.protocol,
                device=self.device,
                batch_size=self.options.batch_size,
            )
        return self._inception

    def lpips(self) -> Any:
        """The :class:`~i2i.metrics.lpips.LPIPS` network (loaded once)."""
        if self._lpips is None:
            from i2i.metrics.lpips import load_lpips

            lin, backbone = self._paths("lpips")
            self._lpips = load_lpips(self.options.lpips_net, lin, backbone, self.device)
        return self._lpips

    def features(self, images: Sequence[torch.Tensor], logits: bool = False) -> Any:
        """Inception outputs of ``(C, H, W)`` tensors in [-1, 1] (any sizes; 8-bit quantized)."""
        return self.inception().tensors([im[None] for im in images], keep_logits=logits)

    def distribution(self, fake: Any, real: Any, suffix: str = "") -> dict[str, Any]:
        """FID and KID (those wanted) of two :class:`~i2i.metrics.fid.InceptionOutputs`."""
        from i2i.metrics.fid import kernel_inception_distance
        from i2i.metrics.folders import FEW_IMAGES_NOTE, fid_result

        out: dict[str, Any] = {}
        if self.wants("fid"):
            res = fid_result(fake, real, self.options.protocol)
            out[f"fid{suffix}"] = res["fid"]
            if "note" in res:
                out["fid_note"] = FEW_IMAGES_NOTE
        if self.wants("kid"):
            mean, std, m = kernel_inception_distance(
                fake.features, real.features, subset_size=self.options.kid_subset_size
            )
            out[f"kid{suffix}"] = mean
            out[f"kid_std{suffix}"] = std
            out["kid_subset_size"] = m
        return out

    def summary(self) -> dict[str, Any]:
        """``protocol`` (when Inception metrics ran) and ``skipped`` (when any was) entries."""
        out: dict[str, Any] = {}
        if self._inception is not None:
            out["fid_protocol"] = self.options.protocol
        if self._lpips is not None:
            out["lpips_net"] = self.options.lpips_net
        if self.skipped:
            out["skipped"] = dict(self.skipped)
        return out


def score(name: str, value: float, lower_is_better: bool) -> dict[str, Any]:
    """The ``"score"`` entry of an evaluation result: the headline metric."""
    return {"name": name, "value": float(value), "lower_is_better": bool(lower_is_better)}


def _to_image(t: torch.Tensor) -> np.ndarray:
    return ((t.detach().float().cpu().clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy()


def save_image(t: torch.Tensor, path: Path) -> Path:
    """Write a ``(C, H, W)`` tensor in [-1, 1] as an 8-bit PNG."""
    from i2i.datasets.image_io import write_image

    return write_image(path, _to_image(t))


def examples(
    rows: Sequence[dict[str, Any]],
    key: str,
    lower_is_better: bool,
    images: Sequence[Sequence[str]],
    k: int = 3,
) -> dict[str, Any]:
    """The ``k`` best and worst rows by ``key`` (finite values only), with their images.

    Args:
        rows: Per-image rows (as written to ``per_image.csv``).
        key: The metric to rank by.
        lower_is_better: Its direction.
        images: Per row, the image files to show (paths relative to the report folder).
        k: How many of each.

    Returns:
        ``{"metric", "lower_is_better", "best": [...], "worst": [...]}``, each entry
        ``{"image", "value", "files"}``; empty lists when no row has the metric.
    """
    ranked = [
        (float(r[key]), i)
        for i, r in enumerate(rows)
        if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])
    ]
    ranked.sort(reverse=not lower_is_better)

    def entry(i: int) -> dict[str, Any]:
        return {"image": rows[i]["image"], "value": float(rows[i][key]), "files": list(images[i])}

    k = min(k, len(ranked) // 2) if len(ranked) > 1 else len(ranked)
    return {
        "metric": key,
        "lower_is_better": lower_is_better,
        "best": [entry(i) for _, i in ranked[:k]],
        "worst": [entry(i) for _, i in ranked[::-1][:k]],
    }


def _small(images: Sequence[torch.Tensor], size: int, channels: int) -> torch.Tensor:
    out = []
    for im in images:
        x = im.detach().float().cpu()
        if x.shape[0] != channels:  # gray <-> RGB
            x = x.mean(0, keepdim=True).expand(channels, -1, -1)
        out.append(F.interpolate(x[None], size=(size, size), mode="area")[0])
    return torch.stack(out)


def neighbour_report(
    groups: Sequence[tuple[Sequence[torch.Tensor], Sequence[torch.Tensor]]],
    path: Path,
    *,
    show: int = 8,
    k: int = 3,
    size: int = 64,
) -> dict[str, Any]:
    """``nearest.png``: outputs beside their ``k`` nearest training images, one row per output.

    Args:
        groups: ``(outputs, training images)`` pairs (e.g. one per direction); each output is
            searched among its own group's training images. Up to ``show`` outputs are shown,
            shared evenly between the groups.
        path: The PNG to write.
        k: Neighbours per output.
        size: Distances are pixel L2 after resizing every image to ``size`` x ``size`` (area
            filter), so images of any size compare.

    Returns:
        ``{"nearest": file name, "nearest_mean_l2": mean distance of the shown outputs to their
        nearest training image (on [-1, 1] images of size x size)}``; empty without data.
    """
    from i2i.datasets.image_io import write_image
    from i2i.metrics.classifier import nearest_neighbours, neighbour_grid

    groups = [(o, t) for o, t in groups if len(o) and len(t)]
    if not groups:
        return {}
    per = max(1, show // len(groups))
    channels = int(groups[0][0][0].shape[0])
    rows, dists = [], []
    for outputs, train in groups:
        q = _small(outputs[:per], size, channels)
        ref = _small(train, size, channels)
        idx, dist = nearest_neighbours(q, ref, k=min(k, len(ref)))
        rows.append(neighbour_grid(q, ref, idx))
        dists.append(dist[:, 0])
    width = max(r.shape[-1] for r in rows)
    rows = [F.pad(r, (0, width - r.shape[-1]), value=-1.0) for r in rows]
    gap = torch.full((channels, 2, width), -1.0)
    grid = torch.cat([x for r in rows for x in (r, gap)][:-1], dim=1)
    write_image(path, ((grid.permute(1, 2, 0) + 1) / 2).clamp(0, 1).numpy())
    return {"nearest": path.name, "nearest_mean_l2": float(torch.cat(dists).mean())}


@dataclasses.dataclass
class TranslationSet:
    """The outputs of one direction of a translation model on a test split.

    Attributes:
        direction: ``AtoB``, ``BtoA``, ...
        names: One name per output (the input's file name without extension).
        inputs: The inputs as ``(C, H, W)`` images in [-1, 1] for display (a label map shown in
            colour), or empty.
        outputs: The translated images, ``(C, H, W)`` in [-1, 1].
        targets: Real images of the target domain (FID / KID reference); for paired data
            ``targets[i]`` is the ground truth of ``outputs[i]``.
        paired: Whether ``targets`` pair with ``outputs`` (LPIPS / PSNR / SSIM).
        train: Training images of the target domain (nearest-neighbour search), or empty.
    """

    direction: str
    names: list[str]
    inputs: list[torch.Tensor]
    outputs: list[torch.Tensor]
    targets: list[torch.Tensor]
    paired: bool = False
    train: list[torch.Tensor] = dataclasses.field(default_factory=list)


def _rgb(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``(C, H, W)`` -> ``(1, 3, H, W)`` float on ``device`` (gray repeated)."""
    t = t.detach().float()
    return (t.expand(3, -1, -1) if t.shape[0] == 1 else t[:3])[None].to(device)


def _unit_np(t: torch.Tensor) -> np.ndarray:
    return np.round(_to_image(t) * 255) / 255  # what the saved 8-bit image holds


def evaluate_translations(
    ev: Evaluator, sets: Sequence[TranslationSet], out_dir: Path
) -> dict[str, Any]:
    """Score every direction of a translation model and write the report files.

    Per direction ``D``: ``fid_D`` / ``kid_D`` (outputs against ``targets``), and for paired
    sets the means of ``lpips_D``, ``psnr_D``, ``ssim_D`` (RGB, on 8-bit quantized outputs).
    With one direction the suffix is dropped (``fid``, ``lpips``, ...). Writes
    ``translations/D/NAME.png`` (and ``inputs/``, ``targets/`` for the examples),
    ``per_image.csv``, ``nearest.png``.

    Returns:
        The result dict (see the module docstring): metrics, ``images``, ``score``,
        ``examples``, ``nearest``, ``nearest_mean_l2``, ``fid_protocol`` / ``skipped``.
    """
    from i2i.metrics.image import psnr, ssim
    from i2i.metrics.report import write_csv

    out_dir = Path(out_dir)
    result: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    many = len(sets) > 1
    for s in sets:
        rank_key = None
        sfx = f"_{s.direction}" if many else ""
        result[f"images{sfx}"] = len(s.outputs)
        set_rows = [{"image": f"{s.direction}/{n}" if many else n} for n in s.names]
        set_files: list[list[str]] = [[] for _ in s.names]
        if ev.options.save_images:
            for i, name in enumerate(s.names):
                for kind, group in (("inputs", s.inputs), ("translations", s.outputs)):
                    if group:
                        rel = f"{kind}/{s.direction}/{name}.png"
                        save_image(group[i], out_dir / rel)
                        set_files[i].append(rel)
                if s.paired:
                    rel = f"targets/{s.direction}/{name}.png"
                    save_image(s.targets[i], out_dir / rel)
                    set_files[i].append(rel)
        if ev.wants("fid") or ev.wants("kid"):
            fake = ev.features(s.outputs)
            real = ev.features(s.targets)
            result.update(ev.distribution(fake, real, sfx))
            if not s.paired and fake.features is not None and real.features is not None:
                # per image: pool3 distance to the nearest real target (smaller = more real)
                d = torch.cdist(torch.from_numpy(fake.features), torch.from_numpy(real.features))
                for i, v in enumerate(d.min(dim=1).values.tolist()):
                    set_rows[i]["inception_nn"] = v
                rank_key = "inception_nn"
        if s.paired:
            lp = None
            if ev.wants("lpips"):
                net = ev.lpips()
                with torch.no_grad():
                    lp = [
                        float(net(_rgb(o, ev.device), _rgb(t, ev.device))[0])
                        for o, t in zip(s.outputs, s.targets, strict=True)
                    ]
            for i, (o, t) in enumerate(zip(s.outputs, s.targets, strict=True)):
                a, b = _unit_np(o), _unit_np(t)
                set_rows[i]["psnr"] = psnr(a, b)
                set_rows[i]["ssim"] = ssim(a, b) if min(a.shape[:2]) >= 11 else float("nan")
                if lp is not None:
                    set_rows[i]["lpips"] = lp[i]
            for key in ("lpips", "psnr", "ssim"):
                vals = [r[key] for r in set_rows if key in r and math.isfinite(r[key])]
                if vals:
                    result[f"{key}{sfx}"] = float(np.mean(vals))
            rank_key = "lpips" if lp is not None else "psnr"
        rows.extend(set_rows)
        if rank_key is not None and ev.options.save_images:  # ranked within each direction
            ex = examples(set_rows, rank_key, rank_key != "psnr", set_files)
            merged = result.setdefault("examples", {**ex, "best": [], "worst": []})
            merged["best"] += ex["best"]
            merged["worst"] += ex["worst"]
    suffixes = [f"_{s.direction}" for s in sets] if many else [""]
    for key, lower in (("fid", True), ("lpips", True), ("psnr", False)):
        vals = [result[key + sf] for sf in suffixes if key + sf in result]
        if vals:  # the headline: FID when there is one, else LPIPS, else PSNR
            result["score"] = score(f"{key}_mean" if many else key, float(np.mean(vals)), lower)
            break
    if any(len(r) > 1 for r in rows):
        write_csv(rows, out_dir / "per_image.csv")
    result.update(neighbour_report([(s.outputs, s.train) for s in sets], out_dir / "nearest.png"))
    result.update(ev.summary())
    return result


@dataclasses.dataclass(frozen=True)
class TranslationJob:
    """One direction a translation family is evaluated in.

    Attributes:
        direction: The inference direction (``None``: the model's default) and the set's name.
        inputs: Batch keys fed to the inference module, in order (``("A",)``, ``("label",
            "instance")``); keys missing from the data are left out.
        target: Batch key of the target domain's real image.
        paired: Whether the target belongs to the input (LPIPS / PSNR / SSIM).
        name: The set's name in the report (default: ``direction``).
    """

    direction: str | None
    inputs: tuple[str, ...]
    target: str
    paired: bool
    name: str = ""


def load_split(ctx: Any, loaded: Any, data_root: Path, split: str, limit: int = 0) -> list[Any]:
    """The samples of a split of the run's dataset format, at the run's training size, unflipped
    (``limit`` > 0: the first ``limit`` only)."""
    from i2i.training.run import data_options

    spec, run = loaded.spec, loaded.config
    fmt = ctx.dataset_formats.get(run.train.format or spec.dataset_format)
    options = dataclasses.replace(data_options(spec, run, ctx, split), flip=False)
    dataset = fmt.build(Path(data_root), options)
    n = len(dataset) if limit <= 0 else min(limit, len(dataset))
    return [dataset[(i, i)] for i in range(n)]


def _unique(items: Sequence[Any], key: str) -> list[Any]:
    seen: set[str] = set()
    out = []
    for it in items:
        tag = str(it.get(f"{key}_path", id(it)))
        if tag not in seen:
            seen.add(tag)
            out.append(it)
    return out


def translation_sets(
    ctx: Any,
    loaded: Any,
    data_root: Path,
    jobs: Sequence[TranslationJob],
    *,
    split: str = "test",
    train_images: int = 200,
    max_images: int = 0,
) -> list[TranslationSet]:
    """Translate the ``split`` of ``data_root`` in every job's direction.

    Inputs and targets come from the family's dataset format (so label maps, instance maps and
    channel counts are read as in training), resized to the run's training size; each distinct
    input file is translated once. Up to ``train_images`` training images of each target domain
    are kept for the nearest-neighbour search; ``max_images`` > 0 keeps only the first inputs
    and targets.
    """
    from i2i.export.engine import TorchEngine

    model = loaded.model.eval()
    device = next(model.parameters()).device
    items = load_split(ctx, loaded, data_root, split)
    train = load_split(ctx, loaded, data_root, "train", limit=train_images) if train_images else []
    sets = []
    for job in jobs:
        module = model.inference_module(job.direction)
        info = model.inference_info(job.direction)
        # images of any size: padded to the stride and cropped back, as i2i translate does
        engine = TorchEngine(module, info, device, max_pixels=0)
        src = _unique(items, job.inputs[0])
        if max_images > 0:
            src = src[:max_images]
        names, shown, outs, targets = [], [], [], []
        with torch.no_grad():
            for it in src:
                xs = [it[k][None].to(device) for k in job.inputs if k in it]
                if xs[0].is_floating_point() and len(xs) == 1:
                    y = torch.from_numpy(engine(xs[0].cpu().numpy())).clamp(-1, 1)
                else:
                    y = module(*xs).float().clamp(-1, 1)
                outs.append(y[0].cpu())
                path = it.get(f"{job.inputs[0]}_path")
                names.append(Path(path).stem if path else str(len(names)))
                x0 = it[job.inputs[0]]
                if x0.is_floating_point():
                    shown.append(x0)
                if job.paired:
                    targets.append(it[job.target])
        if not job.paired:
            targets = [it[job.target] for it in _unique(items, job.target)]
            targets = targets[:max_images] if max_images > 0 else targets
        train_t = [it[job.target] for it in _unique(train, job.target)]
        sets.append(
            TranslationSet(
                job.name or str(job.direction or info.direction),
                names,
                shown if len(shown) == len(outs) else [],
                outs,
                targets,
                job.paired,
                train_t,
            )  # fmt: skip
        )
    return sets


def evaluate_translation_family(
    ctx: Any,
    loaded: Any,
    data_root: Path,
    out_dir: Path,
    jobs: Sequence[TranslationJob],
    options: EvalOptions | None = None,
) -> dict[str, Any]:
    """``ModelSpec.evaluate`` of a translation family in one call: translate the test split in
    each job's direction (those the model can do) and score it (:func:`evaluate_translations`)."""
    model = loaded.model
    can = set(model.inference_directions())
    jobs = [j for j in jobs if j.direction is None or j.direction in can]
    ev = Evaluator(options, next(model.parameters()).device)
    sets = translation_sets(ctx, loaded, data_root, jobs, max_images=ev.options.max_images)
    return evaluate_translations(ev, sets, out_dir)


def evaluation_numbers(result: dict[str, Any]) -> dict[str, float]:
    """The plain numbers of an evaluation result (what ``i2i_evaluation_done`` hands to the
    results page and the experiment loggers): nested values, text and ``step`` left out."""
    return {
        k: float(v)
        for k, v in result.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "step"
    }


def run_evaluation(
    ctx: Any, loaded: Any, data_root: Path, out_dir: Path, options: Any = None
) -> dict[str, Any]:
    """``loaded``'s family evaluation into ``out_dir``, with ``family`` and ``step`` added and
    ``eval.json`` written. Families whose ``evaluate`` takes ``options`` get them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    fn = loaded.spec.evaluate
    kwargs = {"options": options} if "options" in inspect.signature(fn).parameters else {}
    result = {
        "family": loaded.spec.name,
        "step": int(getattr(loaded.checkpoint, "step", 0) or 0),
        **fn(ctx, loaded, data_root, out_dir, **kwargs),
    }
    from i2i.files import atomic_write_text

    atomic_write_text(out_dir / "eval.json", json.dumps(result, indent=1, default=str))
    return result
