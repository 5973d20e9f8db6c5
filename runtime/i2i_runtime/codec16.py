"""16-bit colour images with Pillow and numpy alone (no OpenCV).

Pillow has no 16-bit-per-channel colour mode: it decodes a 16-bit RGB(A) PNG or TIFF to 8 bits
and cannot write one. This module fills the gap:

- :func:`decode_high_bit_color` lets Pillow's own decoders (zlib + PNG unfiltering, libtiff) do
  the work twice, once keeping the first byte of every 16-bit sample and once the second (its
  ``;16B`` and ``;16L`` unpackers), and joins the two planes into exact 16-bit values;
- :func:`encode_png16` writes a 16-bit RGB PNG (per-row adaptive filters as libpng chooses
  them: the filter with the smallest sum of absolute differences; zlib level 6);
- :func:`encode_tiff16` writes a 16-bit RGB TIFF (baseline, one Deflate-compressed strip).

Both writers produce the same bytes for the same pixels everywhere, which makes outputs of the
torch-free runtime and of the full i2i package byte-identical.
"""

from __future__ import annotations

import io
import struct
import sys
import zlib
from collections.abc import Callable
from typing import BinaryIO

import numpy as np
from PIL import Image

#: Rows filtered per block by the PNG encoder (bounds its temporary memory: the filter
#: candidates take about 100 bytes per sample of a block). The output does not depend on it.
ROWS_PER_BLOCK = 32


def high_bit_color(im: Image.Image) -> bool:
    """True for 16-bit RGB/RGBA/LA files, which Pillow would reduce to 8 bits."""
    if im.mode.startswith(("I", "F")):
        return False
    return any(";16" in str(tile.args) for tile in getattr(im, "tile", []) or [])


def _rawmode(args: object) -> str:
    return args if isinstance(args, str) else str(args[0])  # type: ignore[index]


def _with_rawmode(args: object, rawmode: str) -> object:
    if isinstance(args, str):
        return rawmode
    return (rawmode, *args[1:])  # type: ignore[index]


def decode_high_bit_color(open_image: Callable[[], Image.Image]) -> np.ndarray:
    """Decode a 16-bit RGB / RGBA / LA image into ``H x W x C`` uint16 samples.

    Args:
        open_image: Returns a freshly opened (not yet loaded) Pillow image of the file; it is
            called twice.

    Raises:
        ValueError: the file's layout is not one this decoder knows (e.g. planar TIFF).
        OSError: Pillow cannot decode the file.
    """
    planes = []
    endian = ""
    # Pillow's ;16B unpackers keep the first byte of every sample, its ;16L ones the second
    for which in ("B", "L"):
        im = open_image()
        try:
            tiles = []
            for t in im.tile:
                raw = _rawmode(t.args)
                base, sep, order = raw.rpartition(";16")
                if not sep or order not in ("B", "L", "N") or base != im.mode:
                    raise ValueError(f"unsupported 16-bit layout {raw!r}")
                endian = order
                tiles.append(t._replace(args=_with_rawmode(t.args, f"{base};16{which}")))
            im.tile = tiles
            im.load()
            planes.append(np.asarray(im))  # uint8, backed by its own bytes
        finally:
            im.close()  # frees Pillow's copy of the pixels (leaving a `with` block does not)
    first, second = planes
    del planes
    if endian == "N":
        endian = "L" if sys.byteorder == "little" else "B"
    hi, lo = (first, second) if endian == "B" else (second, first)
    del first, second
    out = hi.astype(np.uint16)
    del hi
    out <<= 8
    out |= lo
    return out[:, :, None] if out.ndim == 2 else out


