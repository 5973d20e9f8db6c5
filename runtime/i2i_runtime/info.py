"""What a translation model takes and returns (:class:`InferenceInfo`)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class InferenceInfo:
    """What the inference module of one direction takes and returns.

    Attributes:
        inputs: Input kinds in order: ``"image"``; ``"label"`` (+ ``"instance"``, ``"style"``);
            ``"noise"``, ``"class"``.
        in_channels: Channels of the input image (or label classes for label maps).
        out_channels: Channels of the output image.
        stride: Input height and width must be multiples of this (translate pads, then crops).
        scale: Output size / input size (e.g. 4 for x4 super-resolution).
        value_range: Range of input and output pixel values (i2i uses (-1, 1)).
        direction: ``"AtoB"``, ``"BtoA"`` or another family-defined name.
        num_classes: Class count for ``"class"`` inputs (0 when there is none). For ``"noise"``
            inputs ``in_channels`` is the noise dimension.
    """

    inputs: tuple[str, ...]
    in_channels: int
    out_channels: int
    stride: int = 1
    scale: int = 1
    value_range: tuple[float, float] = (-1.0, 1.0)
    direction: str = "AtoB"
    num_classes: int = 0

    @property
    def kind(self) -> str:
        """``"image"`` (image in, image out), ``"label"`` (label map in: SPADE-style) or
        ``"sampler"`` (noise + class id in: class-conditional generators)."""
        if self.inputs[:1] == ("label",):
            return "label"
        if tuple(self.inputs) == ("noise", "class"):
            return "sampler"
        return "image"
