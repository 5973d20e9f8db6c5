"""ADE20K scene parsing (Zhou et al., CVPR 2017; the MIT Scene Parsing benchmark's 150-class
release ``ADEChallengeData2016.zip``) -> the ``labelmap`` format, as SPADE trains on it.

The zip unpacks to ``ADEChallengeData2016/images/{training,validation}/*.jpg``,
``annotations/{training,validation}/*.png`` (0 = "other", 1..150 the classes) and
``objectInfo150.txt`` (class names). Conversion: photos are placed as they are; label maps are
rewritten with id - 1 (so ids 0..149 are the 150 classes) and 0 -> 255, the dontcare id, which is
SPADE's own mapping; ``palette.txt`` names the classes (from ``objectInfo150.txt``); training ->
``train/``, validation -> ``test/``. Size and SHA-256 are those TensorFlow Datasets recorded
(``url_checksums/ade20k.txt``). The full ADE20K dataset (with instance masks) needs an account
at https://ade20k.csail.mit.edu and is not this source.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from i2i.errors import DatasetError
from i2i.specs import ConvertJob, DatasetSource, SourceFile

from .layout import distinct_colors, pair_up, parallel_map

URL = "http://data.csail.mit.edu/places/ADEchallenge/ADEChallengeData2016.zip"
NUM_CLASSES = 150
DONTCARE = 255
_SPLITS = (("training", "train"), ("validation", "test"))
#: Old label value -> new: 0 (other) -> 255 (dontcare), k -> k - 1.
_LUT = np.array([DONTCARE] + list(range(NUM_CLASSES)) + [DONTCARE] * (255 - NUM_CLASSES), np.uint8)


def read_class_names(path: Path | None) -> list[str]:
    """Class names 1..150 from ``objectInfo150.txt`` (tab-separated, name last; the first
    synonym of ``a;b;c``), or ``class1 .. class150`` when the file is absent."""
    if path is None:
        return [f"class{i}" for i in range(1, NUM_CLASSES + 1)]
    names: dict[int, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.rstrip("\n").split("\t")
        if len(fields) < 2 or not fields[0].strip().isdigit():
            continue  # the header
        names[int(fields[0])] = fields[-1].split(";")[0].split(",")[0].strip() or fields[0]
    return [names.get(i, f"class{i}") for i in range(1, NUM_CLASSES + 1)]


def _convert_label(item: tuple[Path, Path]) -> None:
    src, dst = item
    with Image.open(src) as im:
        arr = np.asarray(im)
    if arr.ndim != 2:
        raise DatasetError(f"ADE20K annotation '{src}' is not a single-channel label map")
    dst.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_LUT[arr.astype(np.uint8)]).save(dst)


def convert(job: ConvertJob) -> None:
    """ADEChallengeData2016 -> labelmap (ids shifted by one, 0 -> 255 dontcare, palette)."""
    from i2i.datasets.labelmap import write_palette

    work = []
    for split, out_split in _SPLITS:
        images = {p.stem: p for p in job.files(f"**/images/{split}/*.jpg")}
        labels = {p.stem: p for p in job.files(f"**/annotations/{split}/*.png")}
        pairs = pair_up(
            job,
            f"ADE20K {split}",
            (f"images/{split}/*.jpg (ADEChallengeData2016)", images),
            (f"annotations/{split}/*.png (ADEChallengeData2016)", labels),
            required=split == "training",
            fix="pass the complete ADEChallengeData2016",
        )
        for stem, image, label in pairs:
            job.place(image, f"{out_split}/images/{stem}.jpg")
            work.append((label, job.out / out_split / "labels" / f"{stem}.png"))
    parallel_map(_convert_label, work)
    info = job.files("**/objectInfo150.txt")
    names = read_class_names(info[0] if info else None)
    write_palette(job.out / "palette.txt", names, distinct_colors(NUM_CLASSES))
    job.notes.append(
        f"label ids 0-149 are ADE20K's 150 classes (palette.txt); 'other' is {DONTCARE} "
        "(dontcare); the validation split is test/"
    )


SOURCES: tuple[DatasetSource, ...] = (
    DatasetSource(
        name="spade/ade20k",
        summary="indoor/outdoor scenes: 150-class label maps -> photos (20,210 train, 2,000 val)",
        family="spade",
        format="labelmap",
        convert=convert,
        files=(
            SourceFile(
                URL,
                sha256="7ff1be44964418441f542a7cc1e1a650e7dc0fc275f5d23252bc9bbdbc977b29",
                size=967382037,
                checksum_origin="TensorFlow Datasets url_checksums/ade20k.txt",
            ),
        ),
        size="967 MB",
        licence="research use; see the MIT Scene Parsing / ADE20K terms",
        terms_url="http://sceneparsing.csail.mit.edu/",
        origin="ADE20K (Zhou et al. 2017), MIT Scene Parsing benchmark release",
        params={"dontcare": DONTCARE},
        train_args=("--set", f"dontcare={DONTCARE}"),
    ),
)
