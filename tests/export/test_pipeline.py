"""The folder pipeline: batching, bit depths, grayscale, formats, resuming, failures, tiling."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import i2i
from i2i.datasets.image_io import read_image, write_image
from i2i.errors import ConfigError, ImageReadError
from i2i.export.engine import Engine
from i2i.export.translate import translate_folder
from i2i.manager import load_context
from i2i.specs import InferenceInfo
from i2i_runtime.imageio import is_sixteen_bit
from i2i_runtime.pipeline import parse_bit_depth, run_folder


class Identity(Engine):
    """Returns its input: the pipeline's I/O can be checked exactly. Records every call."""

    name = "identity"
    description = "identity (test)"

    def __init__(self, channels: int = 3, stride: int = 1, max_pixels: int = 0) -> None:
        self.info = InferenceInfo(("image",), channels, channels, stride=stride)
        self.max_pixels = max_pixels
        self.calls: list[tuple[int, ...]] = []
        self.thread_ids: set[int] = set()

    def run(self, x: np.ndarray) -> np.ndarray:
        self.calls.append(x.shape)
        self.thread_ids.add(threading.get_ident())
        return x.copy()


def rgb(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w, 3), dtype=np.float32)


def raw16(path: Path) -> np.ndarray:
    """The stored uint16 samples of a 16-bit PNG/TIFF (HxW or HxWx3 in RGB order)."""
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert arr is not None and arr.dtype == np.uint16, (path, None if arr is None else arr.dtype)
    return arr[:, :, ::-1] if arr.ndim == 3 else arr


def write_files(folder: Path, sizes: list[tuple[int, int]]) -> list[Path]:
    paths = []
    for i, (h, w) in enumerate(sizes):
        paths.append(write_image(folder / f"{i:02d}.png", rgb(h, w, seed=i)))
    return paths


def test_batches_consecutive_same_size_images(tmp_path) -> None:
    sizes = [(20, 30)] * 6 + [(24, 16), (20, 30), (20, 30)]
    inputs = write_files(tmp_path / "in", sizes)
    outputs = [tmp_path / "out" / p.name for p in inputs]
    engine = Identity()
    res = run_folder(engine, inputs, outputs, batch_size=4)
    assert [c[0] for c in engine.calls] == [4, 2, 1, 2]
    assert res.batches == 4 and res.written == outputs and not res.failed
    assert engine.thread_ids == {threading.get_ident()}  # inference in the calling thread
    for src, dst in zip(inputs, outputs, strict=True):
        np.testing.assert_array_equal(np.asarray(Image.open(dst)), np.asarray(Image.open(src)))
    assert res.images_per_s > 0 and res.seconds > 0
    # a pixel budget also ends a batch; no worker threads works the same
    engine = Identity()
    run_folder(engine, inputs[:4], outputs[:4], batch_size=4, max_batch_pixels=1300,
               decode_workers=0, encode_workers=0)  # fmt: skip
    assert [c[0] for c in engine.calls] == [2, 2]


def test_sixteen_bit_round_trip(tmp_path) -> None:
    rng = np.random.default_rng(0)
    color16 = rng.integers(0, 65536, (21, 33, 3), dtype=np.uint16)
    gray16 = rng.integers(0, 65536, (21, 33, 1), dtype=np.uint16)
    src = tmp_path / "in"
    write_image(src / "color.png", color16 / 65535.0, bit_depth=16)
    write_image(src / "color.tif", color16 / 65535.0, bit_depth=16)
    write_image(src / "eight.png", rgb(21, 33))
    assert is_sixteen_bit(src / "color.png") and is_sixteen_bit(src / "color.tif")
    assert not is_sixteen_bit(src / "eight.png")
    inputs = sorted(src.iterdir())
    outputs = [tmp_path / "out" / (p.name + ".png") for p in inputs]
    res = run_folder(Identity(), inputs, outputs)
    assert len(res.written) == 3
    np.testing.assert_array_equal(raw16(tmp_path / "out" / "color.png.png"), color16)
    np.testing.assert_array_equal(raw16(tmp_path / "out" / "color.tif.png"), color16)
    assert Image.open(tmp_path / "out" / "eight.png.png").mode == "RGB"  # 8 bit stays 8 bit

    # a 1-channel model keeps 16-bit grayscale as 16-bit grayscale
    write_image(tmp_path / "g" / "gray.png", gray16 / 65535.0, bit_depth=16)
    out = tmp_path / "gout" / "gray.png"
    run_folder(Identity(channels=1), [tmp_path / "g" / "gray.png"], [out])
    assert Image.open(out).mode.startswith("I;16")
    np.testing.assert_array_equal(raw16(out), gray16[:, :, 0])

    # forced depths
    run_folder(Identity(), [src / "eight.png"], [tmp_path / "f16.png"], bit_depth=16)
    assert raw16(tmp_path / "f16.png").max() % 257 == 0
    run_folder(Identity(), [src / "color.png"], [tmp_path / "f8.png"], bit_depth="8")
    assert Image.open(tmp_path / "f8.png").mode == "RGB"
    with pytest.raises(ConfigError, match="auto, 8 or 16"):
        parse_bit_depth(12)


