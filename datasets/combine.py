"""Build aligned A|B images from two folders (``i2i datasets combine A_DIR B_DIR OUT``).

Files are paired by their path relative to ``A_DIR`` / ``B_DIR`` without extension, sub-folders
included (``A/train/cat.png`` pairs with ``B/train/cat.jpg`` and is written to
``OUT/train/cat.png``), so the output is an ``aligned`` dataset when the inputs hold ``train/``
(and ``val/``, ``test/``) sub-folders.

Colour and bit depth of a written pair:

- If either side is colour (RGB, RGBA, palette, CMYK, ...), both are written as RGB (grayscale is
  repeated into three channels; transparency is composited over white). If both are grayscale,
  the output is grayscale.
- If both sides are 16-bit (16-bit PNG/TIFF), the output is a 16-bit PNG; otherwise it is 8-bit.

Every file that could not be paired is reported in the returned :class:`CombineReport`; when
*nothing* could be paired a :class:`~i2i.errors.DatasetError` says why. Inputs are never
overwritten: the output folder may not lie inside an input folder, and any output file that
would land on an input file stops the run before anything is written.

Example:
    >>> report = combine_pairs(Path("data/edges"), Path("data/photos"), Path("data/e2p"))
    ...  # doctest: +SKIP
    >>> report.summary()  # doctest: +SKIP
    "wrote 200 aligned image(s) to 'data/e2p'"
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from i2i.errors import DatasetError, ImageReadError

from .image_io import (
    check_image,
    format_file_list,
    high_bit_color,
    list_images,
    read_image,
    write_image,
)
from .paired import match_stems

log = logging.getLogger(__name__)

_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "F"})

__all__ = ["CombineReport", "combine_pairs"]


@dataclasses.dataclass
class CombineReport:
    """What :func:`combine_pairs` did.

    Attributes:
        out_dir: The output folder.
        written: Output files, in pairing order (sorted by relative name).
        unpaired_a: A files (relative to ``a_dir``) without a B file of the same name.
        unpaired_b: B files (relative to ``b_dir``) without an A file of the same name.
        size_mismatch: ``"name: A WxH vs B WxH"`` for pairs skipped because the sizes differ.
        unreadable: ``"side/relative path (reason)"`` for files that could not be decoded.
        ambiguous: ``"folder/name (x.jpg, x.png)"`` for names held by several files of one side
            (not paired: which one is meant is unclear).
        resized: Names of pairs whose B image was resized to A's size (``resize_to_a``).
    """

    out_dir: Path
    written: list[Path] = dataclasses.field(default_factory=list)
    unpaired_a: list[str] = dataclasses.field(default_factory=list)
    unpaired_b: list[str] = dataclasses.field(default_factory=list)
    size_mismatch: list[str] = dataclasses.field(default_factory=list)
    unreadable: list[str] = dataclasses.field(default_factory=list)
    ambiguous: list[str] = dataclasses.field(default_factory=list)
    resized: list[str] = dataclasses.field(default_factory=list)

    @property
    def skipped(self) -> int:
        """Number of input files (or pairs) that did not make it into the output."""
        return (
            len(self.unpaired_a)
            + len(self.unpaired_b)
            + len(self.size_mismatch)
            + len(self.unreadable)
            + len(self.ambiguous)
        )

    @property
    def ok(self) -> bool:
        """True when every input file was paired and written."""
        return self.skipped == 0

    def summary(self) -> str:
        """One line: how many images were written and how many files were left out, by reason.

        Example:
            ``"wrote 3 aligned image(s) to 'out'; not written: 1 A file(s) without a B
            partner, 1 pair(s) with different sizes"``
        """
        text = f"wrote {len(self.written)} aligned image(s) to '{self.out_dir}'"
        if self.resized:
            text += f" ({len(self.resized)} with B resized to A's size)"
        parts = [
            (self.unpaired_a, "A file(s) without a B partner"),
            (self.unpaired_b, "B file(s) without an A partner"),
            (self.size_mismatch, "pair(s) with different sizes (use --resize-to-a)"),
            (self.unreadable, "unreadable file(s)"),
            (self.ambiguous, "name(s) used by several files of one side"),
        ]
        left_out = [f"{len(items)} {what}" for items, what in parts if items]
        return text + (f"; not written: {', '.join(left_out)}" if left_out else "")

    def problem_lines(self) -> list[str]:
        """One line per file or pair that was left out (for the CLI to print after the summary)."""
        return (
            [f"A only (no partner in B): {x}" for x in self.unpaired_a]
            + [f"B only (no partner in A): {x}" for x in self.unpaired_b]
            + [f"size mismatch: {x}" for x in self.size_mismatch]
            + [f"unreadable: {x}" for x in self.unreadable]
            + [f"ambiguous: {x}" for x in self.ambiguous]
        )


def _check_dirs(a_dir: Path, b_dir: Path, out_dir: Path) -> None:
    for name, folder in (("A_DIR", a_dir), ("B_DIR", b_dir)):
        if not folder.is_dir():
            what = "is not a folder" if folder.exists() else "does not exist"
            raise DatasetError(f"{name} '{folder}' {what}; pass a folder that holds image files")
    if out_dir.exists() and not out_dir.is_dir():
        raise DatasetError(f"output '{out_dir}' is a file; pass a new or existing folder")
    ra, rb, ro = a_dir.resolve(), b_dir.resolve(), out_dir.resolve()
    if ra == rb:
        raise DatasetError(
            f"A_DIR and B_DIR are the same folder ('{a_dir}'); pass the two folders to combine"
        )
    for name, folder, real in (("A_DIR", a_dir, ra), ("B_DIR", b_dir, rb)):
        if ro == real or ro.is_relative_to(real):
            raise DatasetError(
                f"output folder '{out_dir}' is inside {name} '{folder}'; the combined images "
                "would mix with the inputs — pass an output folder outside A_DIR and B_DIR"
            )


def _probe(path: Path) -> tuple[bool, bool]:
    """``(is colour, is 16-bit)`` of an image file, from its header."""
    with Image.open(path) as im:
        mode = im.mode
        sixteen = mode.startswith("I;16") or mode == "I" or high_bit_color(im)
    gray = mode in _GRAY_MODES or mode.startswith("I;16")
    return not gray, sixteen


def _resize(img: np.ndarray, width: int, height: int) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    shrink = width <= w and height <= h
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    out = cv2.resize(img, (width, height), interpolation=interp)
    return out[:, :, None] if out.ndim == 2 else out


def _nothing_paired(a_dir: Path, b_dir: Path, report: CombineReport, n_a: int, n_b: int) -> str:
    reasons = []
    if (
        report.unpaired_a
        and report.unpaired_b
        and not (report.size_mismatch or report.unreadable or report.ambiguous)
    ):
        reasons.append(
            f"no common names: A_DIR has {n_a} image(s) (e.g. "
            f"{format_file_list(report.unpaired_a, 3)}), B_DIR has {n_b} (e.g. "
            f"{format_file_list(report.unpaired_b, 3)}); files are paired by relative path "
            "without extension (A_DIR/sub/x.png pairs with B_DIR/sub/x.jpg)"
        )
    else:
        if report.unpaired_a:
            reasons.append(
                f"{len(report.unpaired_a)} A file(s) without a B partner: "
                f"{format_file_list(report.unpaired_a)}"
            )
        if report.unpaired_b:
            reasons.append(
                f"{len(report.unpaired_b)} B file(s) without an A partner: "
                f"{format_file_list(report.unpaired_b)}"
            )
    if report.size_mismatch:
        reasons.append(
            f"{len(report.size_mismatch)} pair(s) differ in size: "
            f"{format_file_list(report.size_mismatch)} (pass --resize-to-a to resize B to A)"
        )
    if report.unreadable:
        reasons.append(
            f"{len(report.unreadable)} unreadable file(s): {format_file_list(report.unreadable)}"
        )
    if report.ambiguous:
        reasons.append(
            f"{len(report.ambiguous)} name(s) used by several files of one side: "
            f"{format_file_list(report.ambiguous)}"
        )
    return f"nothing could be paired from '{a_dir}' and '{b_dir}': {'; '.join(reasons)}"


def combine_pairs(
    a_dir: Path,
    b_dir: Path,
    out_dir: Path,
    *,
    resize_to_a: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> CombineReport:
    """Write ``out_dir/<name>.png`` = A|B side by side for every name found in both folders.

    Images are listed recursively (:func:`~i2i.datasets.list_images`) and paired by relative
    path without extension; the output keeps the relative path (``a_dir/train/x.jpg`` +
    ``b_dir/train/x.png`` -> ``out_dir/train/x.png``). Each file is written atomically; existing
    output files of the same name are replaced (re-running is safe). See the module docstring
    for how colour and 16-bit images are handled.

    Args:
        a_dir: Folder of the A (left) images.
        b_dir: Folder of the B (right) images.
        out_dir: Output folder (created); must not lie inside ``a_dir`` or ``b_dir``.
        resize_to_a: Resize B to A's width and height when they differ (area interpolation when
            shrinking, bilinear when enlarging) instead of skipping the pair.
        on_progress: Called as ``on_progress(done, total)`` after each pair (for progress bars).

    Returns:
        The report: files written and every file left out, by reason.

    Raises:
        DatasetError: an input folder is missing or holds no images, ``out_dir`` lies inside an
            input folder (or an output file would overwrite an input), or nothing could be
            paired (one line saying why, with examples from each side).

    Example:
        >>> report = combine_pairs(Path("A"), Path("B"), Path("AB"))  # doctest: +SKIP
        >>> for line in report.problem_lines():  # doctest: +SKIP
        ...     print(line)
    """
    a_dir, b_dir, out_dir = Path(a_dir), Path(b_dir), Path(out_dir)
    _check_dirs(a_dir, b_dir, out_dir)
    a_files, b_files = list_images(a_dir), list_images(b_dir)
    for name, folder, files in (("A_DIR", a_dir, a_files), ("B_DIR", b_dir, b_files)):
        if not files:
            raise DatasetError(
                f"{name} '{folder}' holds no image files; nothing could be paired — pass a "
                "folder of .png/.jpg/.tif images"
            )
    match = match_stems(a_files, a_dir, b_files, b_dir)
    report = CombineReport(
        out_dir=out_dir,
        unpaired_a=match.only_a,
        unpaired_b=match.only_b,
        ambiguous=match.ambiguous,
    )
    inputs = {p.resolve() for p in (*a_files, *b_files)}
    targets = {key: out_dir / f"{key}.png" for key, _, _ in match.pairs}
    clash = sorted(str(t) for t in targets.values() if t.resolve() in inputs)
    if clash:
        raise DatasetError(
            f"combining into '{out_dir}' would overwrite input file(s) {format_file_list(clash)}; "
            "nothing was written — pass an output folder that holds no inputs"
        )
    total = len(match.pairs)
    for done, (key, a_path, b_path) in enumerate(match.pairs, start=1):
        _combine_one(key, a_path, b_path, a_dir, b_dir, targets[key], resize_to_a, report)
        if on_progress is not None:
            on_progress(done, total)
    if not report.written:
        raise DatasetError(_nothing_paired(a_dir, b_dir, report, len(a_files), len(b_files)))
    log.info("%s", report.summary())
    return report


def _combine_one(
    key: str,
    a_path: Path,
    b_path: Path,
    a_dir: Path,
    b_dir: Path,
    target: Path,
    resize_to_a: bool,
    report: CombineReport,
) -> None:
    sides = (("A", a_path, a_dir), ("B", b_path, b_dir))
    sizes = []
    for side, path, root in sides:
        reason, wh = check_image(path)
        if reason is not None or wh is None:
            report.unreadable.append(f"{side}/{path.relative_to(root).as_posix()} ({reason})")
        else:
            sizes.append(wh)
    if len(sizes) < 2:
        return
    (wa, ha), (wb, hb) = sizes
    if (wa, ha) != (wb, hb) and not resize_to_a:
        report.size_mismatch.append(
            f"{key}: A {wa}x{ha} ({a_path.name}) vs B {wb}x{hb} ({b_path.name})"
        )
        return
    try:
        (color_a, deep_a), (color_b, deep_b) = _probe(a_path), _probe(b_path)
        channels = 3 if color_a or color_b else 1
        a = read_image(a_path, channels)
        b = read_image(b_path, channels)
    except (ImageReadError, OSError) as e:
        report.unreadable.append(f"{key} ({e})")
        return
    if a.shape[:2] != b.shape[:2]:
        if not resize_to_a:  # the headers agreed, the decoded pixels do not
            report.size_mismatch.append(
                f"{key}: A {a.shape[1]}x{a.shape[0]} ({a_path.name}) vs "
                f"B {b.shape[1]}x{b.shape[0]} ({b_path.name})"
            )
            return
        b = _resize(b, a.shape[1], a.shape[0])
        report.resized.append(key)
    pair = np.concatenate([a, b], axis=1)
    report.written.append(write_image(target, pair, bit_depth=16 if deep_a and deep_b else 8))
