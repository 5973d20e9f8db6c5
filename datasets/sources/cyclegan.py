"""The CycleGAN paper's unpaired datasets (Zhu et al., ICCV 2017) -> the ``unpaired`` format.

Each set is one zip, ``NAME.zip`` -> ``NAME/trainA trainB testA testB``, as fetched by the
reference project's ``datasets/download_cyclegan_dataset.sh`` (now served from
``efrosgans.eecs.berkeley.edu/cyclegan/datasets/``). Sizes and SHA-256 are those TensorFlow
Datasets recorded for the same file names (``url_checksums/cycle_gan.txt``, when the files were
served from ``people.eecs.berkeley.edu/~taesung_park/CycleGAN/datasets/``); ``cityscapes.zip``
has none because the file now served is listed at a different size (58 MB vs 280 MB).
"""

from __future__ import annotations

from i2i.specs import ConvertJob, DatasetSource, SourceFile

from .cityscapes import CITYSCAPES_FILES, CITYSCAPES_TERMS, cityscapes_manual, convert_unpaired
from .layout import adopt

BASE_URL = "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/"
CHECKSUMS = (
    "TensorFlow Datasets url_checksums/cycle_gan.txt (same file at its earlier URL "
    "people.eecs.berkeley.edu/~taesung_park/CycleGAN/datasets/)"
)
ORIGIN = "CycleGAN paper (Zhu et al. 2017), junyanz/pytorch-CycleGAN-and-pix2pix"
_DOCS = "https://github.com/junyanz/pytorch-CycleGAN-and-pix2pix/blob/master/docs/datasets.md"
_IMAGENET = ("ImageNet terms of access (non-commercial research)", "https://image-net.org/download")
_FLICKR = ("Flickr photos, each under its owner's terms; research use", _DOCS)
_ART = ("WikiArt paintings and Flickr photos, under their owners' terms; research use", _DOCS)

#: name -> (summary, (licence, terms URL), size in bytes, SHA-256)
SETS: dict[str, tuple[str, tuple[str, str], int | None, str | None]] = {
    "apple2orange": (
        "apples <-> oranges (ImageNet), 996 apple and 1,020 orange images",
        _IMAGENET,
        78456409,
        "845a191e9af8926408ea597001cd03a452e3300a1f44a79fe329b3d59f6e3eb8",
    ),
    "summer2winter_yosemite": (
        "Yosemite in summer <-> winter (Flickr), 1,273 summer and 854 winter images",
        _FLICKR,
        132640856,
        "167fe1726807a9d22bd106b4a6c0bd7953b688af924ac1bf967439c4961e49f9",
    ),
    "horse2zebra": (
        "horses <-> zebras (ImageNet), 939 horse and 1,177 zebra images",
        _IMAGENET,
        116867962,
        "a74d9d392eecca9966b51287a76ca126af473d9de4f3e8fc0e9cda08fa1730a1",
    ),
    "monet2photo": (
        "Monet paintings <-> landscape photos, 1,074 + 6,853 training images",
        _ART,
        305231073,
        "88f91b00fc228f97c9411fbf1880ec1d119c98f1722e4cfcfaa2fb35fac05b04",
    ),
    "cezanne2photo": (
        "Cezanne paintings <-> landscape photos, 584 + 6,853 training images",
        _ART,
        279885071,
        "3a6c10ca21f9485862f1cbd707744b9dc258954a04631271d23a3605eeb63cff",
    ),
    "ukiyoe2photo": (
        "ukiyo-e prints <-> landscape photos, 1,433 + 6,853 training images",
        _ART,
        292946532,
        "02a2a2fb5ecf425ca1bf86aca7304377da64a2a1d3b86df54eb65e4068bf3b08",
    ),
    "vangogh2photo": (
        "Van Gogh paintings <-> landscape photos, 401 + 6,853 training images",
        _ART,
        306590349,
        "362c3473e70be0944bda08d49d660eafdc2854df55d697835b8186d1d79caaff",
    ),
    "maps": (
        "aerial photos <-> Google Maps tiles, 1,096 training images",
        (
            "Google Maps imagery, under Google's terms",
            "https://www.google.com/permissions/geoguidelines/",
        ),
        1476754427,
        "639534f69dbf9f36bef8d6292a7698006361221f83f0285d7c9ca78afe6e8a9e",
    ),
    "facades": (
        "building photos <-> facade label maps (CMP Facades), 400 training images",
        ("CMP Facade Database terms", "https://cmp.felk.cvut.cz/~tylecr1/facade/"),
        35135868,
        "9a31ebf3a31b9b5cd195dd5bf62e9308e00cb94604d1019e3889ac84248695c0",
    ),
    "iphone2dslr_flower": (
        "iPhone <-> DSLR flower photos (Flickr), 1,813 + 3,316 training images",
        _FLICKR,
        339964458,
        "8fcb5e374d631b107e1d961b8c4cd0a186aa2a4ff3e279923f4c426128de7113",
    ),
}


def _mb(size: int | None) -> str:
    if size is None:
        return ""
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


def convert(job: ConvertJob) -> None:
    """The zip already is the ``unpaired`` layout: place the folder holding trainA/ + trainB/."""
    adopt(job, ("trainA", "trainB"), "the CycleGAN zip")


def _source(name: str) -> DatasetSource:
    summary, (licence, terms), size, sha = SETS[name]
    return DatasetSource(
        name=f"cyclegan/{name}",
        summary=summary,
        family="cyclegan",
        format="unpaired",
        convert=convert,
        files=(
            SourceFile(BASE_URL + f"{name}.zip", sha256=sha, size=size, checksum_origin=CHECKSUMS),
        ),
        size=_mb(size),
        licence=licence,
        terms_url=terms,
        origin=ORIGIN,
    )


def _cityscapes() -> DatasetSource:
    return DatasetSource(
        name="cyclegan/cityscapes",
        summary="street photos <-> Cityscapes colour label maps, 2,975 training images (256 px)",
        family="cyclegan",
        format="unpaired",
        convert=convert_unpaired,
        files=(SourceFile(BASE_URL + "cityscapes.zip"),),
        manual=(
            "The Cityscapes images may only be used under the Cityscapes licence (register and "
            "accept it at https://www.cityscapes-dataset.com). 'download' fetches the CycleGAN "
            "authors' 256 px zip; to build the same layout from the official files instead:\n"
            + cityscapes_manual("cyclegan/cityscapes")
        ),
        manual_files=CITYSCAPES_FILES,
        licence="Cityscapes licence: registration, non-commercial use",
        terms_url=CITYSCAPES_TERMS,
        origin=ORIGIN + "; images and labels from Cityscapes (Cordts et al. 2016)",
    )


SOURCES: tuple[DatasetSource, ...] = (*(_source(n) for n in SETS), _cityscapes())
