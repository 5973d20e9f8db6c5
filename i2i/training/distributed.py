"""torch.distributed support: process-group setup from torchrun's environment, DDP wrapping of a
family's networks, and the collectives the trainer needs.

``torchrun --nproc_per_node N -m i2i train ...`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``;
:func:`setup` turns them into a process group (nccl on GPUs, gloo on CPU) with a timeout, so a
rank that dies or hangs ends the others with an error instead of a silent hang.

Each network of every optimizer group is wrapped in its own ``DistributedDataParallel``. While
one group is optimized, the DDP wrappers of the other groups run under ``no_sync()``, so the
G/D alternation (discriminators used, but frozen, in the generator step) never leaves DDP
waiting for gradients that will not come, and no ``find_unused_parameters`` scan is needed.
Checkpoints are written from the unwrapped networks, so their keys do not depend on the world
size.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import logging
import os
from collections.abc import Iterator, Mapping, Sequence

import torch
import torch.distributed as dist
from torch import nn

from i2i.errors import ConfigError
from i2i.training import runtime

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 600.0


@dataclasses.dataclass(frozen=True)
class DistInfo:
    """This process's place in a distributed run (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def env_info() -> DistInfo:
    """Rank, world size and local rank from torchrun's environment variables."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    rank = int(os.environ.get("RANK", "0") or 0)
    local = int(os.environ.get("LOCAL_RANK", str(rank)) or 0)
    return DistInfo(rank=rank, world_size=world, local_rank=local)


def timeout_seconds() -> float:
    """Collective timeout: ``I2I_DIST_TIMEOUT`` seconds (default 600)."""
    raw = os.environ.get("I2I_DIST_TIMEOUT", "")
    try:
        return float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        raise ConfigError(f"I2I_DIST_TIMEOUT must be a number of seconds, got {raw!r}") from None


def setup(device: str = "auto") -> tuple[DistInfo, torch.device]:
    """Join the process group described by the environment (if any) and pick this rank's device.

    Single-process runs return ``DistInfo()`` and :func:`runtime.resolve_device`'s device. Under
    torchrun, GPUs use ``cuda:LOCAL_RANK`` with nccl; ``--device cpu`` (or no GPU) uses gloo.

    Raises:
        ConfigError: a device that cannot run distributed (mps), or a GPU rank without its GPU.
    """
    info = env_info()
    if not info.enabled:
        return info, runtime.resolve_device(device)
    name = (device or "auto").lower()
    use_cuda = name.startswith("cuda") or (name == "auto" and torch.cuda.is_available())
    if use_cuda:
        if info.local_rank >= torch.cuda.device_count():
            raise ConfigError(
                f"rank {info.rank} has LOCAL_RANK {info.local_rank} but only "
                f"{torch.cuda.device_count()} GPU(s) are visible; use --nproc_per_node <= GPUs"
            )
        dev = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(dev)
        backend = "nccl"
    else:
        dev = runtime.resolve_device(name)
        if dev.type != "cpu":
            raise ConfigError(f"distributed training supports cuda and cpu, not {dev.type}")
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_seconds()))
    log.info("rank %d of %d on %s (%s)", info.rank, info.world_size, dev, backend)
    return dataclasses.replace(info, backend=backend), dev


def teardown() -> None:
    """Leave the process group (no-op when not distributed)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _owner(root: nn.Module, target: nn.Module) -> tuple[nn.Module, str, str]:
    for path, module in root.named_modules():
        for name, child in module.named_children():
            if child is target:
                return module, name, f"{path}.{name}" if path else name
    raise ConfigError(
        "an optimizer group's module is not a sub-module of the model; register networks as "
        "attributes of the GANModel"
    )


class DDPModel:
    """The DDP wrappers of a model's networks, by optimizer group.

    Args:
        model: The family's model (networks are replaced by their DDP wrappers in place).
        groups: Group name -> the group's networks.
        device: This rank's device.
    """

    def __init__(
        self, model: nn.Module, groups: Mapping[str, Sequence[nn.Module]], device: torch.device
    ) -> None:
        from torch.nn.parallel import DistributedDataParallel as DDP

        self.model = model
        self.wrappers: dict[str, list[DDP]] = {}
        self.paths: list[str] = []
        ids = [device.index] if device.type == "cuda" else None
        for group, modules in groups.items():
            self.wrappers[group] = []
            for m in modules:
                if not any(p.requires_grad for p in m.parameters()):
                    continue
                parent, name, path = _owner(model, m)
                wrapped = DDP(m, device_ids=ids)
                setattr(parent, name, wrapped)
                self.wrappers[group].append(wrapped)
                self.paths.append(path)

    @contextlib.contextmanager
    def only(self, group: str) -> Iterator[None]:
        """Gradients of ``group`` are synchronized; every other group runs under ``no_sync``."""
        with contextlib.ExitStack() as stack:
            for name, wrappers in self.wrappers.items():
                if name != group:
                    for w in wrappers:
                        stack.enter_context(w.no_sync())
            yield

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The model's state dict with the DDP ``module.`` levels removed."""
        out = {}
        for k, v in self.model.state_dict().items():
            for p in self.paths:
                if k.startswith(p + ".module."):
                    k = p + "." + k[len(p) + len(".module.") :]
                    break
            out[k] = v
        return out


def all_reduce_mean(values: Mapping[str, float], device: torch.device) -> dict[str, float]:
    """Average scalars over all ranks (identity when not distributed)."""
    if not (dist.is_initialized() and dist.get_world_size() > 1) or not values:
        return dict(values)
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    t /= dist.get_world_size()
    return dict(zip(keys, t.tolist(), strict=True))


def max_over_ranks(value: int, device: torch.device) -> int:
    """The largest ``value`` over all ranks (e.g. a stop signal number, 0 for none)."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return int(value)
    t = torch.tensor([float(value)], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())


def barrier() -> None:
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def shard(items: Sequence, info: DistInfo | None = None) -> list:
    """This rank's share of ``items`` (every ``world_size``-th item from ``rank``)."""
    info = info or env_info()
    return list(items[info.rank :: info.world_size])
