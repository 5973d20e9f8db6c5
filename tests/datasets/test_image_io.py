"""read_image / write_image / list_images / image_size on real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import i2i.datasets.image_io as image_io
import i2i_runtime.imageio as runtime_imageio
from i2i.datasets.image_io import (
    IMAGE_EXTENSIONS,
    check_image,
    image_size,
    list_images,
    read_image,
    write_image,
)
from i2i.errors import ConfigError, DatasetError, ImageReadError, ImageTooLargeError, InputError

LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _u8(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.integers(0, 256, shape, dtype=np.uint8)


# -- modes -------------------------------------------------------------------------------------


def test_gray_l_reads_exact_and_converts_to_rgb(tmp_path: Path) -> None:
    a = _u8(np.random.default_rng(0), 6, 9)
    Image.fromarray(a).save(tmp_path / "g.png")
    one = read_image(tmp_path / "g.png", 1)
    assert one.shape == (6, 9, 1) and one.dtype == np.float32
    np.testing.assert_array_equal(one[:, :, 0], a.astype(np.float32) / 255)
    three = read_image(tmp_path / "g.png", 3)
    assert three.shape == (6, 9, 3)
    for c in range(3):
        np.testing.assert_array_equal(three[:, :, c], one[:, :, 0])


def test_rgb_reads_exact_and_gray_uses_bt601_luminance(tmp_path: Path) -> None:
    a = _u8(np.random.default_rng(1), 5, 7, 3)
    Image.fromarray(a).save(tmp_path / "c.png")
    rgb = read_image(tmp_path / "c.png", 3)
    np.testing.assert_array_equal(rgb, a.astype(np.float32) / 255)
    gray = read_image(tmp_path / "c.png", 1)
    np.testing.assert_allclose(gray[:, :, 0], (a / 255.0) @ LUMA, atol=1e-6)


def test_rgba_is_composited_over_white(tmp_path: Path) -> None:
    px = np.array([[[255, 0, 0, 0], [255, 0, 0, 255], [0, 0, 255, 128]]], np.uint8)
    Image.fromarray(px, "RGBA").save(tmp_path / "t.png")
    out = read_image(tmp_path / "t.png", 3)
    np.testing.assert_allclose(out[0, 0], [1, 1, 1])  # fully transparent -> white
    np.testing.assert_allclose(out[0, 1], [1, 0, 0])  # opaque red
    a = 128 / 255
    np.testing.assert_allclose(out[0, 2], [1 - a, 1 - a, 1.0], atol=1e-6)
    rgba = read_image(tmp_path / "t.png", 4)  # 4 channels keep alpha
    np.testing.assert_allclose(rgba[0, :, 3], [0, 1, a], atol=1e-6)
    gray = read_image(tmp_path / "t.png", 1)
    np.testing.assert_allclose(gray[0, 0, 0], 1.0, atol=1e-6)


def test_la_composited_over_white(tmp_path: Path) -> None:
    px = np.array([[[0, 0], [0, 255], [100, 51]]], np.uint8)
    Image.fromarray(px, "LA").save(tmp_path / "la.png")
    out = read_image(tmp_path / "la.png", 1)[0, :, 0]
    a = 51 / 255
    np.testing.assert_allclose(out, [1.0, 0.0, 100 / 255 * a + (1 - a)], atol=1e-6)


def test_palette_with_and_without_transparency(tmp_path: Path) -> None:
    im = Image.new("P", (4, 2))
    im.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    im.putdata([0, 1, 2, 0, 1, 2, 0, 1])
    im.save(tmp_path / "p.png")
    out = read_image(tmp_path / "p.png", 3)
    np.testing.assert_array_equal(out[0, 0], [1, 0, 0])
    np.testing.assert_array_equal(out[0, 2], [0, 0, 1])
    im.save(tmp_path / "pt.png", transparency=1)  # index 1 (green) is transparent
    out_t = read_image(tmp_path / "pt.png", 3)
    np.testing.assert_array_equal(out_t[0, 1], [1, 1, 1])
    np.testing.assert_array_equal(out_t[0, 0], [1, 0, 0])


def test_bilevel_and_cmyk(tmp_path: Path) -> None:
    Image.new("1", (3, 2), 1).save(tmp_path / "b.png")
    np.testing.assert_array_equal(read_image(tmp_path / "b.png", 1), np.ones((2, 3, 1)))
    cmyk = Image.new("CMYK", (3, 2), (0, 255, 255, 0))  # red
    cmyk.save(tmp_path / "k.tif")
    out = read_image(tmp_path / "k.tif", 3)
    np.testing.assert_allclose(out[0, 0], np.asarray(cmyk.convert("RGB"))[0, 0] / 255)


def test_16bit_gray_png_is_not_truncated_to_8_bits(tmp_path: Path) -> None:
    a = np.array([[0, 1, 257, 65535]], np.uint16)
    Image.fromarray(a).save(tmp_path / "g16.png")
    out = read_image(tmp_path / "g16.png", 1)
    np.testing.assert_array_equal(np.rint(out[:, :, 0] * 65535).astype(np.uint16), a)
    assert out[0, 1, 0] > 0  # an 8-bit read would give 0


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_round_trip_is_exact(tmp_path: Path, channels: int, suffix: str) -> None:
    raw = np.random.default_rng(2).integers(0, 65536, (7, 5, channels), dtype=np.uint16)
    path = write_image(tmp_path / f"r16{suffix}", raw.astype(np.float32) / 65535, bit_depth=16)
    back = read_image(path, channels)
    np.testing.assert_array_equal(np.rint(back * 65535).astype(np.uint16), raw)


def test_16bit_rgb_png_written_by_opencv_keeps_precision(tmp_path: Path) -> None:
    import cv2

    rgb = np.zeros((2, 2, 3), np.uint16)
    rgb[0, 0] = (1, 2, 3)  # invisible in 8 bits
    rgb[1, 1] = (65535, 300, 0)
    cv2.imwrite(str(tmp_path / "c16.png"), rgb[:, :, ::-1].copy())
    out = read_image(tmp_path / "c16.png", 3)
    np.testing.assert_array_equal(np.rint(out * 65535).astype(np.uint16), rgb)


def test_32bit_int_and_float_modes_are_scaled(tmp_path: Path) -> None:
    Image.fromarray(np.array([[0, 32768, 65535]], np.int32)).save(tmp_path / "i.tif")
    np.testing.assert_allclose(read_image(tmp_path / "i.tif", 1)[0, :, 0], [0, 32768 / 65535, 1])
    Image.fromarray(np.array([[0.0, 0.25, 1.0]], np.float32)).save(tmp_path / "f.tif")
    np.testing.assert_allclose(read_image(tmp_path / "f.tif", 1)[0, :, 0], [0, 0.25, 1])
    Image.fromarray(np.array([[0.0, 51.0, 255.0]], np.float32)).save(tmp_path / "f255.tif")
    np.testing.assert_allclose(read_image(tmp_path / "f255.tif", 1)[0, :, 0], [0, 0.2, 1])


def test_8bit_round_trip_png_and_jpeg(tmp_path: Path) -> None:
    img = np.random.default_rng(3).random((8, 6, 3)).astype(np.float32)
    back = read_image(write_image(tmp_path / "sub" / "dir" / "x.png", img), 3)
    np.testing.assert_allclose(back, np.rint(img * 255) / 255, atol=1e-6)
    flat = np.full((16, 16, 1), 0.5, np.float32)
    back_j = read_image(write_image(tmp_path / "x.JPG", flat), 1)
    np.testing.assert_allclose(back_j, 0.5, atol=2 / 255)
    gray2d = read_image(write_image(tmp_path / "g.png", flat[:, :, 0]), 1)
    assert gray2d.shape == (16, 16, 1)


def test_exif_orientation_applied_and_image_size_agrees(tmp_path: Path) -> None:
    a = _u8(np.random.default_rng(4), 4, 10, 3)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(a).save(tmp_path / "rot.jpg", exif=exif, quality=100)
    assert image_size(tmp_path / "rot.jpg") == (4, 10)
    assert read_image(tmp_path / "rot.jpg", 3).shape == (10, 4, 3)


def test_image_size_reads_width_height(tmp_path: Path, rgb_file) -> None:
    assert image_size(rgb_file(tmp_path / "a.png", w=30, h=20)) == (30, 20)


# -- errors ------------------------------------------------------------------------------------


def _assert_read_error(path: Path, *fragments: str) -> None:
    with pytest.raises(ImageReadError) as info:
        read_image(path, 3)
    msg = str(info.value)
    assert str(path) in msg and "\n" not in msg
    for fragment in fragments:
        assert fragment in msg, msg


def test_zero_byte_file(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    _assert_read_error(tmp_path / "empty.png", "empty")
    with pytest.raises(ImageReadError, match="empty.png"):
        image_size(tmp_path / "empty.png")


def test_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "notes.jpg").write_text("hello\nworld")
    _assert_read_error(tmp_path / "notes.jpg", "not a recognised image format")


def test_truncated_png_and_jpeg(tmp_path: Path, rgb_file) -> None:
    for name in ("t.png", "t.jpg"):
        good = rgb_file(tmp_path / name, 64, 64).read_bytes()
        (tmp_path / name).write_bytes(good[: len(good) // 2])
        _assert_read_error(tmp_path / name, "runcat")  # "truncated" / "Truncated"


def test_missing_file(tmp_path: Path) -> None:
    _assert_read_error(tmp_path / "nope.png", "not found")


def test_unsupported_channel_count(tmp_path: Path, rgb_file) -> None:
    with pytest.raises(ConfigError, match="channels=2"):
        read_image(rgb_file(tmp_path / "a.png"), 2)


def test_check_image_finds_bad_files(tmp_path: Path, rgb_file) -> None:
    assert check_image(rgb_file(tmp_path / "ok.png", 12, 10)) == (None, (12, 10))
    good = rgb_file(tmp_path / "t.jpg", 64, 64).read_bytes()
    (tmp_path / "t.jpg").write_bytes(good[: len(good) // 2])
    reason, size = check_image(tmp_path / "t.jpg")
    assert reason and size is None
    png = rgb_file(tmp_path / "t.png", 64, 64).read_bytes()
    (tmp_path / "t.png").write_bytes(png[: len(png) // 2])
    assert check_image(tmp_path / "t.png")[0]


# -- write_image -------------------------------------------------------------------------------


def test_write_image_is_atomic_and_leaves_no_temp_files(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "out" / "x.png"
    write_image(target, np.zeros((4, 4, 3)))
    before = target.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    # the implementation is the runtime's (i2i.datasets.image_io re-exports it)
    monkeypatch.setattr(runtime_imageio.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_image(target, np.ones((4, 4, 3)))
    assert target.read_bytes() == before  # old file untouched
    assert sorted(p.name for p in target.parent.iterdir()) == ["x.png"]


def test_write_image_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="C = 1 or 3"):
        write_image(tmp_path / "a.png", np.zeros((3, 4, 4)))
    with pytest.raises(InputError, match="bit_depth=16"):
        write_image(tmp_path / "a.jpg", np.zeros((4, 4, 3)), bit_depth=16)
    with pytest.raises(InputError, match="unknown image suffix"):
        write_image(tmp_path / "a.gif", np.zeros((4, 4, 3)))
    with pytest.raises(InputError, match="NaN"):
        write_image(tmp_path / "a.png", np.full((4, 4, 1), np.nan))
    assert list(tmp_path.iterdir()) == []


# -- list_images -------------------------------------------------------------------------------


def test_list_images_filters_sorts_and_skips_hidden(tmp_path: Path, rgb_file) -> None:
    for rel in ["b.PNG", "a.jpg", "sub/c.JpEg", "sub/deep/d.webp", "z.tiff"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    for rel in [".hidden.png", ".cache/e.png", "notes.txt", "x.gif"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    rel = [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)]
    assert rel == ["a.jpg", "b.PNG", "sub/c.JpEg", "sub/deep/d.webp", "z.tiff"]
    flat = [p.name for p in list_images(tmp_path, recursive=False)]
    assert flat == ["a.jpg", "b.PNG", "z.tiff"]
    assert ".png" in IMAGE_EXTENSIONS and ".tif" in IMAGE_EXTENSIONS


def test_list_images_refuses_links_out_of_the_folder(tmp_path: Path) -> None:
    """``trainA/up -> ..`` would count trainB's images as domain A's: refused in one line;
    links to image files and a linked root folder are fine."""
    for rel in ["data/trainA/a.png", "data/trainB/b.png", "raw/c.png", "raw/sub/d.png"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    a = tmp_path / "data" / "trainA"
    (a / "c.png").symlink_to(tmp_path / "raw" / "c.png")
    (tmp_path / "linked").symlink_to(a)
    assert [p.name for p in list_images(tmp_path / "linked")] == ["a.png", "c.png"]
    (a / "up").symlink_to("..")
    with pytest.raises(DatasetError, match=r"trainA/up' is a symbolic link to the folder itself "
                                           r"or one of its parents \(a loop\)"):  # fmt: skip
        list_images(a)
    (a / "up").unlink()
    (a / "b").symlink_to(tmp_path / "data" / "trainB")
    with pytest.raises(DatasetError, match=r"outside .*trainA'.*copy those images into"):
        list_images(a)
    (a / "b").unlink()
    (a / "inner").mkdir()
    (a / "again").symlink_to(a / "inner")  # inside the folder: fine, listed once
    (a / "inner" / "e.png").write_bytes(b"x")
    assert len(list_images(a)) == 3


def test_list_images_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        list_images(tmp_path / "missing")


# -- hook --------------------------------------------------------------------------------------


def test_load_image_hook_default_and_override(tmp_path: Path, rgb_file) -> None:
    from i2i import hookimpl
    from i2i.manager import make_plugin_manager

    path = rgb_file(tmp_path / "a.png", 8, 6)
    pm = make_plugin_manager(entry_points=False, builtins=False, extra=[("image_io", image_io)])
    out = pm.hook.i2i_load_image(path=path, channels=1, max_pixels=0)
    assert out.shape == (6, 8, 1)
    with pytest.raises(ImageTooLargeError, match="8x6 8-bit RGB PNG .*limit of 40 pixels"):
        pm.hook.i2i_load_image(path=path, channels=1, max_pixels=40)

    class Override:
        @hookimpl
        def i2i_load_image(self, path, channels):
            return np.zeros((2, 2, channels), np.float32)

    pm.register(Override(), name="override")
    assert pm.hook.i2i_load_image(path=path, channels=3, max_pixels=40).shape == (2, 2, 3)
