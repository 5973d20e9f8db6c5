"""Class-conditional evaluation: a small classifier trained on the real data, and memorization.

- :func:`train_classifier` fits :class:`SmallClassifier` on the real training images;
  :func:`load_or_train_classifier` caches its weights (safetensors, keyed by a dataset
  fingerprint) so ``i2i eval`` trains it once per dataset.
- :func:`class_accuracy` measures how often generated samples are classified as the class they
  were generated for (overall and per class).
- :func:`nearest_neighbours` finds the closest training images of each generated sample (L2 in
  pixel space); :func:`neighbour_grid` lays them out side by side to spot memorization.

Images are ``N x C x H x W`` float tensors in [-1, 1] throughout.

Example:
    >>> fp = dataset_fingerprint(train_files)  # doctest: +SKIP
    >>> clf, held_out = load_or_train_classifier(cache, images, labels, 4, fp)  # doctest: +SKIP
    >>> overall, per_class = class_accuracy(clf, fakes, fake_labels, 4)  # doctest: +SKIP
    >>> idx, dist = nearest_neighbours(fakes, images, k=3)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from i2i.errors import InputError

log = logging.getLogger(__name__)

#: Version of the cache layout; a cache written with another version is retrained.
CACHE_VERSION = "1"


class SmallClassifier(nn.Module):
    """A few conv + BatchNorm + ReLU blocks, global average pooling and a linear head.

    Stride-2 blocks halve the resolution until it is 4 pixels or less (at most 4 of them), so
    the network stays small and fast on CPU at 32-64 px.

    Args:
        in_channels: Image channels.
        num_classes: Number of classes (>= 2).
        size: Image size the classifier is trained at (square).
        width: Channels of the first block (doubled per stride-2 block, capped at 8x).

    Shape:
        - Input: ``(N, in_channels, H, W)`` in [-1, 1].
        - Output: ``(N, num_classes)`` logits.
    """

    def __init__(self, in_channels: int, num_classes: int, size: int, width: int = 32) -> None:
        super().__init__()
        if in_channels < 1 or num_classes < 2 or size < 4 or width < 1:
            raise InputError(
                f"SmallClassifier needs in_channels >= 1, num_classes >= 2, size >= 4 and "
                f"width >= 1, got {in_channels}, {num_classes}, {size}, {width}"
            )
        self.in_channels, self.num_classes = in_channels, num_classes
        self.size, self.width = size, width

        def block(cin: int, cout: int, stride: int) -> list[nn.Module]:
            return [
                nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]

        layers = block(in_channels, width, 1)
        ch, res, downs = width, size, 0
        while res > 4 and downs < 4:
            nxt = min(ch * 2, width * 8)
            layers += block(ch, nxt, 2)
            ch, res, downs = nxt, (res + 1) // 2, downs + 1
        layers += block(ch, ch, 1)
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(ch, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        # Per-image, per-channel standardization: the classes differ in shape, not in colour.
        x = (x - x.mean(dim=(2, 3), keepdim=True)) / (x.std(dim=(2, 3), keepdim=True) + 1e-3)
        return self.head(self.features(x).mean(dim=(2, 3)))

    def config(self) -> dict[str, int]:
        """The constructor arguments (stored in the cache metadata)."""
        return {
            "in_channels": self.in_channels,
            "num_classes": self.num_classes,
            "size": self.size,
            "width": self.width,
        }


def _check_data(images: Tensor, labels: Tensor, num_classes: int) -> None:
    if images.ndim != 4:
        raise InputError(f"images must be N x C x H x W, got shape {tuple(images.shape)}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise InputError(
            f"labels must be a 1-D tensor with one label per image ({images.shape[0]}), got "
            f"shape {tuple(labels.shape)}"
        )
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise InputError(
            f"labels must lie in [0, {num_classes - 1}], got min {int(labels.min())} and max "
            f"{int(labels.max())}"
        )


@torch.no_grad()
def predict(classifier: nn.Module, images: Tensor, batch_size: int = 256) -> Tensor:
    """Predicted class ids (``LongTensor[N]``) in eval mode, batched, on the model's device."""
    was_training = classifier.training
    classifier.eval()
    device = next(classifier.parameters()).device
    out = [
        classifier(images[i : i + batch_size].to(device, torch.float32)).argmax(1).cpu()
        for i in range(0, images.shape[0], batch_size)
    ]
    classifier.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def train_classifier(
    images: Tensor,
    labels: Tensor,
    num_classes: int,
    *,
    epochs: int = 10,
    batch_size: int = 64,
    seed: int = 0,
    device: str | torch.device = "cpu",
    val_fraction: float = 0.1,
    lr: float = 2e-3,
    width: int = 32,
    rotate: bool = False,
) -> tuple[SmallClassifier, float]:
    """Train a :class:`SmallClassifier` on real images (deterministic for a seed on CPU).

    A random ``val_fraction`` of the images (at least one when ``val_fraction > 0``) is held
    out; training uses Adam (constant rate, then a cosine decay over the second half) and
    random horizontal flips.

    Args:
        images: ``N x C x H x W`` float tensor in [-1, 1] (square images).
        labels: ``LongTensor[N]`` class ids in ``[0, num_classes)``.
        num_classes: Number of classes.
        epochs: Passes over the training part.
        batch_size: Images per step.
        seed: Seed of the initialization, the split and the batch order.
        device: Where to train; the returned model stays there, in eval mode.
        val_fraction: Share of images held out for the returned accuracy; 0 = report the
            accuracy on the training images.
        lr: Adam learning rate.
        width: Width of the classifier (see :class:`SmallClassifier`).
        rotate: Also augment with random rotations by multiples of 90 degrees (for classes
            that do not depend on orientation, like the ``classes`` demo's shapes).

    Returns:
        ``(classifier, held_out_accuracy)`` with the accuracy in [0, 1].

    Raises:
        InputError: shapes or labels do not fit, or fewer than 2 images.
    """
    _check_data(images, labels, num_classes)
    n = images.shape[0]
    if n < 2 or not 0.0 <= val_fraction < 1.0:
        raise InputError(
            f"train_classifier needs at least 2 images and 0 <= val_fraction < 1, got {n} "
            f"images and val_fraction={val_fraction}"
        )
    gen = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(n, generator=gen)
    n_val = min(n - 1, max(1, round(n * val_fraction))) if val_fraction > 0 else 0
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = SmallClassifier(images.shape[1], num_classes, images.shape[-1], width=width)
    model.to(device)
    x_train = images[train_idx].to(device, torch.float32)
    y_train = labels[train_idx].to(device, torch.long)
    steps_per_epoch = -(-x_train.shape[0] // batch_size)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    total = max(1, epochs * steps_per_epoch)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: 1.0 if step < total // 2 else 0.5 * (1 + math.cos(math.pi * step / total))
    )
    model.train()
    for _ in range(epochs):
        order = torch.randperm(x_train.shape[0], generator=gen).to(device)
        flips = (torch.rand(x_train.shape[0], generator=gen) < 0.5).to(device)
        for i in range(0, x_train.shape[0], batch_size):
            idx = order[i : i + batch_size]
            if idx.numel() < 2:  # BatchNorm needs more than one sample
                continue
            x = x_train[idx]
            x = torch.where(flips[idx, None, None, None], x.flip(-1), x)
            if rotate:
                x = torch.rot90(x, int(torch.randint(4, (1,), generator=gen)), dims=(2, 3))
            loss = F.cross_entropy(model(x), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    eval_idx = val_idx if n_val else train_idx
    pred = predict(model, images[eval_idx])
    accuracy = float((pred == labels[eval_idx].cpu()).float().mean())
    log.info("classifier trained: %d images, %d classes, accuracy %.3f", n, num_classes, accuracy)
    return model, accuracy


def _train_config(images: Tensor, num_classes: int, kw: dict[str, Any]) -> str:
    keys = ("epochs", "batch_size", "seed", "val_fraction", "lr", "width", "rotate")
    cfg = {k: kw[k] for k in keys if k in kw}
    cfg.update(
        version=CACHE_VERSION,
        num_classes=num_classes,
        shape=list(images.shape[1:]),
        n=images.shape[0],
    )
    return json.dumps(cfg, sort_keys=True)


def _load_cached(path: Path, fingerprint: str, config: str) -> tuple[SmallClassifier, float] | None:
    from safetensors import safe_open
    from safetensors.torch import load_file

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        if meta.get("fingerprint") != fingerprint or meta.get("config") != config:
            log.info("classifier cache %s is stale (other data or settings); retraining", path)
            return None
        arch = json.loads(meta["arch"])
        model = SmallClassifier(**arch)
        model.load_state_dict(load_file(str(path)))
        return model.eval(), float(meta["accuracy"])
    except Exception as e:  # noqa: BLE001 - any unreadable cache is simply rebuilt
        log.warning("classifier cache %s is unreadable (%s); retraining", path, e)
        return None


def _save_atomic(path: Path, model: SmallClassifier, metadata: dict[str, str]) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(state, tmp, metadata=metadata)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_or_train_classifier(
    cache_path: Path,
    images: Tensor,
    labels: Tensor,
    num_classes: int,
    fingerprint: str,
    **kw: Any,
) -> tuple[SmallClassifier, float]:
    """The classifier of a dataset: loaded from ``cache_path``, or trained and cached there.

    The cache (safetensors; metadata ``fingerprint``, ``accuracy``, ``num_classes``, the
    architecture and the training settings) is used when its fingerprint and settings match;
    otherwise the classifier is retrained with :func:`train_classifier` and the file is
    replaced atomically. An unreadable cache is retrained too.

    Args:
        cache_path: The ``.safetensors`` file.
        images: Real training images, ``N x C x H x W`` in [-1, 1].
        labels: Their class ids.
        num_classes: Number of classes.
        fingerprint: Identifies the data, e.g. :func:`dataset_fingerprint` of the files.
        **kw: Passed to :func:`train_classifier` (``epochs``, ``seed``, ``device``, ...).

    Returns:
        ``(classifier, held_out_accuracy)``; the classifier is in eval mode (on ``device`` when
        trained, on the CPU when loaded unless ``device`` is given).
    """
    path = Path(cache_path)
    config = _train_config(images, num_classes, kw)
    if path.is_file():
        cached = _load_cached(path, fingerprint, config)
        if cached is not None:
            log.info("classifier loaded from cache %s", path)
            model, accuracy = cached
            return model.to(kw.get("device", "cpu")), accuracy
    model, accuracy = train_classifier(images, labels, num_classes, **kw)
    metadata = {
        "fingerprint": fingerprint,
        "accuracy": repr(accuracy),
        "num_classes": str(num_classes),
        "arch": json.dumps(model.config(), sort_keys=True),
        "config": config,
    }
    _save_atomic(path, model, metadata)
    return model, accuracy


def class_accuracy(
    classifier: nn.Module, images: Tensor, labels: Tensor, num_classes: int, batch_size: int = 256
) -> tuple[float, list[float]]:
    """How often ``images`` are classified as ``labels``: overall and per class.

    Args:
        classifier: E.g. from :func:`load_or_train_classifier`.
        images: ``N x C x H x W`` in [-1, 1] (e.g. generated samples).
        labels: The class each image should show.
        num_classes: Number of classes (length of the per-class list).
        batch_size: Images per forward pass.

    Returns:
        ``(overall, per_class)`` in [0, 1]; a class without images gets ``nan``.
    """
    _check_data(images, labels, num_classes)
    if images.shape[0] == 0:
        return float("nan"), [float("nan")] * num_classes
    correct = (predict(classifier, images, batch_size) == labels.cpu()).float()
    labels = labels.cpu()
    per_class = [
        float(correct[labels == c].mean()) if bool((labels == c).any()) else float("nan")
        for c in range(num_classes)
    ]
    return float(correct.mean()), per_class


def nearest_neighbours(
    samples: Tensor, reference: Tensor, k: int = 1, batch_size: int = 256
) -> tuple[Tensor, Tensor]:
    """The ``k`` nearest reference images of each sample (L2 distance in pixel space).

    Distances are computed exactly (no ``|a|^2 + |b|^2 - 2ab`` cancellation, so a duplicate is
    at distance 0), in blocks of ``batch_size`` samples and references to bound memory.

    Args:
        samples: ``N x C x H x W`` (e.g. generated images).
        reference: ``M x C x H x W`` with the same C, H, W (e.g. the training images).
        k: Neighbours per sample (``1 <= k <= M``).
        batch_size: Block size in images.

    Returns:
        ``(indices, distances)``: ``LongTensor[N, k]`` into ``reference`` and ``Tensor[N, k]``
        of Euclidean distances, nearest first.

    Raises:
        InputError: shapes differ or ``k`` is out of range.
    """
    if samples.ndim < 2 or samples.shape[1:] != reference.shape[1:]:
        raise InputError(
            f"samples {tuple(samples.shape)} and reference {tuple(reference.shape)} must have "
            "the same shape apart from the first dimension"
        )
    m = reference.shape[0]
    if not 1 <= k <= m:
        raise InputError(f"k must lie in [1, {m}] (reference images), got {k}")
    flat_ref = reference.reshape(m, -1).float()
    flat = samples.reshape(samples.shape[0], -1).float()
    all_idx, all_dist = [], []
    for i in range(0, flat.shape[0], batch_size):
        q = flat[i : i + batch_size]
        best_d = torch.full((q.shape[0], 0), float("inf"))
        best_i = torch.zeros((q.shape[0], 0), dtype=torch.long)
        for j in range(0, m, batch_size):
            d = torch.cdist(
                q[None],
                flat_ref[j : j + batch_size][None],
                compute_mode="donot_use_mm_for_euclid_dist",
            )[0].cpu()
            idx = torch.arange(j, j + d.shape[1]).expand_as(d)
            cand_d, cand_i = torch.cat([best_d, d], 1), torch.cat([best_i, idx], 1)
            top = cand_d.topk(min(k, cand_d.shape[1]), dim=1, largest=False)
            best_d, best_i = top.values, cand_i.gather(1, top.indices)
        all_idx.append(best_i)
        all_dist.append(best_d)
    if not all_idx:
        return torch.zeros((0, k), dtype=torch.long), torch.zeros((0, k))
    return torch.cat(all_idx), torch.cat(all_dist)


def neighbour_grid(samples: Tensor, reference: Tensor, indices: Tensor, pad: int = 2) -> Tensor:
    """One image showing each sample (left) beside its nearest reference images (right).

    Args:
        samples: ``N x C x H x W`` in [-1, 1].
        reference: ``M x C x H x W`` in [-1, 1].
        indices: ``LongTensor[N, k]`` from :func:`nearest_neighbours`.
        pad: Pixels between tiles (filled with -1, black).

    Returns:
        A ``C x (N*(H+pad)-pad) x ((k+1)*(W+pad)-pad)`` tensor in [-1, 1], one row per sample.
    """
    n, c, h, w = samples.shape
    k = indices.shape[1]
    grid = torch.full((c, n * (h + pad) - pad, (k + 1) * (w + pad) - pad), -1.0)
    for r in range(n):
        tiles: Sequence[Tensor] = [samples[r], *(reference[int(j)] for j in indices[r])]
        for col, tile in enumerate(tiles):
            y, x = r * (h + pad), col * (w + pad)
            grid[:, y : y + h, x : x + w] = tile.detach().float().cpu()
    return grid


def dataset_fingerprint(paths: Sequence[Path], root: Path | None = None) -> str:
    """A hash of the files' relative paths, sizes and modification times.

    Args:
        paths: The dataset's files (order does not matter).
        root: Paths are hashed relative to this (default: their common parent folder), so a
            moved dataset keeps its fingerprint.

    Returns:
        32 hex digits.
    """
    files = [Path(p) for p in paths]
    if root is None:
        root = Path(os.path.commonpath([str(p.parent) for p in files])) if files else Path(".")
    h = hashlib.sha256()
    entries = []
    for p in files:
        st = p.stat()
        rel = os.path.relpath(p, root).replace(os.sep, "/")
        entries.append(f"{rel}\t{st.st_size}\t{st.st_mtime_ns}")
    for entry in sorted(entries):
        h.update(entry.encode() + b"\n")
    return h.hexdigest()[:32]


__all__ = [
    "SmallClassifier",
    "class_accuracy",
    "dataset_fingerprint",
    "load_or_train_classifier",
    "nearest_neighbours",
    "neighbour_grid",
    "predict",
    "train_classifier",
]
