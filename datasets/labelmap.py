"""The ``labelmap`` dataset format (built-in plugin ``labelmap``): semantic label maps + photos,
as used by SPADE (GauGAN).

Layout (any split name ``S`` maps to ``ROOT/S/``; ``test/`` is optional)::

    ROOT/
      train/
        images/      photos (RGB)
        labels/      label maps: PNG class ids, matched to images by relative path without
                     extension (images/a.jpg pairs with labels/a.png)
        instances/   optional instance-id maps (same names): their boundaries become an extra
                     input channel of the generator (SPADE's edge map)
      test/          optional, the same sub-folders
      palette.txt    optional: class names, and the colours of RGB-coloured label maps

Label files are read as integer ids: single-channel PNGs (8 or 16 bit) and palette ("P") PNGs
give their values / palette indices directly; RGB(A) label maps are mapped colour -> id through
``palette.txt`` (one class per line: ``ID R G B [NAME]``, ``#`` starts a comment). Greyscale
images saved as RGB (R == G == B everywhere) are read as their grey values.

``DataOptions.channels["image"]`` is the image channel count (3). The label settings are
``DataOptions.params`` (the SPADE family fills them from its config through
``ModelSpec.data_params``; ``i2i datasets check --format labelmap --param label_nc=35`` sets them
for a check): ``label_nc`` the class count (0 or absent = from the data: the palette's ids, else
the largest id + 1), ``dontcare`` an id to ignore (-1 or absent = none; e.g. 255), and
``instance`` (> 0: load ``instances/``, which must exist; 0: ignore them; absent: validate
``instances/`` when the folder exists). Other keys are errors.

Validation (:func:`validate_labelmap`) reads every label map before training and reports, one
line per problem, naming up to 5 files: label ids outside ``[0, label_nc)`` other than the
dontcare id (which would otherwise crash deep in a CUDA kernel), colours not in the palette,
images and label maps of different sizes, names without a partner, unreadable files, a missing
``instances/`` folder.

Label and instance maps are resized, cropped and flipped with the image (the same geometry,
albumentations ``mask`` targets: nearest neighbour only, ids are never interpolated). A sample is
``{"image": CHW float in [-1, 1], "label": 1xHxW int64 ids, "instance": 1xHxW int64 (when
requested), "image_path", "label_path", "skipped"}``; dontcare ids are kept as they are (the
model maps them).

Example:
    >>> opts = DataOptions(size=64, load_size=72, channels={"image": 3}, params={"dontcare": 255})
    >>> report = validate_labelmap(Path("data/scenes"), opts)  # doctest: +SKIP
    >>> report.classes  # doctest: +SKIP
    ['sky', 'grass', 'water', 'road', 'building', 'tree']
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from i2i.errors import ConfigError, DatasetError, ImageReadError
from i2i.hookspecs import hookimpl
from i2i.specs import DataOptions, DatasetFormatSpec, DatasetReport
from i2i_runtime.labels import (
    PALETTE_NAME,
    Palette,
    UnknownColorsError,
    read_label_map,
    read_palette,
)

from .demo import README_NAME, begin_demo
from .folders import FolderDataset, check_split, child_seed, dataset_root, root_listing
from .image_io import check_image, format_file_list, list_images, write_image
from .paired import match_stems

if TYPE_CHECKING:  # pragma: no cover
    from i2i.registry import Registrar

log = logging.getLogger(__name__)

FORMAT_NAME = "labelmap"
KEYS: tuple[str, ...] = ("image", "label")
IMAGES, LABELS, INSTANCES = "images", "labels", "instances"
DEMO_MARKER = "i2i labelmap demo dataset"

#: Classes of the demo dataset (id = position) and their display colours.
DEMO_CLASSES: tuple[str, ...] = ("sky", "grass", "water", "road", "building", "tree")
DEMO_COLORS: tuple[tuple[int, int, int], ...] = (
    (70, 130, 180),
    (107, 142, 35),
    (0, 80, 160),
    (128, 64, 128),
    (150, 80, 60),
    (30, 90, 30),
)
_STREAM = {"train": 31, "test": 32}


# -- palette and label decoding ----------------------------------------------------------------


def write_palette(
    path: str | os.PathLike[str], names: Sequence[str], colors: Sequence[tuple[int, int, int]]
) -> Path:
    """Write a palette file (``ID R G B NAME`` per class, id = position)."""
    path = Path(path)
    lines = ["# id r g b name (i2i labelmap palette)"]
    lines += [
        f"{i} {r} {g} {b} {name}"
        for i, (name, (r, g, b)) in enumerate(zip(names, colors, strict=True))
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def find_palette(root: Path) -> Palette | None:
    """``ROOT/palette.txt`` if present."""
    path = Path(root) / PALETTE_NAME
    return read_palette(path) if path.is_file() else None


# -- options -----------------------------------------------------------------------------------


#: The ``DataOptions.params`` keys the format reads.
PARAM_KEYS: tuple[str, ...] = ("label_nc", "dontcare", "instance")


@dataclasses.dataclass(frozen=True)
class LabelOptions:
    """The label settings carried in ``DataOptions.params`` (see the module docstring)."""

    image_channels: int = 3
    label_nc: int = 0
    dontcare: int = -1
    instances: bool = False

    @classmethod
    def from_data_options(cls, options: DataOptions, root: Path | None = None) -> LabelOptions:
        """Read them from ``options`` (``root``: where to look for ``instances/`` when the
        ``"instance"`` key is absent).

        Raises:
            ConfigError: an unknown key or a value that is not an integer.
        """
        params = dict(options.params)
        unknown = sorted(set(params) - set(PARAM_KEYS))
        if unknown:
            raise ConfigError(
                f"unknown labelmap dataset param(s) {', '.join(unknown)}; known: label_nc "
                "(default 0: from the data), dontcare (default -1: none), instance (1 / 0; "
                "default: use instances/ when it exists)"
            )
        values: dict[str, int] = {}
        for key, default in (("label_nc", 0), ("dontcare", -1), ("instance", 0)):
            value = params.get(key, default)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not ok or (isinstance(value, float) and not value.is_integer()):
                raise ConfigError(f"labelmap dataset param {key} must be an integer, got {value!r}")
            values[key] = int(value)
        if "instance" in params:
            instances = values["instance"] > 0
        else:
            instances = root is not None and (Path(root) / options.split / INSTANCES).is_dir()
        return cls(
            image_channels=int(options.channels.get("image", 3)),
            label_nc=values["label_nc"],
            dontcare=values["dontcare"],
            instances=instances,
        )


# -- folders -----------------------------------------------------------------------------------


def split_folders(root: Path, split: str) -> dict[str, Path]:
    """``{"image": ROOT/split/images, "label": ROOT/split/labels, "instance": .../instances}``.

    Raises:
        DatasetError: ``split`` is not a plain name.
    """
    check_split(split, FORMAT_NAME, "ROOT/<split>/images and ROOT/<split>/labels")
    base = Path(root) / split
    return {"image": base / IMAGES, "label": base / LABELS, "instance": base / INSTANCES}


def _resolve(root: Path, split: str, instances: bool) -> dict[str, Path]:
    root = dataset_root(root, FORMAT_NAME, "train/images/ and train/labels/")
    folders = split_folders(root, split)
    wanted = ["image", "label"] + (["instance"] if instances else [])
    missing = [folders[k] for k in wanted if not folders[k].is_dir()]
    if missing:
        names = " and ".join(f"{p.relative_to(root).as_posix()}/" for p in missing)
        hint = ""
        if (root / IMAGES).is_dir() and (root / LABELS).is_dir():
            hint = f" (images/ and labels/ lie directly in the root: move them into {split}/)"
        elif instances and folders["instance"] in missing and len(missing) == 1:
            hint = " (or train without instance maps: --set use_instances=false)"
        raise DatasetError(
            f"labelmap dataset '{root}' has no {names} folder; expected ROOT/{split}/images/ "
            f"and ROOT/{split}/labels/ (+ instances/ for instance maps); found in root: "
            f"{root_listing(root)}{hint}"
        )
    return {k: folders[k] for k in wanted}


@dataclasses.dataclass
class _Files:
    triples: list[tuple[Path, Path, Path | None]]
    unmatched: list[str]


def _match(root: Path, folders: dict[str, Path]) -> _Files:
    files = {k: list_images(p) for k, p in folders.items()}
    for key in ("image", "label"):
        if not files[key]:
            raise DatasetError(
                f"'{folders[key]}' holds no image files; add the {key} files (PNG for labels)"
            )
    m = match_stems(files["image"], folders["image"], files["label"], folders["label"])
    unmatched = [f"{IMAGES}/{p}" for p in m.only_a] + [f"{LABELS}/{p}" for p in m.only_b]
    unmatched += m.ambiguous
    inst: dict[str, Path] = {}
    if "instance" in folders:
        mi = match_stems(
            files["label"], folders["label"], files.get("instance", []), folders["instance"]
        )
        inst = {k: b for k, _, b in mi.pairs}
        unmatched += [f"{INSTANCES}/{p}" for p in mi.only_b]
        unmatched += [f"{LABELS}/{p} (no instance map)" for p in mi.only_a]
    triples = [(a, b, inst.get(k)) for k, a, b in m.pairs]
    if "instance" in folders:
        triples = [t for t in triples if t[2] is not None]
    return _Files(triples, unmatched)


# -- validation --------------------------------------------------------------------------------


@dataclasses.dataclass
class _Scan:
    ids: np.ndarray | None = None  # unique ids of the label map
    size: tuple[int, int] | None = None  # (w, h) of the label map
    problem: str | None = None  # unreadable
    colors: list[tuple[int, int, int]] | None = None  # unknown palette colours


def _scan_label(path: Path, palette: Palette | None, max_pixels: int) -> _Scan:
    try:
        arr = read_label_map(path, palette, max_pixels=max_pixels)
    except UnknownColorsError as e:
        return _Scan(colors=e.colors)
    except (ImageReadError, DatasetError) as e:
        return _Scan(problem=str(e).split(": ", 1)[-1] if isinstance(e, ImageReadError) else str(e))
    return _Scan(ids=np.unique(arr), size=(arr.shape[1], arr.shape[0]))


def _pool_map(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    if len(items) < 16:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        return list(pool.map(fn, items, chunksize=8))


def _fmt_ids(ids: Sequence[int]) -> str:
    ids = [int(i) for i in ids]
    shown = ", ".join(map(str, ids[:8]))
    return shown + (f" ... ({len(ids)} ids)" if len(ids) > 8 else "")


def validate_labelmap(root: Path, options: DataOptions) -> DatasetReport:
    """Check a labelmap dataset before training (reads every label map once).

    Checks, for ``options.split``: the folders exist and hold files; every image has a label map
    of the same name and vice versa (and an instance map when instances are requested); every
    file opens; image, label and instance maps of a sample have the same size; label ids lie in
    ``[0, label_nc)`` or equal the dontcare id; RGB label maps use only palette colours; and,
    without a resize on the train split, no image is smaller than the crop.

    Args:
        root: Dataset folder.
        options: Split, sizes, image channels and the label settings in ``options.params``
            (see the module docstring).

    Returns:
        A report with the sample count of each split found and ``classes`` = the class names
        (palette names, else ``"0" .. str(label_nc - 1)``); ``len(classes)`` is the class count
        (given, or found in the data).

    Raises:
        DatasetError: one line per problem, naming up to 5 files each and how to fix them.
    """
    root = Path(root)
    lo = LabelOptions.from_data_options(options, root)
    folders = _resolve(root, options.split, lo.instances)
    palette = find_palette(root)
    files = _match(root, folders)
    problems: list[str] = []
    if files.unmatched:
        problems.append(
            f"{len(files.unmatched)} file(s) in '{root / options.split}' have no partner of the "
            f"same name: {format_file_list(files.unmatched)}; every image needs a label map "
            "(and instance map) with the same name without extension — add or remove them"
        )
    triples = files.triples
    limit = options.max_pixels
    label_scans = _pool_map(lambda t: _scan_label(t[1], palette, limit), triples)
    image_checks = _pool_map(lambda t: check_image(t[0], limit), triples)
    inst_scans = (
        _pool_map(lambda t: _scan_label(t[2], None, limit), triples) if lo.instances else []
    )
    rel = lambda p: p.relative_to(root).as_posix()  # noqa: E731
    bad: list[str] = []
    colors: list[str] = []
    mismatch: list[str] = []
    small: list[str] = []
    found: dict[Path, np.ndarray] = {}
    for k, (img, lab, inst) in enumerate(triples):
        reason, wh = image_checks[k]
        scan = label_scans[k]
        if reason is not None or wh is None:
            bad.append(f"{rel(img)} ({reason})")
        if scan.problem is not None:
            bad.append(f"{rel(lab)} ({scan.problem})")
        if scan.colors is not None:
            shown = " ".join(f"({r},{g},{b})" for r, g, b in scan.colors[:3])
            colors.append(f"{rel(lab)} {shown}")
        if scan.ids is not None:
            found[lab] = scan.ids
        sizes = [(rel(img), wh), (rel(lab), scan.size)]
        if lo.instances and inst is not None:
            iscan = inst_scans[k]
            if iscan.problem is not None:
                bad.append(f"{rel(inst)} ({iscan.problem})")
            sizes.append((rel(inst), iscan.size))
        known = [(n, s) for n, s in sizes if s is not None]
        if len({s for _, s in known}) > 1:
            mismatch.append(" vs ".join(f"{n} {s[0]}x{s[1]}" for n, s in known))
        elif (
            wh is not None
            and options.split == "train"
            and options.load_size == 0
            and options.size > 0
            and min(wh) < options.size
        ):
            small.append(f"{rel(img)} ({wh[0]}x{wh[1]})")
    if bad:
        problems.append(
            f"{len(bad)} unreadable file(s) in '{root}': {format_file_list(bad)}; re-export or "
            "remove them"
        )
    if colors:
        where = palette.path if palette is not None else root / PALETTE_NAME
        problems.append(
            f"{len(colors)} label map(s) use colours not in the palette '{where}': "
            f"{format_file_list(colors)}; add those colours to the palette ('ID R G B NAME') "
            "or fix the label maps"
        )
    if mismatch:
        problems.append(
            f"{len(mismatch)} sample(s) have images and label maps of different sizes: "
            f"{format_file_list(mismatch)}; a label map must have its image's width and height "
            "(resize label maps with nearest neighbour only)"
        )
    if small:
        problems.append(
            f"{len(small)} image(s) in '{root}' are smaller than the crop size "
            f"{options.size}x{options.size} and no resize is configured (load_size=0): "
            f"{format_file_list(small)}; set load_size >= size, lower size, or remove them"
        )
    label_nc = lo.label_nc
    if label_nc <= 0:
        if palette is not None:
            label_nc = palette.label_nc
        else:
            seen = [i for ids in found.values() for i in ids.tolist() if i != lo.dontcare]
            label_nc = max(seen) + 1 if seen else 0
    out_of_range: list[str] = []
    for lab, ids in found.items():
        bad_ids = ids[((ids < 0) | (ids >= label_nc)) & (ids != lo.dontcare)]
        if bad_ids.size:
            out_of_range.append(f"{rel(lab)} (ids {_fmt_ids(bad_ids)})")
    if out_of_range:
        dc = f" or the dontcare id {lo.dontcare}" if lo.dontcare >= 0 else ""
        problems.append(
            f"{len(out_of_range)} label map(s) hold ids outside [0, {label_nc}){dc}: "
            f"{format_file_list(out_of_range)}; fix the label maps, raise label_nc, or set "
            "dontcare=ID for an ignore id such as 255"
        )
    if problems:
        raise DatasetError("; ".join(problems))
    if label_nc < 1:
        raise DatasetError(f"the label maps of '{root}' hold no class ids other than dontcare")
    counts = {options.split: len(triples)}
    for split in ("train", "test"):
        f = split_folders(root, split)
        if split not in counts and f["image"].is_dir():
            counts[split] = len(list_images(f["image"]))
    names = (
        palette.class_names()[:label_nc] + [str(i) for i in range(palette.label_nc, label_nc)]
        if palette is not None
        else [str(i) for i in range(label_nc)]
    )
    log.info("labelmap dataset %s: %s, %d classes", root, counts, label_nc)
    return DatasetReport(root=root, format=FORMAT_NAME, counts=counts, classes=names)


# -- the dataset -------------------------------------------------------------------------------


class LabelMapDataset(FolderDataset):
    """Photos with their label maps (and instance maps); items via ``dataset[(index, seed)]``.

    On the train split the image, label and instance maps get the same random resize, crop and
    flip drawn from ``seed`` (label and instance maps as albumentations masks: nearest
    neighbour); other splits use the deterministic test pipeline. A corrupt file raises
    :class:`~i2i.errors.ImageReadError` with ``options.strict``, else its sample is replaced by
    another chosen from the seed and counted in ``"skipped"`` (see
    :class:`~i2i.datasets.FolderDataset`).

    Args:
        root: Dataset folder.
        options: Split, sizes, flip, strictness, image loader and label settings.

    Raises:
        DatasetError: missing folders or no matched samples.
    """

    mask_keys = ("label", "instance")
    item_noun = "samples"

    def __init__(self, root: Path, options: DataOptions) -> None:
        super().__init__(root, options)
        self.label_options = LabelOptions.from_data_options(options, self.root)
        folders = _resolve(self.root, options.split, self.label_options.instances)
        self.palette = find_palette(self.root)
        files = _match(self.root, folders)
        if not files.triples:
            raise DatasetError(
                f"no image of '{folders['image']}' has a label map of the same name in "
                f"'{folders['label']}'; run 'i2i datasets check {self.root} --format labelmap'"
            )
        #: ``(image, label map, instance map or None)`` per sample.
        self.samples: list[tuple[Path, Path, Path | None]] = files.triples

    def read_sample(self, item: tuple[Path, Path, Path | None]) -> dict[str, np.ndarray]:
        img_path, lab_path, inst_path = item
        img = self.read(img_path, self.label_options.image_channels)
        limit = self.options.max_pixels
        label = read_label_map(lab_path, self.palette, max_pixels=limit)
        inst = read_label_map(inst_path, max_pixels=limit) if inst_path is not None else None
        for name, arr, path in (("label map", label, lab_path), ("instance map", inst, inst_path)):
            if arr is not None and arr.shape != img.shape[:2]:
                raise DatasetError(
                    f"{name} '{path}' is {arr.shape[1]}x{arr.shape[0]} but image '{img_path}' is "
                    f"{img.shape[1]}x{img.shape[0]}; run 'i2i datasets check'"
                )
        out = {"image": img, "label": label.astype(np.float32)}
        if inst is not None:
            out["instance"] = inst.astype(np.float32)
        return out

    def __getitem__(self, key: Any) -> dict[str, Any]:
        import torch

        from .transforms import to_tensor

        index, seed = self.parse_key(key)
        aug, retry = np.random.SeedSequence(seed).spawn(2)
        arrays, k, skipped = self.first_readable(self.samples, index, retry, self.read_sample)
        out = self.augment(child_seed(aug), arrays)
        sample: dict[str, Any] = {
            "image": to_tensor(out["image"]),
            "label": torch.from_numpy(np.rint(out["label"]).astype(np.int64))[None],
            "image_path": str(self.samples[k][0]),
            "label_path": str(self.samples[k][1]),
            "skipped": skipped,
        }
        if "instance" in out:
            sample["instance"] = torch.from_numpy(np.rint(out["instance"]).astype(np.int64))[None]
        return sample


def build_labelmap(root: Path, options: DataOptions) -> LabelMapDataset:
    """Build the torch Dataset of one split (see :class:`LabelMapDataset`).

    Run :func:`validate_labelmap` first for a full check; this only lists and matches files.
    """
    return LabelMapDataset(Path(root), options)


# -- demo data ---------------------------------------------------------------------------------


def _noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Smooth noise in [0, 1]: a ``cells x cells`` grid upsampled bicubically."""
    low = rng.random((cells, cells)).astype(np.float32)
    up = Image.fromarray(low).resize((size, size), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(up, dtype=np.float32), 0.0, 1.0)


