from __future__ import annotations

import pytest
import torch

from i2i.errors import CheckpointError, ConfigError, InputError
from i2i.nn import ImagePool


def _img(v: float, n: int = 1) -> torch.Tensor:
    return torch.full((n, 2, 4, 4), float(v))


def test_size_zero_passthrough() -> None:
    pool = ImagePool(0)
    x = _img(1.0)
    assert pool.query(x) is x
    assert len(pool) == 0


def test_fills_then_mixes() -> None:
    pool = ImagePool(3, seed=0)
    for v in range(3):
        assert torch.equal(pool.query(_img(v)), _img(v))
    assert len(pool) == 3
    old, new = 0, 0
    for v in range(10, 40):
        out = pool.query(_img(v))
        if torch.equal(out, _img(v)):
            new += 1
        else:
            old += 1
            assert out[0, 0, 0, 0].item() < v  # an earlier image
    assert old > 0 and new > 0
    assert len(pool) == 3


def test_batches_are_split_and_detached() -> None:
    pool = ImagePool(2)
    x = torch.cat([_img(0), _img(1), _img(2), _img(3)]).requires_grad_(True)
    out = pool(x)
    assert out.shape == x.shape and not out.requires_grad
    assert torch.equal(out[:2], x[:2].detach())
    assert len(pool) == 2


def test_state_round_trip_continues_identically() -> None:
    a = ImagePool(4, seed=7)
    torch.manual_seed(0)
    batches = [torch.randn(2, 2, 4, 4) for _ in range(12)]
    for x in batches[:5]:
        a.query(x)
    state = {k: v.clone() for k, v in a.state().items()}
    assert int(state["count"]) == 4 and state["images"].shape == (4, 2, 4, 4)
    b = ImagePool(4, seed=123)
    b.load_state(state)
    for x in batches[5:]:
        assert torch.equal(a.query(x), b.query(x))


def test_state_survives_safetensors() -> None:
    st = pytest.importorskip("safetensors.torch")
    for n_queries in (0, 3):
        a = ImagePool(2, seed=1)
        for v in range(n_queries):
            a.query(_img(v))
        b = ImagePool(2, seed=99)
        b.load_state(st.load(st.save(a.state())))
        for v in range(10, 20):
            assert torch.equal(a.query(_img(v)), b.query(_img(v)))


def test_errors() -> None:
    with pytest.raises(ConfigError, match="pool_size"):
        ImagePool(-1)
    pool = ImagePool(2)
    pool.query(_img(0))
    with pytest.raises(InputError, match="shape"):
        pool.query(torch.zeros(1, 2, 8, 8))
    with pytest.raises(CheckpointError, match="rng"):
        pool.load_state({"images": torch.zeros(0), "count": torch.tensor(0)})
    big = ImagePool(3)
    for v in range(3):
        big.query(_img(v))
    with pytest.raises(CheckpointError, match="pool_size"):
        pool.load_state(big.state())
