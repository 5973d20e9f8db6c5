"""Built-in plugin: the importers of the reference projects' checkpoints (``i2i import``).

Registered exactly like a third-party plugin's importers, through ``i2i_register_importers``.
"""

from __future__ import annotations

from i2i.hookspecs import hookimpl
from i2i.importers import basicsr, cyclegan_pix2pix, spade
from i2i.registry import Registrar


@hookimpl
def i2i_register_importers(registrar: Registrar) -> None:
    """Register the pytorch-CycleGAN-and-pix2pix, BasicSR / ESRGAN / Real-ESRGAN and SPADE
    importers."""
    for module in (cyclegan_pix2pix, basicsr, spade):
        registrar.add(module.IMPORTER.name, module.IMPORTER)
