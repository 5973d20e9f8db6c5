"""Cityscapes (Cordts et al., CVPR 2016) from the official files, which need an account.

The user downloads ``gtFine_trainvaltest.zip`` (fine annotations) and
``leftImg8bit_trainvaltest.zip`` (photos) from https://www.cityscapes-dataset.com after accepting
its licence, then ``i2i datasets prepare NAME DIR FROM...`` converts them:

- ``spade/cityscapes`` -> ``labelmap``: ``gtFine/*/*_gtFine_labelIds.png`` (ids 0-33, copied as
  they are), ``*_gtFine_instanceIds.png`` (instance ids, 16/32-bit) as ``instances/``, the photos
  as ``images/``; train -> ``train/``, val -> ``test/`` (the test split's labels are not public);
  ``palette.txt`` names the 34 classes with their Cityscapes colours.
- ``pix2pix/cityscapes`` -> ``aligned``: photo | colour label map (``*_gtFine_color.png``), each
  resized to 256x256 (photo bicubic, labels nearest, so label colours stay exact), as the pix2pix
  authors prepared it; train -> ``train/``, val -> ``val/``.
- ``cyclegan/cityscapes`` (built from the official files) -> ``unpaired``: photos in ``trainA/``,
  colour label maps in ``trainB/`` (256x256), val -> ``testA/ testB/``.

Files are paired by their ``CITY_SEQ_FRAME`` prefix; a photo without its label map (or the
reverse) is an error naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PIL import Image

from i2i.errors import DatasetError
from i2i.specs import ConvertJob, DatasetSource

from .layout import adopt, by_key, pair_up, parallel_map, unique_colors

CITYSCAPES_TERMS = "https://www.cityscapes-dataset.com/license/"
CITYSCAPES_FILES: tuple[str, ...] = ("gtFine_trainvaltest.zip", "leftImg8bit_trainvaltest.zip")
CITYSCAPES_MANUAL = (
    "1. Register at https://www.cityscapes-dataset.com and accept its licence.\n"
    "2. Download gtFine_trainvaltest.zip (241 MB) and leftImg8bit_trainvaltest.zip (11 GB) from "
    "https://www.cityscapes-dataset.com/downloads/.\n"
    "3. Run: i2i datasets prepare {name} DIR gtFine_trainvaltest.zip "
    "leftImg8bit_trainvaltest.zip\n"
    "   (FROM may also be the folder holding both zips, or the unpacked gtFine/ and "
    "leftImg8bit/ folders)."
)
_ORIGIN = "Cityscapes (Cordts et al. 2016), https://www.cityscapes-dataset.com"
_LICENCE = "Cityscapes licence: registration, non-commercial use"

#: (label id, name, colour) of Cityscapes' labelIds 0-33 (cityscapesScripts' labels.py).
CLASSES: tuple[tuple[int, str, tuple[int, int, int]], ...] = (
    (0, "unlabeled", (0, 0, 0)),
    (1, "ego vehicle", (0, 0, 0)),
    (2, "rectification border", (0, 0, 0)),
    (3, "out of roi", (0, 0, 0)),
    (4, "static", (0, 0, 0)),
    (5, "dynamic", (111, 74, 0)),
    (6, "ground", (81, 0, 81)),
    (7, "road", (128, 64, 128)),
    (8, "sidewalk", (244, 35, 232)),
    (9, "parking", (250, 170, 160)),
    (10, "rail track", (230, 150, 140)),
    (11, "building", (70, 70, 70)),
    (12, "wall", (102, 102, 156)),
    (13, "fence", (190, 153, 153)),
    (14, "guard rail", (180, 165, 180)),
    (15, "bridge", (150, 100, 100)),
    (16, "tunnel", (150, 120, 90)),
    (17, "pole", (153, 153, 153)),
    (18, "polegroup", (153, 153, 153)),
    (19, "traffic light", (250, 170, 30)),
    (20, "traffic sign", (220, 220, 0)),
    (21, "vegetation", (107, 142, 35)),
    (22, "terrain", (152, 251, 152)),
    (23, "sky", (70, 130, 180)),
    (24, "person", (220, 20, 60)),
    (25, "rider", (255, 0, 0)),
    (26, "car", (0, 0, 142)),
    (27, "truck", (0, 0, 70)),
    (28, "bus", (0, 60, 100)),
    (29, "caravan", (0, 0, 90)),
    (30, "trailer", (0, 0, 110)),
    (31, "train", (0, 80, 100)),
    (32, "motorcycle", (0, 0, 230)),
    (33, "bicycle", (119, 11, 32)),
)
#: (upstream split, i2i split) per converter.
_LABELMAP_SPLITS = (("train", "train"), ("val", "test"))
_ALIGNED_SPLITS = (("train", "train"), ("val", "val"))
_SIZE = 256


def _pairs(job: ConvertJob, split: str, label_suffix: str) -> list[tuple[str, Path, Path]]:
    """(key, photo, label file) of one upstream split, sorted by key."""
    labels = by_key(job.files(f"**/gtFine/{split}/*/*{label_suffix}"), label_suffix)
    photos = by_key(job.files(f"**/leftImg8bit/{split}/*/*_leftImg8bit.png"), "_leftImg8bit.png")
    return pair_up(
        job,
        f"Cityscapes {split}",
        (f"leftImg8bit/{split}/CITY/*_leftImg8bit.png files", photos),
        (f"gtFine/{split}/CITY/*{label_suffix} files", labels),
        required=split == "train",
        fix="pass both gtFine_trainvaltest and leftImg8bit_trainvaltest, complete",
    )


def convert_labelmap(job: ConvertJob) -> None:
    """labelIds + instanceIds + photos -> the ``labelmap`` layout with a palette."""
    from i2i.datasets.labelmap import write_palette

    for split, out_split in _LABELMAP_SPLITS:
        pairs = _pairs(job, split, "_gtFine_labelIds.png")
        instances = by_key(
            job.files(f"**/gtFine/{split}/*/*_gtFine_instanceIds.png"), "_gtFine_instanceIds.png"
        )
        missing = [k for k, _, _ in pairs if k not in instances]
        if missing:
            raise DatasetError(
                f"Cityscapes {split}: {len(missing)} frame(s) have no *_gtFine_instanceIds.png "
                f"(e.g. {missing[0]}); pass the complete gtFine_trainvaltest"
            )
        for key, photo, label in pairs:
            job.place(photo, f"{out_split}/images/{key}.png")
            job.place(label, f"{out_split}/labels/{key}.png")
            job.place(instances[key], f"{out_split}/instances/{key}.png")
    write_palette(
        job.out / "palette.txt",
        [name for _, name, _ in CLASSES],
        unique_colors(color for _, _, color in CLASSES),
    )
    job.params["instance"] = 1
    job.notes.append(
        "labels are Cityscapes labelIds 0-33 (palette.txt); instance maps come from "
        "*_gtFine_instanceIds.png; the val split is test/"
    )


def _resized(path: Path, resample: Image.Resampling) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGB").resize((_SIZE, _SIZE), resample)


def _write_side_by_side(item: tuple[Path, Path, Path]) -> None:
    photo, label, out = item
    canvas = Image.new("RGB", (2 * _SIZE, _SIZE))
    canvas.paste(_resized(photo, Image.Resampling.BICUBIC), (0, 0))
    canvas.paste(_resized(label, Image.Resampling.NEAREST), (_SIZE, 0))
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out)


def convert_aligned(job: ConvertJob) -> None:
    """photo | colour label map at 256 px -> the ``aligned`` layout (train/, val/)."""
    work = []
    for split, out_split in _ALIGNED_SPLITS:
        for key, photo, label in _pairs(job, split, "_gtFine_color.png"):
            work.append((photo, label, job.out / out_split / f"{key}.png"))
    parallel_map(_write_side_by_side, work)
    job.notes.append("A = photo (left), B = colour label map (right), 256x256 each")


def _write_resized(item: tuple[Path, Path, Image.Resampling]) -> None:
    src, out, resample = item
    out.parent.mkdir(parents=True, exist_ok=True)
    _resized(src, resample).save(out)


def _build_unpaired(job: ConvertJob) -> None:
    work: list[tuple[Path, Path, Image.Resampling]] = []
    for split, out_split in (("train", "train"), ("val", "test")):
        for key, photo, label in _pairs(job, split, "_gtFine_color.png"):
            work.append((photo, job.out / f"{out_split}A" / f"{key}.png", Image.Resampling.BICUBIC))
            work.append((label, job.out / f"{out_split}B" / f"{key}.png", Image.Resampling.NEAREST))
    parallel_map(_write_resized, work)


def convert_unpaired(job: ConvertJob) -> None:
    """The CycleGAN authors' zip as is, or the official files -> photos (A) and colour label
    maps (B) at 256 px."""
    if job.root_with("trainA", "trainB") is not None:
        adopt(job, ("trainA", "trainB"), "the CycleGAN cityscapes zip")
        return
    _build_unpaired(job)
    job.notes.append("trainA = photos, trainB = colour label maps (256x256); val is testA/testB")


def cityscapes_manual(name: str) -> str:
    """The steps to get the official files and prepare them as source ``name``."""
    return CITYSCAPES_MANUAL.replace("{name}", name)


def _source(
    name: str,
    family: str,
    fmt: str,
    summary: str,
    convert: Callable[[ConvertJob], None],
    train_args: tuple[str, ...] = (),
) -> DatasetSource:
    return DatasetSource(
        name=name,
        summary=summary,
        family=family,
        format=fmt,
        convert=convert,
        manual=cityscapes_manual(name),
        manual_files=CITYSCAPES_FILES,
        size="~11 GB",
        licence=_LICENCE,
        terms_url=CITYSCAPES_TERMS,
        origin=_ORIGIN,
        train_args=train_args,
    )


SOURCES: tuple[DatasetSource, ...] = (
    _source(
        "spade/cityscapes",
        "spade",
        "labelmap",
        "street scenes: 34-class label maps + instance maps -> photos (2,975 train, 500 val)",
        convert_labelmap,
        ("--set", "use_instances=true"),
    ),
    _source(
        "pix2pix/cityscapes",
        "pix2pix",
        "aligned",
        "street photo | colour label map, 256 px (2,975 train, 500 val); the pix2pix paper's set",
        convert_aligned,
        ("--set", "direction=BtoA"),
    ),
)
