"""History buffer of generated images (Shrivastava et al. 2017), as used by CycleGAN.

The discriminator is shown a mix of the newest fakes and older ones from the pool, which
reduces model oscillation. Randomness comes from the pool's own CPU ``torch.Generator``, so a run
that saves :meth:`ImagePool.state` and restores it with :meth:`ImagePool.load_state` continues
exactly as if it had not stopped.

Example:
    >>> import torch
    >>> pool = ImagePool(pool_size=2, seed=0)
    >>> pool.query(torch.zeros(1, 3, 8, 8)).shape
    torch.Size([1, 3, 8, 8])
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from i2i.errors import CheckpointError, InputError
from i2i.nn._checks import check_int

_STATE_KEYS = ("images", "count", "rng")


class ImagePool:
    """A buffer of up to ``pool_size`` previously generated images.

    For each image of a queried batch: while the pool is not full, the image is stored and
    returned; once full, with probability 0.5 a random stored image is returned and replaced by
    the new one, else the new image is returned. With ``pool_size=0`` the batch is returned
    unchanged.

    Args:
        pool_size: Images kept (50 in CycleGAN; 0 disables the pool).
        seed: Seed of the pool's own random generator.

    Raises:
        ConfigError: ``pool_size`` is negative or not an int.
    """

    def __init__(self, pool_size: int = 50, seed: int = 0) -> None:
        check_int("pool_size", pool_size, 0)
        self.pool_size = pool_size
        self._images: list[torch.Tensor] = []
        self._rng = torch.Generator(device="cpu")
        self._rng.manual_seed(seed)

    def __len__(self) -> int:
        return len(self._images)

    def __repr__(self) -> str:
        return f"ImagePool(pool_size={self.pool_size}, stored={len(self._images)})"

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """Return a batch drawn from the pool, updating it with ``images``.

        Args:
            images: A batch of generated images.

        Returns:
            A detached batch of the same shape, on ``images``' device (``images`` itself
            when ``pool_size == 0``).

        Raises:
            InputError: ``images`` is not batched, or its image shape differs from the stored
                images'.

        Shape:
            - Input: :math:`(N, C, H, W)` (any :math:`(N, *)`); output: same shape.
        """
        if self.pool_size == 0:
            return images
        if images.ndim < 2:
            raise InputError(f"ImagePool expects a batch (N, C, H, W), got {tuple(images.shape)}")
        images = images.detach()
        if self._images:
            stored = self._images[0]
            if stored.shape != images.shape[1:]:
                raise InputError(
                    f"ImagePool holds images of shape {tuple(stored.shape)}, got a batch of "
                    f"{tuple(images.shape[1:])}; use one image size per pool"
                )
            if stored.device != images.device or stored.dtype != images.dtype:
                self._images = [t.to(images.device, images.dtype) for t in self._images]
        out = []
        for image in images:
            if len(self._images) < self.pool_size:
                self._images.append(image.clone())
                out.append(image)
            elif torch.rand((), generator=self._rng).item() > 0.5:
                idx = int(torch.randint(self.pool_size, (), generator=self._rng).item())
                out.append(self._images[idx])
                self._images[idx] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

    __call__ = query

    def state(self) -> dict[str, torch.Tensor]:
        """Snapshot of the pool for checkpoints.

        Returns:
            ``{"images": (count, ...) stacked images (empty when count is 0), "count": int64
            scalar, "rng": uint8 generator state}``; all tensors, ready for safetensors.
        """
        if self._images:
            images = torch.stack(self._images)
        else:
            images = torch.empty(0)
        return {
            "images": images,
            "count": torch.tensor(len(self._images), dtype=torch.int64),
            "rng": self._rng.get_state(),
        }

    def load_state(self, state: Mapping[str, torch.Tensor]) -> None:
        """Restore a :meth:`state` snapshot exactly (stored images and random generator).

        Args:
            state: A mapping returned by :meth:`state` (possibly loaded from a file).

        Raises:
            CheckpointError: keys are missing, or the snapshot holds more images than
                ``pool_size``.
        """
        missing = [k for k in _STATE_KEYS if k not in state]
        if missing:
            raise CheckpointError(
                f"image pool state lacks {', '.join(missing)}; expected keys "
                f"{', '.join(_STATE_KEYS)} (was it saved by ImagePool.state()?)"
            )
        count = int(state["count"])
        images = state["images"]
        if count > self.pool_size or (count and images.shape[0] < count):
            raise CheckpointError(
                f"image pool state holds {count} images ({images.shape[0]} stored) but "
                f"pool_size is {self.pool_size}; use the pool_size the checkpoint was saved with"
            )
        self._images = [images[i].clone() for i in range(count)]
        self._rng.set_state(state["rng"].to(device="cpu", dtype=torch.uint8))
