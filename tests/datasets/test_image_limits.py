"""Image sizes are checked from the header before decoding, everywhere images are read: a small
file claiming a huge image (an 840 KB PNG of 12000 x 12000 16-bit pixels) is refused in one line
without allocating gigabytes; the limit can be raised; what decoding costs is bounded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from i2i.datasets.folders import FolderDataset
from i2i.errors import ImageReadError, ImageTooLargeError
from i2i.specs import DataOptions
from i2i_runtime.imageio import check_image, read_header, read_image
from i2i_runtime.labels import read_label_map

I2I = [sys.executable, "-m", "i2i"]


def one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def test_header_is_read_without_decoding(tmp_path, png_bomb) -> None:
    bomb = png_bomb(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 900_000
    h = read_header(bomb)
    assert (h.width, h.height, h.bits, h.bands, h.format) == (12000, 12000, 16, 3, "PNG")
    assert h.describe() == "12000x12000 16-bit RGB PNG"
    assert h.decode_bytes(3) > 3e9  # what decoding would have taken
    expected = (
        r"12000x12000 16-bit RGB PNG \(144.0 MP; decoding it would take about [\d.]+ GB\): "
        r"larger than the limit of 64.0 MP per image, checked before decoding; .*--max-pixels 150M"
    )
    with pytest.raises(ImageTooLargeError, match=expected):
        read_image(bomb)
    assert issubclass(ImageTooLargeError, ImageReadError)  # skipped like a corrupt file
    with pytest.raises(ImageTooLargeError, match="larger than the limit of 1.0 MP"):
        read_label_map(png_bomb(tmp_path / "label.png", 2000, 2000, 8, 0), max_pixels=1_000_000)
    reason, wh = check_image(bomb)
    assert wh == (12000, 12000) and "more than the limit of 64.0 MP per image" in reason


def test_limit_is_an_option(tmp_path, rgb_file) -> None:
    path = rgb_file(tmp_path / "a.png", 100, 80)
    with pytest.raises(ImageTooLargeError, match="100x80 8-bit RGB PNG"):
        read_image(path, max_pixels=5000)
    assert read_image(path, max_pixels=8000).shape == (80, 100, 3)
    assert read_image(path, max_pixels=0).shape == (80, 100, 3)  # 0 = no limit
    assert check_image(path, 5000)[0] is not None and check_image(path, 0) == (None, (100, 80))


def test_dataset_read_refuses_a_file_replaced_after_validation(tmp_path, rgb_file) -> None:
    files = [rgb_file(tmp_path / f"{i}.png", 40 if i == 0 else 30, 30, seed=i) for i in range(3)]

    class Images(FolderDataset):
        def read_sample(self, path: Path) -> dict[str, np.ndarray]:
            return {"A": self.read(path, 3)}

    opts = DataOptions(split="test", size=0, load_size=0, channels={"A": 3}, max_pixels=1000)
    ds = Images(tmp_path, opts, files)
    sample = ds[(0, 0)]  # 40x30 = 1200 pixels: refused, another sample takes its place
    assert sample["A"].shape == (3, 30, 30)
    assert sample["skipped"] >= 1 and files[0] in ds.bad_files
    strict = Images(tmp_path, DataOptions(**{**opts.__dict__, "strict": True}), files)
    with pytest.raises(ImageTooLargeError, match="limit of 1000 pixels"):
        strict[(0, 0)]


@pytest.mark.parametrize(
    ("name", "make", "channels"),
    [
        ("rgb8", lambda p, a: Image.fromarray(a[..., :3]).save(p), 3),
        ("rgba8_to_rgb", lambda p, a: Image.fromarray(a).save(p), 3),
        ("gray8_to_rgb", lambda p, a: Image.fromarray(a[..., 0]).save(p), 3),
        ("palette", lambda p, a: Image.fromarray(a[..., :3]).convert("P").save(p), 3),
        ("rgb16", None, 3),
        ("gray16", lambda p, a: Image.fromarray(a[..., 0].astype(np.uint16) * 257).save(p), 1),
        ("rgb8_to_gray", lambda p, a: Image.fromarray(a[..., :3]).save(p), 1),
    ],
)
def test_decode_bytes_bounds_the_measured_peak(tmp_path, name, make, channels) -> None:
    """ImageHeader.decode_bytes is an upper bound of what read_image really takes (the
    kernel's peak RSS of a fresh process, minus its RSS before decoding)."""
    from i2i_runtime.imageio import write_image

    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (1000, 1500, 4), dtype=np.uint8)
    path = tmp_path / f"{name}.png"
    if make is None:
        write_image(path, arr[..., :3] / 255.0, bit_depth=16)
    else:
        make(path, arr)
    code = (
        "import sys\n"
        "import PIL.Image, PIL.PngImagePlugin\n"
        "from i2i_runtime.imageio import read_header, read_image\n"
        "from i2i_runtime.memory import peak_rss, rss\n"
        "base = rss()\n"
        f"x = read_image(sys.argv[1], {channels})\n"
        f"print(read_header(sys.argv[1]).decode_bytes({channels}), peak_rss() - base)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True)
    if out.returncode != 0 and "TypeError" in out.stderr:
        pytest.skip("the kernel's peak RSS (/proc/self/status) is not readable here")
    assert out.returncode == 0, out.stderr
    bound, peak = (int(v) for v in out.stdout.split())
    print(f"{name}: peak {peak / 1.5e6:.1f} B/px, bound {bound / 1.5e6:.1f} B/px")
    assert peak <= bound, (peak, bound)
    assert bound < 3 * peak + 8e6  # a bound, not a wild guess


@pytest.mark.slow
def test_datasets_check_and_training_refuse_a_png_bomb(tmp_path, png_bomb, measured) -> None:
    from i2i.datasets.demo import make_unpaired_demo

    data = tmp_path / "data"
    make_unpaired_demo(data, seed=0, n_train=4, n_test=2, size=32)
    png_bomb(data / "trainA" / "huge.png")
    code, _, err, peak = measured([*I2I, "datasets", "check", str(data), "-f", "unpaired"])
    line = one_error_line(err)
    assert code == 1 and line.startswith("error: 1 image(s) in ") and "trainA/huge.png" in line
    assert "12000x12000 16-bit RGB PNG, 144.0 MP" in line and "--max-pixels" in line, line
    assert peak < 1.5e9, peak  # decoding it would take 4.4 GB
    code, _, err, peak = measured([
        *I2I, "-q", "train", "cyclegan", str(data), "--out", str(tmp_path / "run"), "--size",
        "32", "--steps", "1", "--device", "cpu", "--workers", "0",
    ])  # fmt: skip
    line = one_error_line(err)
    assert code == 1 and "trainA/huge.png" in line and "train.max_pixels" in line, line
    assert peak < 1.5e9 and not (tmp_path / "run").exists()
    # the limit is an option: raised, the header check passes (and the rest of the checks run)
    code, out, err, _ = measured([*I2I, "datasets", "check", str(data), "-f", "unpaired",
                                  "--max-pixels", "150000000"])  # fmt: skip
    assert code == 0, err
