"""A resumable, shardable batch sampler.

It yields lists of ``(index, seed)`` keys forever, epoch after epoch. The order of epoch ``e`` is a
permutation drawn from ``seed`` and ``e``; every sample's augmentation seed is derived from the
run seed, the epoch and its position. So the data a run sees depends only on the seed and the
step, and a resumed run sees exactly what an uninterrupted one would, with any number of
DataLoader workers.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from i2i.errors import DatasetError


def steps_per_epoch(n: int, batch_size: int, world_size: int = 1) -> int:
    """Batches per epoch on each rank (incomplete last batches are dropped)."""
    return max(1, n // (batch_size * world_size)) if n >= batch_size * world_size else 1


def sample_seed(seed: int, epoch: int, position: int) -> int:
    """Deterministic 63-bit seed of one sample."""
    x = (seed * 0x9E3779B97F4A7C15 + epoch * 0xBF58476D1CE4E5B9 + position) & (2**64 - 1)
    x ^= x >> 31
    x = (x * 0x94D049BB133111EB) & (2**64 - 1)
    x ^= x >> 29
    return x & (2**63 - 1)


class ResumableBatchSampler:
    """Infinite batch sampler starting at a global step.

    Args:
        n: Dataset length.
        batch_size: Samples per batch on this rank.
        seed: Run seed.
        start_step: Global step to start at (batches already consumed on each rank).
        rank: This process's rank.
        world_size: Number of processes; each takes its own share of every epoch.
        shuffle: Shuffle every epoch (else sequential order).

    Raises:
        DatasetError: the dataset is empty.
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        seed: int,
        start_step: int = 0,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
    ) -> None:
        if n <= 0:
            raise DatasetError("the dataset is empty; add images to the training folders")
        self.n = n
        self.batch_size = batch_size
        self.seed = seed
        self.start_step = start_step
        self.rank = rank
        self.world_size = world_size
        self.shuffle = shuffle
        self.steps_per_epoch = steps_per_epoch(n, batch_size, world_size)

    def epoch_order(self, epoch: int) -> list[int]:
        """The index order of ``epoch`` (before sharding)."""
        if not self.shuffle:
            order = list(range(self.n))
        else:
            g = torch.Generator().manual_seed(sample_seed(self.seed, epoch, -1) % (2**62))
            order = torch.randperm(self.n, generator=g).tolist()
        need = self.steps_per_epoch * self.batch_size * self.world_size
        while len(order) < need:  # tiny datasets: wrap around
            order = order + order
        return order

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        step = self.start_step
        per_step = self.batch_size * self.world_size
        while True:
            epoch, k = divmod(step, self.steps_per_epoch)
            order = self.epoch_order(epoch)
            while k < self.steps_per_epoch:
                base = k * per_step + self.rank * self.batch_size
                yield [
                    (order[p], sample_seed(self.seed, epoch, p))
                    for p in range(base, base + self.batch_size)
                ]
                k += 1
                step += 1
