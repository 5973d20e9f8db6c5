"""Dataset sources: the catalogue behind ``i2i datasets download / prepare / list``.

A source (:class:`i2i.DatasetSource`) names the files of a public dataset and a converter that
turns the unpacked upstream layout into an i2i dataset format. Sources are registered through
the ``i2i_register_dataset_sources`` hook (built-ins: :mod:`.builtin`), and :mod:`.pipeline`
runs download -> verify -> unpack -> convert -> validate -> atomic commit.

Example:
    >>> from i2i import load_context
    >>> from i2i.datasets.sources import download_dataset, resolve_source
    >>> ctx = load_context()  # doctest: +SKIP
    >>> ds = download_dataset(ctx, resolve_source(ctx, "horse2zebra"), "data/h2z")  # doctest: +SKIP
    >>> ds.train_command  # doctest: +SKIP
    'i2i train cyclegan data/h2z'
"""

from __future__ import annotations

from .pipeline import (
    MARKER,
    PreparedDataset,
    download_dataset,
    is_url,
    lock_key,
    prepare_dataset,
    resolve_source,
    train_command,
    url_source,
    validate,
)

__all__ = [
    "MARKER",
    "PreparedDataset",
    "download_dataset",
    "is_url",
    "lock_key",
    "prepare_dataset",
    "resolve_source",
    "train_command",
    "url_source",
    "validate",
]
