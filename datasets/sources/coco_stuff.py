"""COCO-Stuff (Caesar et al., CVPR 2018) -> the ``labelmap`` format, as SPADE trains on it.

The files need the acceptance of the COCO terms of use, so the user downloads them and runs
``i2i datasets prepare spade/coco_stuff DIR FROM...``:

- ``train2017.zip``, ``val2017.zip`` (COCO photos: ``train2017/*.jpg``, ``val2017/*.jpg``);
- ``stuffthingmaps_trainval2017.zip`` (label maps ``train2017/*.png``, ``val2017/*.png``: ids
  0..181 are COCO-Stuff's 182 labels 1..182, 255 is unlabeled), copied as they are;
- optionally ``panoptic_annotations_trainval2017.zip``: its panoptic PNGs (one colour per
  segment, things and stuff) become the instance maps (``instances/``, 16-bit, one id per
  segment), whose boundaries SPADE feeds its generator. SPADE's authors drew the things'
  instance masks and the stuff label boundaries with pycocotools instead; the panoptic segments
  give the same kind of boundaries without that dependency (the panoptic stuff classes are
  merged coarser than COCO-Stuff's, so a few stuff-stuff boundaries are missing).

train2017 -> ``train/``, val2017 -> ``test/``; ``palette.txt`` names the 182 labels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from i2i.errors import DatasetError
from i2i.specs import ConvertJob, DatasetSource

from .layout import distinct_colors, pair_up, parallel_map

DONTCARE = 255
FILES: tuple[str, ...] = (
    "train2017.zip",
    "val2017.zip",
    "stuffthingmaps_trainval2017.zip",
    "panoptic_annotations_trainval2017.zip",
)
_SPLITS = (("train2017", "train"), ("val2017", "test"))

#: COCO-Stuff labels 1..182 (label id in the PNGs = label - 1); things 1-91 (11 of them unused
#: by COCO's annotations), stuff 92-182. ``_`` stands for a space.
_LABEL_WORDS = """
person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant
street_sign stop_sign parking_meter bench bird cat dog horse sheep cow elephant bear zebra giraffe
hat backpack umbrella shoe eye_glasses handbag tie suitcase frisbee skis snowboard sports_ball
kite baseball_bat baseball_glove skateboard surfboard tennis_racket bottle plate wine_glass cup
fork knife spoon bowl banana apple sandwich orange broccoli carrot hot_dog pizza donut cake chair
couch potted_plant bed mirror dining_table window desk toilet door tv laptop mouse remote keyboard
cell_phone microwave oven toaster sink refrigerator blender book clock vase scissors teddy_bear
hair_drier toothbrush hair_brush banner blanket branch bridge building-other bush cabinet cage
cardboard carpet ceiling-other ceiling-tile cloth clothes clouds counter cupboard curtain
desk-stuff dirt door-stuff fence floor-marble floor-other floor-stone floor-tile floor-wood
flower fog food-other fruit furniture-other grass gravel ground-other hill house leaves light mat
metal mirror-stuff moss mountain mud napkin net paper pavement pillow plant-other plastic
platform playingfield railing railroad river road rock roof rug salad sand sea shelf sky-other
skyscraper snow solid-other stairs stone straw structural-other table tent textile-other towel
tree vegetable wall-brick wall-concrete wall-other wall-panel wall-stone wall-tile wall-wood
water-other waterdrops window-blind window-other wood
"""
LABELS: tuple[str, ...] = tuple(w.replace("_", " ") for w in _LABEL_WORDS.split())

MANUAL = (
    "COCO's images come with the COCO terms of use (https://cocodataset.org/#termsofuse): read "
    "them, then download\n"
    "  http://images.cocodataset.org/zips/train2017.zip (18 GB)\n"
    "  http://images.cocodataset.org/zips/val2017.zip (1 GB)\n"
    "  http://calvin.inf.ed.ac.uk/wp-content/uploads/data/cocostuffdataset/"
    "stuffthingmaps_trainval2017.zip (labels, 0.7 GB)\n"
    "  and, for instance maps, http://images.cocodataset.org/annotations/"
    "panoptic_annotations_trainval2017.zip (0.8 GB)\n"
    "then run: i2i datasets prepare spade/coco_stuff DIR FOLDER_WITH_THE_ZIPS\n"
    "(or pass the zips, or their unpacked folders, one by one)."
)


def _panoptic_instances(item: tuple[Path, Path]) -> None:
    """A panoptic PNG (segment id = R + 256 G + 256^2 B) -> 16-bit map of segment numbers."""
    src, dst = item
    with Image.open(src) as im:
        rgb = np.asarray(im.convert("RGB")).astype(np.int64)
    ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
    uniq, inverse = np.unique(ids, return_inverse=True)
    numbers = np.arange(len(uniq), dtype=np.int64) + (0 if uniq[0] == 0 else 1)  # 0 stays void
    out = numbers[inverse.reshape(ids.shape)]
    if out.max() > 65535:
        raise DatasetError(f"panoptic map '{src}' has more than 65535 segments")
    dst.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(out.astype(np.uint16)).save(dst)


def _unpack_panoptic(job: ConvertJob, split: str) -> list[Path]:
    """Panoptic PNGs of a split: unpacked folders, or the inner ``panoptic_SPLIT.zip`` of
    ``panoptic_annotations_trainval2017.zip`` (unpacked into a scratch folder)."""
    pngs = job.files(f"**/panoptic_{split}/*.png")
    if pngs:
        return pngs
    inner = job.files(f"**/panoptic_{split}.zip")
    if not inner:
        return []
    folder = job.unpack(inner[0])
    return sorted(folder.glob(f"**/panoptic_{split}/*.png")) or sorted(folder.glob("**/*.png"))


def convert(job: ConvertJob) -> None:
    """COCO photos + stuffthingmaps (+ panoptic PNGs) -> labelmap with a 182-class palette."""
    from i2i.datasets.labelmap import write_palette

    inst_work = []
    with_instances = True
    for split, out_split in _SPLITS:
        pairs = pair_up(
            job,
            f"COCO-Stuff {split}",
            (
                f"{split}/*.jpg (COCO's {split}.zip)",
                {p.stem: p for p in job.files(f"**/{split}/*.jpg")},
            ),
            (
                f"{split}/*.png (stuffthingmaps_trainval2017.zip)",
                {p.stem: p for p in job.files(f"**/{split}/*.png")},
            ),
            required=split == "train2017",
            fix="pass the complete stuffthingmaps_trainval2017",
            every_second=False,
        )
        panoptic = {p.stem: p for p in _unpack_panoptic(job, split)}
        with_instances = (
            with_instances and bool(panoptic) and {k for k, _, _ in pairs} <= set(panoptic)
        )
        for stem, image, label in pairs:
            job.place(image, f"{out_split}/images/{stem}.jpg")
            job.place(label, f"{out_split}/labels/{stem}.png")
            if stem in panoptic:
                dst = job.out / out_split / "instances" / f"{stem}.png"
                inst_work.append((panoptic[stem], dst))
    if with_instances:
        parallel_map(_panoptic_instances, inst_work)
        job.params["instance"] = 1
        job.train_args += ["--set", "use_instances=true"]
        job.notes.append("instance maps made from the COCO panoptic segments")
    else:
        job.params["instance"] = 0
        job.notes.append(
            "no instance maps (pass panoptic_annotations_trainval2017.zip to get them)"
        )
    write_palette(job.out / "palette.txt", list(LABELS), distinct_colors(len(LABELS)))
    job.notes.append(f"label ids 0-181 are COCO-Stuff's 182 labels; {DONTCARE} = unlabeled")


SOURCES: tuple[DatasetSource, ...] = (
    DatasetSource(
        name="spade/coco_stuff",
        summary="COCO photos with 182-class stuff+thing label maps (118k train, 5k val)",
        family="spade",
        format="labelmap",
        convert=convert,
        manual=MANUAL,
        manual_files=FILES,
        size="~21 GB",
        licence="COCO images: Flickr terms of use; COCO-Stuff labels: CC BY 4.0",
        terms_url="https://github.com/nightrome/cocostuff#licensing",
        origin="COCO-Stuff (Caesar et al. 2018) on COCO 2017 (Lin et al. 2014)",
        params={"dontcare": DONTCARE},
        train_args=("--set", f"dontcare={DONTCARE}"),
    ),
)
