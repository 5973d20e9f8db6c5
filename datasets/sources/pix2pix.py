"""The pix2pix paper's paired datasets (Isola et al., CVPR 2017) -> the ``aligned`` format.

Each set is one tarball, ``NAME.tar.gz`` -> ``NAME/train val [test]`` of side-by-side A|B
images, as fetched by the reference project's ``datasets/download_pix2pix_dataset.sh`` from
``efrosgans.eecs.berkeley.edu/pix2pix/datasets/``. No SHA-256 or exact size is published for
them: the first download's hash goes into the lock file. The approximate sizes are those of the
server's directory listing. Cityscapes is not served (its licence forbids it): it is built from
the official files by ``i2i datasets prepare pix2pix/cityscapes`` (see ``cityscapes.py``).
"""

from __future__ import annotations

from i2i.specs import ConvertJob, DatasetSource, SourceFile

from .layout import adopt

BASE_URL = "https://efrosgans.eecs.berkeley.edu/pix2pix/datasets/"
ORIGIN = "pix2pix paper (Isola et al. 2017), junyanz/pytorch-CycleGAN-and-pix2pix"
_DOCS = "https://github.com/junyanz/pytorch-CycleGAN-and-pix2pix/blob/master/docs/datasets.md"

#: name -> (summary, approximate size, licence, terms URL, train args)
SETS: dict[str, tuple[str, str, str, str, tuple[str, ...]]] = {
    "facades": (
        "facade photo | label map (CMP Facades), 400 images; trains labels -> photo (BtoA)",
        "~29 MB",
        "CMP Facade Database terms",
        "https://cmp.felk.cvut.cz/~tylecr1/facade/",
        ("--set", "direction=BtoA"),
    ),
    "maps": (
        "aerial photo | Google Maps tile, 1,096 training images; trains aerial -> map (AtoB)",
        "~239 MB",
        "Google Maps imagery, under Google's terms",
        "https://www.google.com/permissions/geoguidelines/",
        (),
    ),
    "edges2shoes": (
        "edge map | shoe photo (UT Zappos50K, HED edges), 50k training images",
        "~2.0 GB",
        "UT Zappos50K terms (academic, non-commercial)",
        "https://vision.cs.utexas.edu/projects/finegrained/utzap50k/",
        (),
    ),
    "edges2handbags": (
        "edge map | handbag photo (iGAN's Amazon handbags, HED edges), 137k training images",
        "~8.0 GB",
        "research use; see the iGAN project",
        "https://github.com/junyanz/iGAN",
        (),
    ),
    "night2day": (
        "webcam photos of the same scene at night and by day (Transient Attributes), 17,823 pairs",
        "~1.9 GB",
        "research use; see the Transient Attributes project",
        "http://transattr.cs.brown.edu/",
        (),
    ),
}


def convert(job: ConvertJob) -> None:
    """The tarball already is the ``aligned`` layout: place the folder holding train/."""
    adopt(job, ("train",), "the pix2pix tarball")


SOURCES: tuple[DatasetSource, ...] = tuple(
    DatasetSource(
        name=f"pix2pix/{name}",
        summary=summary,
        family="pix2pix",
        format="aligned",
        convert=convert,
        files=(SourceFile(BASE_URL + f"{name}.tar.gz"),),
        size=size,
        licence=licence,
        terms_url=terms,
        origin=ORIGIN,
        train_args=train_args,
    )
    for name, (summary, size, licence, terms, train_args) in SETS.items()
)