def render_labelmap_scene(
    rng: np.random.Generator, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One procedural outdoor scene: ``(image HxWx3 float [0, 1], label HxW uint8, instance HxW
    int32)``.

    Regions: sky above a random horizon, grass below, a lake (ellipse), a road narrowing to the
    horizon, 1-3 buildings on the horizon and 1-3 round trees. Each class has its own colour and
    texture statistics (sky: blue vertical gradient; grass: green, fine noise; water: dark blue
    with horizontal ripples; road: grey, fine noise; building: brick red-brown with a dark window
    grid, colour jittered per building; tree: dark green blotches). Instance ids: the class id
    for stuff, ``1000 * class + k`` for each building and tree.
    """
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    label = np.zeros((size, size), np.uint8)
    inst = np.zeros((size, size), np.int32)
    horizon = float(rng.uniform(0.35, 0.55) * size)
    label[y >= horizon] = 1
    cx, cy = rng.uniform(0.15, 0.85) * size, rng.uniform(horizon + 0.15 * size, 0.9 * size)
    rx, ry = rng.uniform(0.15, 0.3) * size, rng.uniform(0.06, 0.12) * size
    label[((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0] = 2
    rc, rw = rng.uniform(0.3, 0.7) * size, rng.uniform(0.12, 0.25) * size
    t = np.clip((y - horizon) / max(1.0, size - horizon), 0.0, 1.0)
    label[(y >= horizon) & (np.abs(x - (rc + (size / 2 - rc) * (1 - t) * 0.3)) <= 1 + rw * t)] = 3
    inst[:] = label
    for k in range(int(rng.integers(1, 4))):
        w, h = rng.uniform(0.1, 0.25) * size, rng.uniform(0.15, 0.35) * size
        bx = rng.uniform(0, size - w)
        m = (x >= bx) & (x < bx + w) & (y >= horizon - h) & (y < horizon + 0.03 * size)
        label[m], inst[m] = 4, 4000 + k
    for k in range(int(rng.integers(1, 4))):
        r = rng.uniform(0.05, 0.1) * size
        tx, ty = rng.uniform(0, size), rng.uniform(horizon - 0.5 * r, horizon + 0.2 * size)
        m = (x - tx) ** 2 + (y - ty) ** 2 <= r * r
        label[m], inst[m] = 5, 5000 + k

    v = (y / size)[:, :, None]
    fine = rng.random((size, size)).astype(np.float32)[:, :, None] - 0.5
    smooth = _noise(rng, size, 5)[:, :, None] - 0.5
    layers = {
        0: np.array([0.35, 0.55, 0.92], np.float32) * (1 - 0.5 * v)
        + np.array([0.80, 0.88, 0.97], np.float32) * 0.5 * v
        + 0.03 * smooth,
        1: np.array([0.28, 0.58, 0.20], np.float32) + 0.12 * fine + 0.08 * smooth,
        2: np.array([0.10, 0.28, 0.55], np.float32)
        + 0.06 * np.sin(y * 1.3 + 3 * smooth[..., 0])[:, :, None],
        3: np.array([0.42, 0.42, 0.44], np.float32) + 0.05 * fine,
        5: np.array([0.08, 0.30, 0.10], np.float32)
        + 0.10 * (_noise(rng, size, 12)[:, :, None] - 0.5),
    }
    img = np.zeros((size, size, 3), np.float32)
    for cid, layer in layers.items():
        img = np.where((label == cid)[:, :, None], layer, img)
    step = max(3, size // 16)
    windows = ((x.astype(int) % step) < step // 2) & ((y.astype(int) % step) < step // 2)
    for k in range(4):
        m = inst == 4000 + k
        if m.any():
            base = np.array([0.62, 0.34, 0.24], np.float32) + rng.uniform(-0.06, 0.06, 3).astype(
                np.float32
            )
            color = np.where(windows[:, :, None], np.array([0.18, 0.2, 0.28], np.float32), base)
            img = np.where(m[:, :, None], color + 0.03 * fine, img)
    return np.clip(img, 0.0, 1.0), label, inst


def _demo_readme(params: str) -> str:
    classes = ", ".join(f"{i} {n}" for i, n in enumerate(DEMO_CLASSES))
    return (
        f"{DEMO_MARKER}\n"
        f"{params}\n"
        "\n"
        "Made by i2i (i2i.datasets.labelmap.make_labelmap_demo); procedural, no downloads.\n"
        "Semantic image synthesis (label map -> photo) for SPADE: the 'labelmap' format.\n"
        "\n"
        f"classes (id name): {classes}\n"
        "Each class has its own colour and texture (blue sky gradient, noisy green grass, rippled\n"
        "dark-blue water, grey road, brick buildings with windows, blotchy dark-green trees).\n"
        "\n"
        "train/images, test/images        photos (RGB PNG)\n"
        "train/labels, test/labels        class ids (palette PNG: the indices are the ids)\n"
        "train/instances, test/instances  instance ids (16-bit PNG; 1000 * class + k for\n"
        "                                 buildings and trees, the class id elsewhere)\n"
        f"{PALETTE_NAME}                      class ids, display colours and names\n"
    )


def make_labelmap_demo(
    out_dir: Path, seed: int = 0, n_train: int = 120, n_test: int = 12, size: int = 64
) -> None:
    """Write the procedural labelmap demo dataset (outdoor scenes; see
    :func:`render_labelmap_scene`) with images, labels, instances, a palette and a README.

    Byte-identical for the same arguments; an existing demo folder made with the same arguments
    is rewritten in place; any other non-empty folder is refused (nothing is deleted).

    Raises:
        DatasetError: ``out_dir`` is a file, a non-empty non-demo folder, or a demo made with
            other arguments.
        ConfigError: a count or the size is out of range.

    Example:
        >>> make_labelmap_demo(Path("data/scenes"), seed=0)  # doctest: +SKIP
    """
    out, params = begin_demo(
        "make_labelmap_demo", out_dir, DEMO_MARKER,
        seed=seed, n_train=n_train, n_test=n_test, size=size,
    )  # fmt: skip
    (out / README_NAME).write_text(_demo_readme(params))  # marks the folder first
    write_palette(out / PALETTE_NAME, DEMO_CLASSES, DEMO_COLORS)
    flat = [v for c in DEMO_COLORS for v in c]
    for split, count in (("train", n_train), ("test", n_test)):
        folders = split_folders(out, split)
        for f in folders.values():
            f.mkdir(parents=True, exist_ok=True)
        for k in range(count):
            rng = np.random.default_rng(np.random.SeedSequence([seed, _STREAM[split], k]))
            img, label, inst = render_labelmap_scene(rng, size)
            name = f"{k:04d}.png"
            write_image(folders["image"] / name, img)
            lab = Image.frombytes("P", (size, size), label.tobytes())
            lab.putpalette(flat)
            lab.save(folders["label"] / name)
            Image.fromarray(inst.astype(np.uint16)).save(folders["instance"] / name)
    log.info("wrote the labelmap demo dataset to %s (%s)", out, params)


SPEC = DatasetFormatSpec(
    name=FORMAT_NAME,
    summary="Label maps + photos (SPADE): train/images, train/labels (+ instances/, palette.txt)",
    keys=KEYS,
    validate=validate_labelmap,
    build=build_labelmap,
    demo=make_labelmap_demo,
)


@hookimpl
def i2i_register_dataset_formats(registrar: Registrar) -> None:
    """Register the ``labelmap`` format."""
    registrar.add(FORMAT_NAME, SPEC)


__all__ = [
    "FORMAT_NAME",
    "KEYS",
    "PALETTE_NAME",
    "SPEC",
    "LabelMapDataset",
    "LabelOptions",
    "Palette",
    "UnknownColorsError",
    "build_labelmap",
    "find_palette",
    "make_labelmap_demo",
    "read_label_map",
    "read_palette",
    "render_labelmap_scene",
    "split_folders",
    "validate_labelmap",
    "write_palette",
]
