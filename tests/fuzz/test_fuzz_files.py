"""Property-based fuzzing (Hypothesis) of what i2i reads from files a user (or an attacker) may
edit: checkpoint metadata, trainer state, config TOML and label maps. Every example ends in
success or one i2i error with a one-line message; nothing else escapes and memory stays flat
(the peak RSS of the whole property is checked).

The quick variants run in the default suite (a few fixed examples); the ``fuzz``-marked ones run
hundreds of random examples (``make fuzz``).
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from i2i.testing.fuzz import MAX_GROWTH_MB, QUICK, flat_memory, json_values, long, outcome
from i2i.training.checkpoint import find_checkpoint, load_model, read_header
from i2i.training.run import resolve_run_config


def _leaves(tree: dict, prefix: tuple = ()) -> list[tuple]:
    out = []
    for k, v in tree.items():
        if isinstance(v, dict):
            out += _leaves(v, (*prefix, k))
        else:
            out.append((*prefix, k))
    return out


def _set(tree: dict, path: tuple, value: Any) -> None:
    for k in path[:-1]:
        tree = tree[k]
    tree[path[-1]] = value


# -- checkpoint metadata -----------------------------------------------------------------------


def metadata(base: dict[str, str]) -> st.SearchStrategy[dict[str, str]]:
    cfg = json.loads(base["i2i_run_config"])
    edits = st.lists(st.tuples(st.sampled_from(_leaves(cfg)), json_values), max_size=4)

    def edited(changes: list) -> str:
        c = json.loads(base["i2i_run_config"])
        for path, value in changes:
            _set(c, path, value)
        return json.dumps(c)

    config = st.one_of(
        edits.map(edited),
        edits.map(edited),  # (twice as likely as the others)
        st.text(max_size=80),
        json_values.map(json.dumps),
        st.just("[" * 100_000),
    )
    keys = ["i2i_family", "i2i_run_config", "i2i_step", "i2i_version"]
    return st.fixed_dictionaries(
        {
            "i2i_family": st.one_of(
                st.just(base["i2i_family"]), st.sampled_from(["pix2pix", "spade", ""]),
                st.text(max_size=20),
            ),
            "i2i_run_config": config,
            "i2i_step": st.one_of(st.just(base["i2i_step"]), st.text(max_size=12),
                                  st.integers(-5, 10**14).map(str)),
            "i2i_version": st.text(max_size=10),
            "drop": st.sets(st.sampled_from(keys), max_size=2),
        }
    ).map(lambda d: {k: v for k, v in d.items() if k != "drop" and k not in d["drop"]})  # fmt: skip


def _check_metadata(ctx, run: Path, meta: dict[str, str]) -> None:
    src = find_checkpoint(run)
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "model.safetensors"
        save_file(load_file(str(src)), str(f), metadata={"format": "pt", **meta})
        outcome(lambda: load_model(ctx, f))


def _base_meta(run: Path) -> dict[str, str]:
    with safe_open(str(find_checkpoint(run)), "pt") as sf:
        return dict(sf.metadata())


def test_checkpoint_metadata_quick(ctx, one_step_run) -> None:
    @QUICK
    @given(metadata(_base_meta(one_step_run)))
    def prop(meta):
        _check_metadata(ctx, one_step_run, meta)

    with flat_memory():
        prop()


@pytest.mark.fuzz
def test_checkpoint_metadata_long(ctx, one_step_run) -> None:
    @long(400)
    @given(metadata(_base_meta(one_step_run)))
    def prop(meta):
        _check_metadata(ctx, one_step_run, meta)

    with flat_memory():
        prop()


# -- trainer state (resume) --------------------------------------------------------------------


def _mutations(state: dict) -> st.SearchStrategy[list]:
    paths = []

    def walk(node: Any, path: tuple) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                paths.append((*path, k))
                walk(v, (*path, k))

    walk(state, ())
    tensors = st.builds(
        lambda shape, fill: torch.full(tuple(shape), fill),
        st.lists(st.integers(0, 4), max_size=3),
        st.floats(allow_nan=True, allow_infinity=True, width=32),
    )
    value = st.one_of(json_values, tensors)
    op = st.one_of(
        st.tuples(st.just("set"), st.sampled_from(paths), value),
        st.tuples(st.just("drop"), st.sampled_from(paths), st.none()),
    )
    return st.lists(op, min_size=1, max_size=3)


def _apply(state: dict, ops: list) -> dict:
    import copy

    state = copy.deepcopy(state)
    for kind, path, value in ops:
        node = state
        for k in path[:-1]:
            if not isinstance(node, dict) or k not in node:
                break
            node = node[k]
        else:
            if isinstance(node, dict):
                if kind == "drop":
                    node.pop(path[-1], None)
                else:
                    node[path[-1]] = value
    return state


def _check_resume(ctx, demo_data, run: Path, ops: list) -> None:
    from i2i.training.building import build_model
    from i2i.training.resume import restore
    from i2i.training.trainer import TrainStep

    spec = ctx.models.get("cyclegan")
    train = {"size": 32, "load_size": 36, "workers": 0, "device": "cpu", "steps": 3}
    rc = resolve_run_config(spec, demo_data("unpaired"), train_options=train,
                            overrides=list(spec.tiny))  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "run"
        shutil.copytree(run, copy)
        f = find_checkpoint(copy).parent / "trainer.pt"
        torch.save(_apply(torch.load(f, weights_only=True), ops), f)
        header = read_header(copy)
        model = build_model(spec, rc.model, ctx, header)
        outcome(lambda: restore(TrainStep(model, torch.device("cpu")), header))


def test_trainer_state_quick(ctx, demo_data, one_step_run) -> None:
    state = torch.load(find_checkpoint(one_step_run).parent / "trainer.pt", weights_only=True)

    @QUICK
    @given(_mutations(state))
    def prop(ops):
        _check_resume(ctx, demo_data, one_step_run, ops)

    with flat_memory():
        prop()


@pytest.mark.fuzz
def test_trainer_state_long(ctx, demo_data, one_step_run) -> None:
    state = torch.load(find_checkpoint(one_step_run).parent / "trainer.pt", weights_only=True)

    @long(80)
    @given(_mutations(state))
    def prop(ops):
        _check_resume(ctx, demo_data, one_step_run, ops)

    with flat_memory():
        prop()


# -- config TOML -------------------------------------------------------------------------------

toml_scalars = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.booleans(),
    st.datetimes(),
)


def toml_documents(ctx) -> st.SearchStrategy[bytes]:
    from i2i.config import TrainConfig, describe

    spec = ctx.models.get("cyclegan")
    keys = ["train." + k for k, _, _ in describe(TrainConfig)]
    keys += ["model." + k for k, _, _ in describe(spec.config_cls)]
    keys += ["family", "data", "train", "model", "unknown.key", "model.generator"]
    value = st.recursive(
        toml_scalars,
        lambda inner: st.one_of(st.lists(inner, max_size=3),
                                st.dictionaries(st.text(max_size=6), inner, max_size=2)),
        max_leaves=4,
    )  # fmt: skip

    def document(items: list) -> bytes:
        doc: dict = {}
        for key, v in items:
            node = doc
            parts = key.split(".")
            for p in parts[:-1]:
                nxt = node.setdefault(p, {})
                if not isinstance(nxt, dict):
                    break
                node = nxt
            else:
                node[parts[-1]] = v
        return tomli_w.dumps(doc).encode()

    return st.one_of(
        st.lists(st.tuples(st.sampled_from(keys), value), max_size=6).map(document),
        st.binary(max_size=200),
        st.text(max_size=200).map(str.encode),
    )


def _check_toml(spec, data: Path, raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "c.toml"
        f.write_bytes(raw)
        outcome(lambda: resolve_run_config(spec, data, config_file=f))


def test_config_toml_quick(ctx, demo_data) -> None:
    spec, data = ctx.models.get("cyclegan"), demo_data("unpaired")

    @QUICK
    @given(toml_documents(ctx))
    def prop(raw):
        _check_toml(spec, data, raw)

    with flat_memory():
        prop()


@pytest.mark.fuzz
def test_config_toml_long(ctx, demo_data) -> None:
    spec, data = ctx.models.get("cyclegan"), demo_data("unpaired")

    @long(400)
    @given(toml_documents(ctx))
    def prop(raw):
        _check_toml(spec, data, raw)

    with flat_memory():
        prop()


# -- label maps --------------------------------------------------------------------------------

label_case = st.fixed_dictionaries(
    {
        "mode": st.sampled_from(["L", "I;16", "P", "RGB", "RGBA", "1", "F"]),
        "size": st.tuples(st.integers(1, 40), st.integers(1, 40)),
        "image_size": st.one_of(st.none(), st.tuples(st.integers(1, 40), st.integers(1, 40))),
        "max_id": st.integers(0, 65535),
        "label_nc": st.one_of(st.none(), st.integers(-3, 300)),
        "dontcare": st.one_of(st.none(), st.integers(-3, 300)),
        "palette": st.sampled_from([None, None, None, "0 0 0 0 sky\n1 255 0 0 road\n", ""])
        | st.text(max_size=60),
        "seed": st.integers(0, 2**16),
    }
)  # fmt: skip


def _check_labelmap(ctx, case: dict) -> None:
    from i2i.specs import DataOptions

    rng = np.random.default_rng(case["seed"])
    h, w = case["size"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "train" / "images").mkdir(parents=True)
        (root / "train" / "labels").mkdir(parents=True)
        ih, iw = case["image_size"] or (h, w)
        Image.fromarray(rng.integers(0, 255, (ih, iw, 3), np.uint8)).save(
            root / "train" / "images" / "a.png"
        )
        ids = rng.integers(0, case["max_id"] + 1, (h, w))
        mode = case["mode"]
        if mode == "RGB" or mode == "RGBA":
            arr = rng.integers(0, 255, (h, w, len(mode)), np.uint8)
            img = Image.fromarray(arr, mode)
        elif mode == "I;16":
            img = Image.fromarray(ids.astype(np.uint16))
        elif mode == "F":
            img = Image.fromarray(ids.astype(np.float32))
        else:
            img = Image.fromarray((ids % 256).astype(np.uint8)).convert(mode)
        img.save(root / "train" / "labels" / ("a.tiff" if mode == "F" else "a.png"))
        if case["palette"] is not None:
            (root / "palette.txt").write_text(case["palette"])
        params = {k: case[k] for k in ("label_nc", "dontcare") if case[k] is not None}
        fmt = ctx.dataset_formats.get("labelmap")
        opts = DataOptions(size=16, load_size=18, channels={"image": 3},
                           load_image=ctx.load_image, params=params)  # fmt: skip

        def run() -> None:
            fmt.validate(root, opts)
            ds = fmt.build(root, opts)
            item = ds[(0, case["seed"])]
            label = item["label"]
            assert label.dtype == torch.int64 and label.shape[-2:] == (16, 16)
            n = params.get("label_nc", 0)
            if n > 0:
                ok = (label >= 0) & (label < n)
                if params.get("dontcare", -1) >= 0:
                    ok |= label == params["dontcare"]
                assert bool(ok.all()), "validation let an out-of-range id through"

        outcome(run)


def test_label_maps_quick(ctx) -> None:
    @QUICK
    @given(label_case)
    def prop(case):
        _check_labelmap(ctx, case)

    with flat_memory():
        prop()


@pytest.mark.fuzz
def test_label_maps_long(ctx) -> None:
    @long(250)
    @given(label_case)
    def prop(case):
        _check_labelmap(ctx, case)

    with flat_memory():
        prop()


def test_property_helpers() -> None:
    """The harness itself fails on a non-i2i exception and on a multi-line message."""
    from i2i.errors import ConfigError

    assert isinstance(outcome(lambda: (_ for _ in ()).throw(ConfigError("x"))), ConfigError)
    with pytest.raises(ZeroDivisionError):
        outcome(lambda: 1 / 0)
    with pytest.raises(AssertionError):
        outcome(lambda: (_ for _ in ()).throw(ConfigError("a\nb")))
    assert math.isfinite(MAX_GROWTH_MB)
