"""Built-in plugin ``dataset_sources``: the catalogue of ``i2i datasets download / prepare``.

CycleGAN's unpaired sets, pix2pix's paired sets, DIV2K, Cityscapes, ADE20K and COCO-Stuff; a
third-party plugin adds its own sources through the same hook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from i2i.hookspecs import hookimpl
from i2i.specs import DatasetSource

from . import ade20k, cityscapes, coco_stuff, cyclegan, div2k, pix2pix

if TYPE_CHECKING:  # pragma: no cover
    from i2i.registry import Registrar


def builtin_sources() -> tuple[DatasetSource, ...]:
    """Every built-in source, in catalogue order."""
    return (
        *cyclegan.SOURCES,
        *pix2pix.SOURCES,
        *cityscapes.SOURCES,
        *div2k.SOURCES,
        *ade20k.SOURCES,
        *coco_stuff.SOURCES,
    )


@hookimpl
def i2i_register_dataset_sources(registrar: Registrar) -> None:
    for source in builtin_sources():
        registrar.add(source.name, source)