# -- PNG -------------------------------------------------------------------------------------


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _filter_block(rows: np.ndarray, prev: np.ndarray, bpp: int) -> np.ndarray:
    """PNG-filter ``rows`` (R x L uint8, ``prev`` the row above the first) adaptively: each row
    gets the filter (None, Sub, Up, Average, Paeth) with the smallest sum of absolute values."""
    x = rows.astype(np.int16)
    up = np.concatenate([prev[None].astype(np.int16), x[:-1]])
    left = np.zeros_like(x)
    left[:, bpp:] = x[:, :-bpp]
    upleft = np.zeros_like(x)
    upleft[:, bpp:] = up[:, :-bpp]
    p = left + up - upleft
    pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - upleft)
    paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
    preds = (np.zeros_like(x), left, up, (left + up) // 2, paeth)
    candidates = np.stack([((x - pr) & 0xFF).astype(np.uint8) for pr in preds])  # 5 x R x L
    signed = candidates.view(np.int8).astype(np.int32)
    best = np.abs(signed).sum(axis=2).argmin(axis=0)  # per row
    chosen = candidates[best, np.arange(len(x))]
    return np.concatenate([best.astype(np.uint8)[:, None], chosen], axis=1)


def encode_png16(pixels: np.ndarray, out: BinaryIO | None = None) -> bytes | None:
    """A 16-bit PNG of ``H x W x C`` uint16 samples (C = 1 gray, 3 RGB, 4 RGBA).

    Returns the file's bytes, or writes them to ``out`` (then returns None; less memory: the
    compressed data is never joined into one buffer).
    """
    h, w, c = pixels.shape
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    comp = zlib.compressobj(6)
    parts = []
    prev = np.zeros(w * c * 2, np.uint8)
    for y0 in range(0, h, ROWS_PER_BLOCK):
        block = pixels[y0 : y0 + ROWS_PER_BLOCK].astype(">u2").view(np.uint8)
        block = block.reshape(len(block), w * c * 2)
        parts.append(comp.compress(_filter_block(block, prev, 2 * c).tobytes()))
        prev = block[-1].copy()
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    sink = out if out is not None else io.BytesIO()
    sink.write(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr))
    # the IDAT chunk, written part by part: length, tag, data, CRC of tag + data
    sink.write(struct.pack(">I", sum(len(part) for part in parts)) + b"IDAT")
    crc = zlib.crc32(b"IDAT")
    for part in parts:
        sink.write(part)
        crc = zlib.crc32(part, crc)
    sink.write(struct.pack(">I", crc) + _chunk(b"IEND", b""))
    return None if out is not None else sink.getvalue()  # type: ignore[union-attr]


# -- TIFF ------------------------------------------------------------------------------------

_SHORT, _LONG = 3, 4


def encode_tiff16(pixels: np.ndarray, out: BinaryIO | None = None) -> bytes | None:
    """A little-endian baseline TIFF of ``H x W x C`` uint16 samples (C = 1 or 3), one strip,
    Deflate-compressed; returned as bytes, or written to ``out`` (then None)."""
    h, w, c = pixels.shape
    comp = zlib.compressobj(6)
    parts = [
        comp.compress(pixels[y0 : y0 + ROWS_PER_BLOCK].astype("<u2").tobytes())
        for y0 in range(0, h, ROWS_PER_BLOCK)
    ]
    parts.append(comp.flush())
    data = b"".join(parts)
    del parts
    data_off = 8
    bits_off = data_off + len(data) + (len(data) & 1)  # word-aligned
    bits = struct.pack(f"<{c}H", *([16] * c))
    ifd_off = bits_off + len(bits) + (len(bits) & 1)

    def entry(tag: int, typ: int, count: int, value: int) -> bytes:
        if typ == _SHORT and count == 1:
            return struct.pack("<HHIHH", tag, typ, count, value, 0)
        return struct.pack("<HHII", tag, typ, count, value)

    bits_entry = (
        entry(258, _SHORT, 1, 16) if c == 1 else entry(258, _SHORT, c, bits_off)  # out of line
    )
    entries = [
        entry(256, _LONG, 1, w),
        entry(257, _LONG, 1, h),
        bits_entry,
        entry(259, _SHORT, 1, 8),  # Adobe Deflate
        entry(262, _SHORT, 1, 2 if c == 3 else 1),  # RGB / black is zero
        entry(273, _LONG, 1, data_off),
        entry(277, _SHORT, 1, c),
        entry(278, _LONG, 1, h),
        entry(279, _LONG, 1, len(data)),
        entry(284, _SHORT, 1, 1),  # chunky
    ]
    header = b"II*\x00" + struct.pack("<I", ifd_off)
    tail = b"\x00" * (len(data) & 1) + bits + b"\x00" * (len(bits) & 1)
    ifd = struct.pack("<H", len(entries)) + b"".join(entries) + struct.pack("<I", 0)
    if out is None:
        return header + data + tail + ifd
    out.write(header)
    out.write(data)
    out.write(tail + ifd)
    return None
