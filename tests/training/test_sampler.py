from __future__ import annotations

import itertools

import pytest

from i2i.errors import DatasetError
from i2i.training.sampler import ResumableBatchSampler, steps_per_epoch


def take(sampler: ResumableBatchSampler, n: int) -> list:
    return list(itertools.islice(iter(sampler), n))


def test_resume_continues_exactly() -> None:
    full = take(ResumableBatchSampler(10, 2, seed=3), 12)  # crosses two epoch boundaries
    tail = take(ResumableBatchSampler(10, 2, seed=3, start_step=7), 5)
    assert full[7:] == tail


def test_epochs_are_permutations_and_differ() -> None:
    s = ResumableBatchSampler(8, 2, seed=0)
    b = take(s, 8)
    e0 = sorted(i for batch in b[:4] for i, _ in batch)
    e1 = [i for batch in b[4:] for i, _ in batch]
    assert e0 == list(range(8))
    assert sorted(e1) == list(range(8)) and e1 != [i for batch in b[:4] for i, _ in batch]
    seeds = [sd for batch in b for _, sd in batch]
    assert len(set(seeds)) == len(seeds)


def test_shards_are_disjoint_and_cover() -> None:
    r0 = take(ResumableBatchSampler(8, 2, seed=1, rank=0, world_size=2), 2)
    r1 = take(ResumableBatchSampler(8, 2, seed=1, rank=1, world_size=2), 2)
    idx = [i for b in r0 + r1 for i, _ in b]
    assert sorted(idx) == list(range(8))


def test_small_and_empty() -> None:
    assert steps_per_epoch(3, 4) == 1
    assert len(take(ResumableBatchSampler(3, 4, seed=0), 1)[0]) == 4
    with pytest.raises(DatasetError):
        ResumableBatchSampler(0, 1, seed=0)
