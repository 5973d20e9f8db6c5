"""Tests of the classifier-based metrics (accuracy, cache, nearest neighbours)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from i2i.datasets import build_classes, make_classes_demo
from i2i.metrics import classifier as clf
from i2i.specs import DataOptions


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.Tensor, torch.Tensor]:
    out = tmp_path_factory.mktemp("cls") / "demo"
    make_classes_demo(out, seed=0, n_per_class=60, n_test_per_class=0, size=32)
    ds = build_classes(out, DataOptions(size=32, load_size=32, channels={"image": 3}, flip=False))
    items = [ds[i] for i in range(len(ds))]
    return torch.stack([it["image"] for it in items]), torch.stack([it["class"] for it in items])


def test_train_reaches_accuracy(demo_data: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = demo_data
    model, acc = clf.train_classifier(x, y, 4, epochs=20, batch_size=32, rotate=True, width=16)
    assert acc > 0.6
    overall, per_class = clf.class_accuracy(model, x, y, 4)
    assert len(per_class) == 4 and overall > 0.7


def _tiny() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.rand(16, 1, 8, 8, generator=g) * 2 - 1, torch.arange(16) % 2


def test_deterministic() -> None:
    x, y = _tiny()
    a, acc_a = clf.train_classifier(x, y, 2, epochs=2, batch_size=8, width=4)
    b, acc_b = clf.train_classifier(x, y, 2, epochs=2, batch_size=8, width=4)
    assert acc_a == acc_b
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb)


def test_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = _tiny()
    calls = []
    real = clf.train_classifier

    def counting(*args: object, **kw: object) -> tuple[clf.SmallClassifier, float]:
        calls.append(1)
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(clf, "train_classifier", counting)
    path = tmp_path / "c" / "clf.safetensors"
    kw = {"epochs": 1, "batch_size": 8, "width": 4}
    m1, a1 = clf.load_or_train_classifier(path, x, y, 2, "fp1", **kw)
    m2, a2 = clf.load_or_train_classifier(path, x, y, 2, "fp1", **kw)
    assert len(calls) == 1 and a1 == a2
    for p1, p2 in zip(m1.state_dict().values(), m2.state_dict().values(), strict=True):
        assert torch.equal(p1.cpu(), p2)
    clf.load_or_train_classifier(path, x, y, 2, "fp2", **kw)
    assert len(calls) == 2
    assert [p.name for p in path.parent.iterdir()] == ["clf.safetensors"]
    path.write_bytes(b"garbage")
    clf.load_or_train_classifier(path, x, y, 2, "fp2", **kw)
    assert len(calls) == 3


def test_class_accuracy_nan_for_missing_class() -> None:
    x, y = _tiny()
    model, _ = clf.train_classifier(x, y, 3, epochs=1, batch_size=8, width=4)
    overall, per_class = clf.class_accuracy(model, x, y, 3)
    assert len(per_class) == 3 and per_class[2] != per_class[2] and 0 <= overall <= 1


def test_nearest_neighbours_duplicate() -> None:
    g = torch.Generator().manual_seed(1)
    ref = torch.rand(50, 3, 8, 8, generator=g) * 2 - 1
    samples = torch.cat([ref[[7, 42]], torch.rand(1, 3, 8, 8, generator=g)])
    idx, dist = clf.nearest_neighbours(samples, ref, k=3, batch_size=16)
    assert idx.shape == (3, 3) and dist.shape == (3, 3)
    assert idx[:, 0].tolist()[:2] == [7, 42] and dist[:2, 0].tolist() == [0.0, 0.0]
    assert torch.all(dist[:, 1:] >= dist[:, :-1])
    brute = torch.cdist(samples.flatten(1), ref.flatten(1)).argmin(1)
    assert torch.equal(idx[:, 0], brute)
    grid = clf.neighbour_grid(samples, ref, idx)
    assert grid.shape == (3, 3 * 10 - 2, 4 * 10 - 2)


def test_fingerprint(tmp_path: Path) -> None:
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    a.write_bytes(b"1")
    b.write_bytes(b"22")
    fp = clf.dataset_fingerprint([a, b])
    assert fp == clf.dataset_fingerprint([b, a]) and len(fp) == 32
    b.write_bytes(b"333")
    assert clf.dataset_fingerprint([a, b]) != fp