def test_grayscale_model_writes_one_channel(tmp_path) -> None:
    src = tmp_path / "in"
    write_image(src / "gray.png", rgb(16, 16)[:, :, :1])
    write_image(src / "color.png", rgb(16, 16, seed=3))
    inputs = [src / "gray.png", src / "color.png"]
    outputs = [tmp_path / "out" / p.name for p in inputs]
    run_folder(Identity(channels=1), inputs, outputs)
    for src_path, dst in zip(inputs, outputs, strict=True):
        assert Image.open(dst).mode == "L"
        np.testing.assert_allclose(read_image(dst, 1), read_image(src_path, 1), atol=0.5 / 255)


def test_jpeg_and_tiff_inputs(tmp_path) -> None:
    src = tmp_path / "in"
    write_image(src / "a.jpg", rgb(30, 20))
    write_image(src / "b.tiff", rgb(30, 20, seed=1))
    write_image(src / "c.tif", rgb(30, 20, seed=2)[:, :, :1])
    inputs = sorted(src.iterdir())
    outputs = [tmp_path / "out" / p.with_suffix(".png").name for p in inputs]
    res = run_folder(Identity(), inputs, outputs)
    assert len(res.written) == 3
    for src_path, dst in zip(inputs, outputs, strict=True):
        assert Image.open(dst).mode == "RGB"
        np.testing.assert_allclose(read_image(dst), read_image(src_path), atol=0.5 / 255)


def test_unreadable_images_are_reported_or_fatal(tmp_path) -> None:
    inputs = write_files(tmp_path / "in", [(16, 16)] * 3)
    inputs.insert(1, tmp_path / "in" / "bad.png")
    inputs[1].write_bytes(b"not an image at all")
    outputs = [tmp_path / "out" / p.name for p in inputs]
    done: list[tuple[int, int, float]] = []
    res = run_folder(Identity(), inputs, outputs, progress=lambda *a: done.append(a))
    assert [p for p, _ in res.failed] == [inputs[1]]
    assert "bad.png" in res.failed[0][1] and "\n" not in res.failed[0][1]
    assert res.written == [outputs[0], outputs[2], outputs[3]]
    assert [d[:2] for d in done] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert all(d[2] > 0 for d in done)
    with pytest.raises(ImageReadError, match="bad.png"):
        run_folder(Identity(), inputs, [tmp_path / "strict" / p.name for p in inputs],
                   strict=True)  # fmt: skip


def test_too_large_image_needs_tiles(tmp_path) -> None:
    inputs = write_files(tmp_path / "in", [(16, 16), (40, 50), (16, 16)])
    outputs = [tmp_path / "out" / p.name for p in inputs]
    engine = Identity(stride=4, max_pixels=1000)
    res = run_folder(engine, inputs, outputs)
    assert [p for p, _ in res.failed] == [inputs[1]] and "--tile" in res.failed[0][1]
    # with tiles the large image goes through in 16x16 pieces, identical to the input
    engine = Identity(stride=4, max_pixels=1000)
    res = run_folder(engine, inputs[1:2], outputs[1:2], tile=16, overlap=4)
    assert not res.failed and max(c[2] * c[3] for c in engine.calls) == 256
    np.testing.assert_allclose(read_image(outputs[1]), read_image(inputs[1]), atol=0.5 / 255)
    with pytest.raises(ConfigError, match="multiple of the network stride 4"):
        run_folder(engine, inputs, outputs, tile=18, overlap=4)


