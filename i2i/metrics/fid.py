"""FID, KID and the Inception Score from the FID Inception network, streamed over any image count.

- :class:`InceptionExtractor` turns images (files, arrays or generated tensors) into pool3
  features and logits under one of the protocols of :mod:`i2i.metrics.inception`, batch by
  batch; :class:`FeatureStats` keeps only the running sums FID needs (mean and covariance in
  float64), so a folder of 50,000 images needs 32 MB, not a 50,000 x 2048 matrix.
- :func:`frechet_distance` (FID): ``|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr sqrt(S1 S2)``, with the
  trace of the matrix square root taken from the eigenvalues of ``S1^1/2 S2 S1^1/2`` (symmetric,
  so exact and fast where ``scipy.linalg.sqrtm`` of a rank-deficient product is not).
- :func:`kernel_inception_distance` (KID): the unbiased MMD^2 with the cubic polynomial kernel
  ``(x.y / d + 1)^3``, averaged over random subsets drawn exactly as torch-fidelity draws them
  (``numpy.random.RandomState(seed)``, ``choice(n, m, replace=False)`` for the first then the
  second set, per subset); the subset size is ``min(subset_size, n1, n2)``.
- :func:`inception_score` (IS): ``exp(E_x KL(p(y|x) || p(y)))`` per split over the softmax of the
  bias-free logits (the original code's), mean and standard deviation over ``splits`` splits of
  the images shuffled by ``RandomState(seed).permutation`` (torch-fidelity's order).

Example:
    >>> ex = InceptionExtractor("pt_inception-2015-12-05-6726825d.pth")  # doctest: +SKIP
    >>> a, b = ex.folder("real/"), ex.folder("fake/")                     # doctest: +SKIP
    >>> frechet_distance(*a.stats.mean_cov(), *b.stats.mean_cov())        # doctest: +SKIP
    41.27
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from i2i.errors import ConfigError, InputError
from i2i.metrics.inception import FEATURE_DIM, load_inception, preprocess

__all__ = [
    "FeatureStats",
    "InceptionExtractor",
    "InceptionOutputs",
    "frechet_distance",
    "frechet_distance_features",
    "inception_score",
    "kernel_inception_distance",
]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


class FeatureStats:
    """Running mean and covariance of feature vectors (float64), updated batch by batch.

    Sums are taken around a shift (the first batch's mean) so that large common offsets do not
    cost precision.

    Args:
        dim: Feature width.
    """

    def __init__(self, dim: int = FEATURE_DIM) -> None:
        self.dim = dim
        self.n = 0
        self._shift: np.ndarray | None = None
        self._sum = np.zeros(dim, np.float64)
        self._outer = np.zeros((dim, dim), np.float64)
        self._fixed: tuple[np.ndarray, np.ndarray] | None = None

    def update(self, feats: np.ndarray) -> None:
        """Add ``(B, dim)`` features."""
        f = np.asarray(feats, dtype=np.float64).reshape(-1, self.dim)
        if not len(f):
            return
        if self._fixed is not None:
            raise InputError("statistics loaded from a file cannot take more features")
        if self._shift is None:
            self._shift = f.mean(axis=0)
        d = f - self._shift
        self._sum += d.sum(axis=0)
        self._outer += d.T @ d
        self.n += len(f)

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """``(mu, sigma)``: the mean and the unbiased covariance (``N - 1``, as ``np.cov``).

        Raises:
            InputError: fewer than 2 vectors (a covariance needs two).
        """
        if self._fixed is not None:
            return self._fixed
        if self.n < 2 or self._shift is None:
            raise InputError(f"FID needs at least 2 images per set, got {self.n}; add images")
        m = self._sum / self.n
        cov = (self._outer - self.n * np.outer(m, m)) / (self.n - 1)
        return self._shift + m, (cov + cov.T) / 2

    def save_npz(self, path: str | Path) -> Path:
        """Write ``mu`` and ``sigma`` (pytorch-fid's ``--save-stats`` layout) and ``n``."""
        mu, sigma = self.mean_cov()
        path = Path(path)
        np.savez(path, mu=mu, sigma=sigma, n=self.n)
        return path

    @classmethod
    def from_npz(cls, path: str | Path) -> FeatureStats:
        """Statistics saved by :meth:`save_npz`, pytorch-fid or clean-fid (keys ``mu``, ``sigma``).

        Raises:
            ConfigError: the file is missing or lacks ``mu`` / ``sigma`` of matching sizes.
        """
        path = Path(path)
        try:
            with np.load(path) as f:
                mu, sigma = np.asarray(f["mu"], np.float64), np.asarray(f["sigma"], np.float64)
                n = int(f["n"]) if "n" in f else 0
        except (OSError, KeyError, ValueError) as e:
            raise ConfigError(
                f"cannot read FID statistics {path} ({e}); expected an .npz with 'mu' and 'sigma'"
            ) from None
        if mu.ndim != 1 or sigma.shape != (len(mu), len(mu)):
            raise ConfigError(
                f"FID statistics {path}: mu {mu.shape} and sigma {sigma.shape} do not fit"
            )
        stats = cls(len(mu))
        stats.n = n
        stats._fixed = (mu, sigma)
        return stats


def _clean_eigenvalues(w: np.ndarray) -> np.ndarray:
    """Eigenvalues of a PSD matrix with rounding noise removed: values below ``n * eps`` of the
    largest are zero (a covariance of fewer vectors than dimensions has many exact zeros, whose
    ``+-1e-16`` noise would otherwise add ``sqrt(1e-16)``-sized terms to the trace)."""
    top = float(np.max(np.abs(w))) if w.size else 0.0
    return np.where(w > top * w.size * np.finfo(np.float64).eps, w, 0.0)


def _sqrt_psd(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(_clean_eigenvalues(w))) @ v.T


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """The Frechet distance of two Gaussians (FID when they model Inception pool3 features).

    Args:
        mu1: Mean of the first set, ``(d,)``.
        sigma1: Covariance of the first set, ``(d, d)`` (symmetric positive semi-definite).
        mu2: Mean of the second set.
        sigma2: Covariance of the second set.

    Returns:
        ``|mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr sqrt(sigma1 sigma2)`` (>= 0 up to
        rounding).

    Raises:
        InputError: the shapes do not fit.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (len(mu1), len(mu1)):
        raise InputError(
            f"FID statistics do not fit: mu {mu1.shape} / {mu2.shape}, sigma {s1.shape} / "
            f"{s2.shape}; compute both with the same network and feature layer"
        )
    root = _sqrt_psd(s1)
    m = root @ s2 @ root
    tr_covmean = float(np.sqrt(_clean_eigenvalues(np.linalg.eigvalsh((m + m.T) / 2))).sum())
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)


def frechet_distance_features(feats1: np.ndarray, feats2: np.ndarray) -> float:
    """FID straight from two feature sets, for sets smaller than the feature width.

    The same value as :func:`frechet_distance` of their means and covariances, computed in
    ``O(n1 n2 d)`` instead of ``O(d^3)``: with centred features ``X1``, ``X2`` the nonzero
    eigenvalues of ``S1 S2`` are the squared singular values of ``X1 X2^T`` over
    ``(n1 - 1)(n2 - 1)``, so ``tr sqrt(S1 S2) = |X1 X2^T|_* / sqrt((n1 - 1)(n2 - 1))`` (the
    nuclear norm), and ``tr S = |X|_F^2 / (n - 1)``.

    Raises:
        InputError: fewer than 2 vectors in a set, or different widths.
    """
    f1, f2 = np.asarray(feats1, np.float64), np.asarray(feats2, np.float64)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1]:
        raise InputError(f"FID features must be (n, d) of one width, got {f1.shape}, {f2.shape}")
    n1, n2 = len(f1), len(f2)
    if min(n1, n2) < 2:
        raise InputError(f"FID needs at least 2 images per set, got {n1} and {n2}; add images")
    m1, m2 = f1.mean(axis=0), f2.mean(axis=0)
    x1, x2 = f1 - m1, f2 - m2
    nuclear = float(np.linalg.svd(x1 @ x2.T, compute_uv=False).sum())
    tr_covmean = nuclear / math.sqrt((n1 - 1) * (n2 - 1))
    diff = m1 - m2
    tr1, tr2 = float(np.square(x1).sum()) / (n1 - 1), float(np.square(x2).sum()) / (n2 - 1)
    return float(diff @ diff + tr1 + tr2 - 2.0 * tr_covmean)


def _poly_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 of two equal-size sets with the kernel ``(x.y / d + 1)^3``."""
    m, d = x.shape
    kxx = (x @ x.T / d + 1.0) ** 3
    kyy = (y @ y.T / d + 1.0) ** 3
    kxy = (x @ y.T / d + 1.0) ** 3
    off_x = kxx.sum() - np.trace(kxx)
    off_y = kyy.sum() - np.trace(kyy)
    return float((off_x + off_y) / (m * (m - 1)) - 2.0 * kxy.sum() / (m * m))


def kernel_inception_distance(
    feats1: np.ndarray,
    feats2: np.ndarray,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 2020,
) -> tuple[float, float, int]:
    """KID: the mean and standard deviation of the unbiased polynomial-kernel MMD^2 over subsets.

    Args:
        feats1: ``(n1, d)`` features of the first set.
        feats2: ``(n2, d)`` features of the second set.
        subsets: Number of random subsets (torch-fidelity and clean-fid use 100).
        subset_size: Images per subset; ``min(subset_size, n1, n2)`` is used (torch-fidelity
            refuses sets smaller than 1000, clean-fid shrinks the subsets the same way).
        seed: Seed of ``numpy.random.RandomState`` (torch-fidelity's default is 2020).

    Returns:
        ``(mean, std, used_subset_size)``. KID may be slightly negative for two samples of the
        same distribution (the estimator is unbiased).

    Raises:
        InputError: fewer than 2 images in a set, or different feature widths.
    """
    f1, f2 = np.asarray(feats1, np.float64), np.asarray(feats2, np.float64)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1]:
        raise InputError(f"KID features must be (n, d) of one width, got {f1.shape}, {f2.shape}")
    m = min(int(subset_size), len(f1), len(f2))
    if m < 2:
        raise InputError(
            f"KID needs at least 2 images per set, got {len(f1)} and {len(f2)}; add images"
        )
    if subsets < 1:
        raise ConfigError(f"KID subsets must be >= 1, got {subsets}")
    rng = np.random.RandomState(seed)
    values = np.empty(subsets)
    for i in range(subsets):
        a = f1[rng.choice(len(f1), m, replace=False)]
        b = f2[rng.choice(len(f2), m, replace=False)]
        values[i] = _poly_mmd2(a, b)
    return float(values.mean()), float(values.std()), m


def inception_score(
    logits: np.ndarray, *, splits: int = 10, shuffle: bool = True, seed: int = 2020
) -> tuple[float, float]:
    """The Inception Score: mean and standard deviation over ``splits`` splits.

    Args:
        logits: ``(n, classes)`` logits (the bias-free 1008-way logits of the FID Inception).
        splits: Number of splits (10 in the original code and every reference).
        shuffle: Permute the images first with ``RandomState(seed)`` (torch-fidelity's default);
            False keeps the given order (the original TensorFlow code).
        seed: The permutation's seed.

    Returns:
        ``(mean, std)``.

    Raises:
        InputError: fewer images than splits.
    """
    x = np.asarray(logits)
    n = len(x)
    if splits < 1 or n < splits:
        raise InputError(
            f"the Inception Score needs at least one image per split: {n} images, {splits} "
            "splits; add images or use fewer splits"
        )
    if shuffle:
        x = x[np.random.RandomState(seed).permutation(n)]
    t = torch.from_numpy(np.ascontiguousarray(x)).double()
    p, log_p = t.softmax(dim=1), t.log_softmax(dim=1)
    scores = []
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        q = p[lo:hi].mean(dim=0, keepdim=True)
        kl = (p[lo:hi] * (log_p[lo:hi] - q.log())).sum(dim=1).mean()
        scores.append(math.exp(float(kl)))
    return float(np.mean(scores)), float(np.std(scores))


@dataclasses.dataclass
class InceptionOutputs:
    """What :class:`InceptionExtractor` collected for one set of images.

    Attributes:
        stats: Running mean / covariance of the pool3 features (always).
        features: ``(n, 2048)`` float32 pool3 features when kept (KID needs them), else None.
        logits: ``(n, 1008)`` float32 bias-free logits when kept (IS needs them), else None.
        names: The images' names in order (file names relative to the folder).
    """

    stats: FeatureStats
    features: np.ndarray | None = None
    logits: np.ndarray | None = None
    names: list[str] = dataclasses.field(default_factory=list)

    @property
    def n(self) -> int:
        return self.stats.n


def _batches(items: Sequence[object], size: int) -> Iterator[Sequence[object]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class InceptionExtractor:
    """Pool3 features and logits of the FID Inception for files, arrays or generated tensors.

    Args:
        weights: The Inception weights file (see :func:`~i2i.metrics.inception.load_inception`).
        protocol: ``tf`` (default), ``pytorch-fid`` or ``clean``.
        device: Where the network runs.
        batch_size: Images per forward pass.
        workers: Threads that decode and resize images while the network runs.
    """

    def __init__(
        self,
        weights: str | Path,
        *,
        protocol: str = "tf",
        device: str | torch.device = "cpu",
        batch_size: int = 32,
        workers: int = 2,
    ) -> None:
        preprocess(np.zeros((1, 1, 3), np.uint8), protocol)  # validates the name
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.protocol = protocol
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.workers = max(1, workers)
        # channels-last convolutions are about 1.6x faster on CPU (same results up to rounding)
        self.net = load_inception(weights, self.device).to(memory_format=torch.channels_last)

    @torch.no_grad()
    def _forward(self, batch: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        x = batch.to(self.device, torch.float32).contiguous(memory_format=torch.channels_last)
        pool3, logits = self.net(x)
        return pool3.float().cpu().numpy(), logits.float().cpu().numpy()

    def run(
        self,
        images: Iterable[np.ndarray],
        total: int,
        *,
        keep_features: bool = True,
        keep_logits: bool = False,
        progress: Progress | None = None,
        names: list[str] | None = None,
    ) -> InceptionOutputs:
        """Features of ``images`` (any :func:`~i2i.metrics.inception.to_uint8_rgb` input).

        Args:
            images: The images, consumed in batches.
            total: Their number (for progress).
            keep_features: Keep the pool3 features (KID), besides the running statistics.
            keep_logits: Keep the logits (IS).
            progress: ``progress(done, total)`` after every batch.
            names: Names to record in the result.
        """
        out = InceptionOutputs(FeatureStats(), names=list(names or []))
        feats, logits = [], []
        done = 0
        batch: list[torch.Tensor] = []

        def flush() -> None:
            nonlocal done
            f, lg = self._forward(torch.stack(batch))
            out.stats.update(f)
            if keep_features:
                feats.append(f)
            if keep_logits:
                logits.append(lg)
            done += len(batch)
            batch.clear()
            if progress is not None:
                progress(done, total)

        for img in images:
            batch.append(preprocess(img, self.protocol))
            if len(batch) == self.batch_size:
                flush()
        if batch:
            flush()
        if keep_features:
            out.features = np.concatenate(feats) if feats else np.zeros((0, FEATURE_DIM), "f4")
        if keep_logits:
            out.logits = np.concatenate(logits) if logits else None
        return out

    def files(
        self,
        paths: Sequence[Path],
        *,
        load_image: Callable[[Path, int], np.ndarray] | None = None,
        root: Path | None = None,
        **kw: object,
    ) -> InceptionOutputs:
        """Features of image files, decoded by ``load_image(path, 3)`` (i2i's reader by default:
        16-bit, grayscale and transparency handled) on ``workers`` threads. ``keep_features=None``
        keeps them for sets of at most 2048 images (their FID is then computed from them)."""
        if load_image is None:
            from i2i.datasets.image_io import read_image as load_image
        loader = load_image

        def produce() -> Iterator[np.ndarray]:
            with ThreadPoolExecutor(self.workers) as pool:
                for chunk in _batches(paths, self.batch_size * 2):
                    yield from pool.map(lambda p: loader(Path(p), 3), chunk)

        names = [p.relative_to(root).as_posix() if root else p.name for p in map(Path, paths)]
        if kw.get("keep_features") is None:  # auto: small sets keep them (exact, fast FID)
            kw["keep_features"] = len(paths) <= FEATURE_DIM
        return self.run(produce(), len(paths), names=names, **kw)  # type: ignore[arg-type]

    def folder(self, folder: str | Path, **kw: object) -> InceptionOutputs:
        """Features of every image in ``folder`` (recursively, sorted by relative path).

        Raises:
            DatasetError: the folder is missing or holds no image.
        """
        from i2i.datasets.image_io import list_images
        from i2i.errors import DatasetError

        root = Path(folder)
        paths = list_images(root)
        if not paths:
            raise DatasetError(f"no images in '{root}'; give a folder of PNG/JPEG/... images")
        return self.files(paths, root=root, **kw)  # type: ignore[arg-type]

    def tensors(
        self, images: torch.Tensor | Iterable[torch.Tensor], **kw: object
    ) -> InceptionOutputs:
        """Features of generated images: ``(N, C, H, W)`` tensors in [-1, 1] (or an iterable of
        such batches), quantized to 8 bits first, as a saved PNG would be."""
        batches = [images] if isinstance(images, torch.Tensor) else list(images)
        total = sum(int(b.shape[0]) for b in batches)

        def produce() -> Iterator[np.ndarray]:
            for b in batches:
                u8 = ((b.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
                yield from u8.permute(0, 2, 3, 1).cpu().numpy()

        return self.run(produce(), total, **kw)  # type: ignore[arg-type]
