from __future__ import annotations

import numpy as np
import pytest

from i2i.datasets.image_io import read_image, write_image
from i2i.errors import ConfigError
from i2i.export.translate import output_paths, translate_folder


def test_output_paths_formats(tmp_path) -> None:
    ins = [tmp_path / "in" / "a.jpg", tmp_path / "in" / "a.png", tmp_path / "in" / "s" / "b.tif"]
    out = tmp_path / "out"
    assert output_paths(ins, tmp_path / "in", out) == [
        out / "a.jpg.png", out / "a.png.png", out / "s" / "b.png"
    ]  # fmt: skip
    assert output_paths(ins, tmp_path / "in", out, "same") == [
        out / "a.jpg", out / "a.png", out / "s" / "b.tif"
    ]  # fmt: skip
    assert output_paths(ins[2:], tmp_path / "in", out, "jpg") == [out / "s" / "b.jpg"]
    with pytest.raises(ConfigError, match="unknown output format 'gif'"):
        output_paths(ins, tmp_path / "in", out, "gif")


def test_translate_writes_jpeg_tiff_and_16_bit(ctx, demo_data, tiny_run, tmp_path) -> None:
    run = tmp_path / "run"
    tiny_run("cyclegan", demo_data("unpaired"), run, steps=1)
    src = tmp_path / "in"
    rng = np.random.default_rng(0)
    write_image(src / "deep.png", rng.random((33, 41, 3), np.float32), bit_depth=16)
    write_image(src / "photo.jpg", rng.random((30, 20, 3), np.float32))
    for fmt, suffixes in (("jpg", {".jpg"}), ("tiff", {".tif"}), ("same", {".png", ".jpg"})):
        out = tmp_path / f"out-{fmt}"
        res = translate_folder(ctx, run, src, out, device="cpu", out_format=fmt)
        assert len(res.written) == 2 and {p.suffix for p in res.written} == suffixes
        for p in res.written:
            assert read_image(p, 3).shape[:2] in ((33, 41), (30, 20))
    # a 16-bit input gives a 16-bit output where the format allows it (PNG, TIFF), not JPEG
    import cv2

    def dtype(p):
        return cv2.imread(str(p), cv2.IMREAD_UNCHANGED).dtype

    assert dtype(tmp_path / "out-tiff" / "deep.tif") == np.uint16
    assert dtype(tmp_path / "out-same" / "deep.png") == np.uint16
    assert dtype(tmp_path / "out-tiff" / "photo.tif") == np.uint8
    assert dtype(tmp_path / "out-jpg" / "deep.jpg") == np.uint8
