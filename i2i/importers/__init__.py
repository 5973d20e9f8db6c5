"""Importers of other projects' trained checkpoints (``i2i import``).

One module per reference project's layout (detect + convert), each registered through the
``i2i_register_importers`` hook like any plugin's, so third-party plugins can add layouts:

- :mod:`~i2i.importers.cyclegan_pix2pix`: pytorch-CycleGAN-and-pix2pix generators and
  discriminators -> ``pix2pix`` / ``cyclegan``;
- :mod:`~i2i.importers.basicsr`: BasicSR / ESRGAN / Real-ESRGAN RRDBNet and MSRResNet -> ``srgan``;
- :mod:`~i2i.importers.spade`: SPADE generators and VAE encoders -> ``spade``.

:mod:`~i2i.importers.core` holds the shared plumbing: safe reading, unwrapping, the strict key
mapping and writing the run directory. See docs/import.md.

Example:
    >>> import i2i
    >>> from i2i.importers import import_checkpoint
    >>> ctx = i2i.load_context()
    >>> result = import_checkpoint(ctx, "RealESRGAN_x4plus.pth", "runs/x4")  # doctest: +SKIP
    >>> result.family  # doctest: +SKIP
    'srgan'
"""

from __future__ import annotations

from i2i.importers.core import (
    ZERO,
    Fill,
    Importer,
    ImportPlan,
    ImportResult,
    NetworkImport,
    SourceFile,
    import_checkpoint,
    open_source,
    read_weights,
)

__all__ = [
    "ZERO",
    "Fill",
    "ImportPlan",
    "ImportResult",
    "Importer",
    "NetworkImport",
    "SourceFile",
    "import_checkpoint",
    "open_source",
    "read_weights",
]
