"""Building a family's model, for a checkpoint within a memory budget taken from its weights.

A checkpoint's metadata says how to rebuild its model (``generator.ngf``, ``n_blocks``, ...);
edited metadata could ask for a model of any size. :func:`build_model` builds with global
parameter/buffer registration hooks that stop the build as soon as it registers clearly more
tensors or values than the weights file holds (read from the safetensors header, no tensor
loaded), then compares every name and shape with the header before any weight is read.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from i2i.errors import CheckpointError, ConfigError, I2IError, describe_failure

if TYPE_CHECKING:  # pragma: no cover
    from i2i.training.checkpoint import CheckpointHeader


#: Values a family may build beyond its checkpoint's weights: frozen loss networks that are not
#: saved (the VGG19 features of spade's and srgan's perceptual loss: 20.0 million values). Absurd
#: metadata (``ngf=100000``, ``n_blocks=100000``) still stops within a fraction of a second.
FROZEN_NETWORK_VALUES = 24_000_000


def _too_large(
    source: Path, shapes: Mapping[str, tuple[int, ...]], why: str = ""
) -> CheckpointError:
    weights = sum(math.prod(s) for s in shapes.values())
    return CheckpointError(
        f"{source}: the model its metadata describes is larger than the weights it holds "
        f"({len(shapes)} tensors, {weights:,} values{why}); the metadata was edited or the file "
        "is damaged, so the model is not built"
    )


@contextlib.contextmanager
def _budget(shapes: Mapping[str, tuple[int, ...]], source: Path) -> Iterator[None]:
    """Abort a model build as soon as it registers clearly more tensors or values than the
    checkpoint holds (a generous margin covers re-registered parameters, e.g. spectral norm)."""
    from torch.nn.modules import module as M  # noqa: N812

    weights = sum(math.prod(s) for s in shapes.values())
    max_count = 3 * len(shapes) + 64 + 2 * 16  # + the 16 conv layers of VGG19's features
    max_numel = 2 * weights + 2**20 + FROZEN_NETWORK_VALUES
    seen = {"count": 0, "numel": 0}

    def hook(_module: Any, _name: str, tensor: Any) -> None:
        if tensor is None:
            return
        seen["count"] += 1
        seen["numel"] += int(tensor.numel())
        if seen["count"] > max_count or seen["numel"] > max_numel:
            raise _too_large(source, shapes)

    handles = [
        M.register_module_parameter_registration_hook(hook),
        M.register_module_buffer_registration_hook(hook),
    ]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def build_model(
    spec: Any, model_config: Any, ctx: Any, header: CheckpointHeader | None = None
) -> torch.nn.Module:
    """Build a family's model; for a checkpoint (``header``), within a memory budget taken from
    its weights' shapes, then check every tensor name and shape against them.

    Raises:
        CheckpointError: the config does not describe the checkpoint's weights.
        ConfigError: the family cannot build a model from this config.
    """
    budget = _budget(header.shapes, header.path) if header else contextlib.nullcontext()
    try:
        with budget:
            model = spec.build(model_config, ctx)
    except ConfigError as e:
        if header is None:
            raise
        raise CheckpointError(
            f"{header.path}: the model for these weights cannot be built: {e}"
        ) from None
    except I2IError:
        raise
    except (ValueError, TypeError, RuntimeError, AttributeError, IndexError, KeyError) as e:
        fail = describe_failure(e)
        if fail.message.startswith("out of") and header is not None:
            # a tensor too large to allocate at all, before the budget could see it registered
            why = f"; {fail.message.split(';')[0]}"
            raise _too_large(header.path, header.shapes, why) from None
        if fail.message.startswith("out of"):
            raise
        what = f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:200]}"
        src = f" (the config of {header.path})" if header else ""
        raise ConfigError(
            f"the '{spec.name}' family cannot build a model from its config{src}: {what}; check "
            f"the model settings (`i2i models {spec.name}` lists them)"
        ) from e
    if header is not None:
        _check_shapes(model, header, spec.name)
    return model


def _check_shapes(model: torch.nn.Module, header: CheckpointHeader, family: str) -> None:
    have = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    want = header.shapes
    missing = [k for k in have if k not in want]
    extra = [k for k in want if k not in have]
    differ = [k for k in have if k in want and have[k] != want[k]]
    if not (missing or extra or differ):
        return
    if differ:
        k = differ[0]
        first = f"{k} is {list(want[k])} in the file but {list(have[k])} in the model"
    elif missing:
        first = f"{missing[0]} is missing from the file"
    else:
        first = f"{extra[0]} in the file is not part of the model"
    n = len(missing) + len(extra) + len(differ)
    raise CheckpointError(
        f"{header.path} does not fit the '{family}' model its config describes: {first} "
        f"({n} difference{'s' if n > 1 else ''}); was the metadata edited, or the file written "
        "by another version of the plugin?"
    )