def test_memory_stays_bounded(tmp_path) -> None:
    inputs = write_files(tmp_path / "in", [(8, 8)] * 30)
    outputs = [tmp_path / "out" / p.name for p in inputs]
    decoded, ahead = [0], []

    def load(path: Path, channels: int) -> np.ndarray:
        decoded[0] += 1
        return read_image(path, channels)

    class Slow(Identity):
        seen = 0

        def run(self, x: np.ndarray) -> np.ndarray:
            ahead.append(decoded[0] - self.seen)
            self.seen += x.shape[0]
            threading.Event().wait(0.005)
            return x

    res = run_folder(Slow(), inputs, outputs, batch_size=2, queue_size=3, load_image=load)
    assert len(res.written) == 30
    assert max(ahead) <= 3 + 2  # never more than queue_size decoded beyond the batch


class EnginePlugin:
    """Supplies an Identity engine for ``*.identity`` sources (through the decision hook)."""

    @i2i.hookimpl
    def i2i_open_engine(self, source, options):
        return Identity() if source.suffix == ".identity" else None


def test_translate_folder_mirrors_tree_and_resumes(tmp_path) -> None:
    ctx = load_context(entry_points=False, extra=[("identity_engine", EnginePlugin())])
    src, out = tmp_path / "in", tmp_path / "out"
    write_image(src / "a.png", rgb(20, 20))
    write_image(src / "sub" / "b.jpg", rgb(24, 20, seed=1))
    write_image(src / "sub" / "deeper" / "c.tif", rgb(20, 20, seed=2), bit_depth=16)
    model = tmp_path / "model.identity"
    seen: list[tuple[int, int]] = []
    res = translate_folder(ctx, model, src, out, progress=lambda d, t: seen.append((d, t)))
    rels = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert rels == ["a.png", "sub/b.png", "sub/deeper/c.png"]
    assert len(res.written) == 3 and res.engine == "identity (test)" and seen[-1] == (3, 3)
    assert Image.open(out / "sub" / "deeper" / "c.png").mode.startswith(("I;16", "RGB"))
    assert is_sixteen_bit(out / "sub" / "deeper" / "c.png")

    res = translate_folder(ctx, model, src, out)  # everything done: nothing to redo
    assert res.written == [] and len(res.skipped_existing) == 3
    (out / "sub" / "b.png").unlink()
    rates: list[tuple[int, int, float]] = []
    res = translate_folder(ctx, model, src, out, progress=lambda *a: rates.append(a))
    assert res.written == [out / "sub" / "b.png"] and len(res.skipped_existing) == 2
    assert [r[:2] for r in rates] == [(2, 3), (3, 3)]
    res = translate_folder(ctx, model, src, out, overwrite=True, workers=0, batch_size=1)
    assert len(res.written) == 3 and not res.skipped_existing
    with pytest.raises(ConfigError, match="--tile 8 must be larger than twice --overlap 4"):
        translate_folder(ctx, model, src, out, tile=8, overlap=4)


def test_out_of_memory_retries_one_image_at_a_time(tmp_path) -> None:
    import torch

    from i2i.errors import InputError
    from i2i.export.engine import TorchEngine

    class BigBatchesDoNotFit(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.shape[0] > 1:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
            return x

    info = InferenceInfo(("image",), 3, 3)
    engine = TorchEngine(BigBatchesDoNotFit(), info, "cpu")
    with pytest.raises(InputError, match="ran out of GPU memory.*smaller --batch-size"):
        engine(np.zeros((2, 3, 8, 8), np.float32))
    inputs = write_files(tmp_path / "in", [(16, 16)] * 7)
    res = run_folder(engine, inputs, [tmp_path / "out" / p.name for p in inputs], batch_size=4)
    assert len(res.written) == 7 and not res.failed
    # 4 refused, then singly; then batches of 2 (refused, singly) and then of 1
    assert res.batches == 1 + 4 + 1 + 2 + 1
