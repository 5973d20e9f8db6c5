"""Configuration types and the strict config loader.

Configs are frozen dataclasses whose fields carry a help text (``opt(default, "help")``). A run
config is built from defaults, an optional TOML file and ``--set key=value`` overrides, all through
:func:`from_dict` / :func:`apply_overrides`, which reject unknown keys and wrong types with a
message that lists the valid keys.

Example:
    >>> from i2i.config import GeneratorConfig, apply_overrides
    >>> apply_overrides(GeneratorConfig(), ["ngf=8", "n_blocks=2"]).ngf
    8
"""

from __future__ import annotations

import dataclasses
import math
import sys
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from i2i.errors import ConfigError, describe_os_error, one_line
from i2i_runtime.imageio import DEFAULT_MAX_PIXELS

MAX_TOML_BYTES = 16 * 1024 * 1024

C = TypeVar("C")


def opt(default: Any, help: str, **kw: Any) -> Any:  # noqa: A002 - "help" reads best here
    """A dataclass field with a default and a help text (shown by ``i2i train FAMILY --help``)."""
    if isinstance(default, (list, dict, set)):
        raise TypeError("use tuples for sequence defaults: configs are frozen")
    if dataclasses.is_dataclass(default):
        return dataclasses.field(default_factory=lambda: default, metadata={"help": help}, **kw)
    return dataclasses.field(default=default, metadata={"help": help}, **kw)


# ---------------------------------------------------------------------------------------------
# Shared config blocks. Families use the same names where they mean the same thing.


@dataclasses.dataclass(frozen=True)
class GeneratorConfig:
    """Generator architecture (resolved through the generator registry by ``arch``)."""

    arch: str = opt("resnet", "generator architecture name (see `i2i plugins`)")
    ngf: int = opt(64, "channels of the first generator layer")
    n_blocks: int = opt(9, "residual blocks (ResNet generators)")
    n_downsampling: int = opt(2, "stride-2 downsampling steps (resnet); the depth of arch unet")
    norm: str = opt("instance", "normalization layer: batch | instance | none")
    dropout: float = opt(0.0, "dropout probability inside the generator blocks")
    upsample: str = opt(
        "transpose", "upsampling: transpose (conv-transpose) | resize (resize+conv)"
    )
    padding: str = opt(
        "reflect", "padding mode of the residual blocks: reflect | replicate | zeros"
    )
    bias: str = opt(
        "auto",
        "bias of the convs followed by a norm: auto (all but before batch norm) | on | off "
        "(off = the reference code's norm none)",
    )
    init: str = opt("normal", "weight init: normal | xavier | kaiming | orthogonal")
    init_gain: float = opt(0.02, "scale of the weight init")


#: Values of ``GeneratorConfig.bias`` / ``DiscriminatorConfig.bias`` and what they build.
CONV_BIAS: dict[str, bool | None] = {"auto": None, "on": True, "off": False}


def conv_bias(value: str) -> bool | None:
    """The ``bias`` argument of the i2i.nn networks for a config's ``bias`` value.

    Raises:
        ConfigError: not ``auto``, ``on`` or ``off``.
    """
    if value not in CONV_BIAS:
        raise ConfigError(f"bias must be one of: auto, on, off; got {value!r}")
    return CONV_BIAS[value]


@dataclasses.dataclass(frozen=True)
class DiscriminatorConfig:
    """Discriminator architecture (resolved through the discriminator registry by ``arch``)."""

    arch: str = opt("patchgan", "discriminator architecture name (see `i2i plugins`)")
    ndf: int = opt(64, "channels of the first discriminator layer")
    n_layers: int = opt(3, "stride-2 conv layers of the PatchGAN (3 gives 70x70 patches)")
    norm: str = opt("instance", "normalization layer: batch | instance | none")
    spectral_norm: bool = opt(False, "wrap conv layers in spectral normalization")
    bias: str = opt(
        "auto", "bias of the convs followed by a norm: auto (all but before batch norm) | on | off"
    )
    init: str = opt("normal", "weight init: normal | xavier | kaiming | orthogonal")
    init_gain: float = opt(0.02, "scale of the weight init")


def check_optim_values(prefix: str = "optim.", **values: float) -> None:
    """Check Adam settings before an optimizer is made: learning rates and weight decay finite
    and >= 0, betas in [0, 1). Keys starting with ``beta`` are betas.

    Raises:
        ConfigError: the first bad value, named with ``prefix`` (``optim.lr``).
    """
    for key, value in values.items():
        v = float(value)
        name = f"'{prefix}{key}'" if prefix.endswith(".") else f"{prefix}{key}"
        if key.startswith("beta"):
            if not (math.isfinite(v) and 0.0 <= v < 1.0):
                raise ConfigError(f"{name} must be in [0, 1) (Adam's betas), got {value}")
        elif not (math.isfinite(v) and v >= 0.0):
            raise ConfigError(f"{name} must be a finite number >= 0, got {value}")


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """Adam optimizer settings (one optimizer per network group)."""

    lr: float = opt(2e-4, "learning rate of the generators")
    lr_d: float = opt(0.0, "learning rate of the discriminators (0 = same as lr; set for TTUR)")
    beta1: float = opt(0.5, "Adam beta1")
    beta2: float = opt(0.999, "Adam beta2")
    weight_decay: float = opt(0.0, "Adam weight decay")

    def __post_init__(self) -> None:
        check_optim_values(
            "optim.", lr=self.lr, lr_d=self.lr_d, beta1=self.beta1, beta2=self.beta2,
            weight_decay=self.weight_decay,
        )  # fmt: skip


@dataclasses.dataclass(frozen=True)
class ScheduleConfig:
    """Learning-rate schedule over the whole run."""

    kind: str = opt("linear_decay", "constant | linear_decay (constant, then linear to zero)")
    decay_start: float = opt(0.5, "fraction of the run after which linear decay starts")


@dataclasses.dataclass(frozen=True)
class TrackingConfig:
    """Settings of the experiment trackers chosen by ``train.loggers`` (``--log NAME``).

    Empty strings fall back to each tool's own environment variables (docs/tracking.md).
    """

    project: str = opt(
        "",
        "MLflow experiment / W&B project (empty: $MLFLOW_EXPERIMENT_NAME / $WANDB_PROJECT, "
        "else 'i2i')",
    )
    name: str = opt("", "name of the tracked run (empty: the run folder's name)")
    tensorboard_dir: str = opt(
        "", "TensorBoard log folder, relative to the run folder (empty: tensorboard)"
    )
    mlflow_uri: str = opt("", "MLflow tracking server URI (empty: $MLFLOW_TRACKING_URI)")
    wandb_entity: str = opt("", "W&B entity (user or team; empty: $WANDB_ENTITY or your default)")
    wandb_mode: str = opt(
        "", "W&B mode: online | offline | disabled (empty: $WANDB_MODE, else online)"
    )
    artifacts: str = opt(
        "model",
        "what the final checkpoint uploads (MLflow, W&B): model (weights) | checkpoint "
        "(the whole folder, resumable) | none",
    )
    buffer: int = opt(10000, "metric records kept while a tracker is unreachable (oldest dropped)")
    flush_timeout: float = opt(
        30.0, "seconds to wait at the end for an unreachable tracker before dropping its records"
    )


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Settings of the generic trainer, shared by every family (``--set train.KEY=VALUE``)."""

    steps: int = opt(0, "optimizer steps to run (0 = use epochs)")
    epochs: int = opt(0, "epochs to run when steps is 0")
    batch_size: int = opt(1, "images per batch")
    size: int = opt(256, "training crop size in pixels")
    load_size: int = opt(
        0,
        "resize before cropping: N pixels | 0 = size * 286/256 (the paper's jitter) | -1 = no "
        "resize (crop the images as they are)",
    )
    format: str = opt("", "dataset format (empty = the family's default; see `i2i plugins`)")
    workers: int = opt(2, "DataLoader worker processes (0 = load in the main process)")
    seed: int = opt(0, "random seed (weights, data order, augmentation)")
    device: str = opt("auto", "auto | cpu | cuda | cuda:N | mps")
    precision: str = opt(
        "auto", "auto (bf16 on CUDA GPUs, else fp32) | fp32 | bf16 | fp16 (bf16 also on CPU)"
    )
    flip: bool = opt(True, "random horizontal flips")
    strict: bool = opt(False, "stop on the first corrupt image instead of skipping it")
    log_every: int = opt(10, "write metrics.jsonl every N steps")
    sample_every: int = opt(200, "write a sample grid every N steps (0 = only at the end)")
    checkpoint_every: int = opt(500, "save a checkpoint every N steps (0 = only at the end)")
    keep_checkpoints: int = opt(3, "how many recent checkpoints to keep")
    eval_every: int = opt(
        0,
        "evaluate (i2i eval) every N steps on the data's test split; the best step's checkpoint "
        "is kept (0 = off)",
    )
    eval_images: int = opt(0, "test images per direction for eval_every (0 = the whole split)")
    channels_last: bool = opt(False, "use channels_last memory format")
    sync_bn: bool = opt(False, "distributed runs: synchronize batch-norm statistics across ranks")
    compile: bool = opt(False, "torch.compile the networks (slow start, faster steps on GPU)")
    cudnn_benchmark: bool = opt(True, "CUDA: let cuDNN pick the fastest kernels (and TF32)")
    cpu_allocator_tuning: bool = opt(
        True,
        "CPU on Linux: glibc malloc keeps freed memory for reuse (no page-fault churn per step; "
        "memory stays at its peak)",
    )
    pin_memory: bool = opt(True, "CUDA: pinned host memory and non-blocking copies")
    fused_optimizer: bool = opt(True, "fused Adam kernels on CPU and CUDA")
    grad_clip: float = opt(0.0, "clip gradient norm per network group (0 = off)")
    loggers: tuple[str, ...] = opt(
        (), "experiment trackers to log to: tensorboard, mlflow, wandb (--log NAME, repeatable)"
    )
    tracking: TrackingConfig = opt(TrackingConfig(), "settings of the experiment trackers")
    max_pixels: int = opt(
        DEFAULT_MAX_PIXELS,
        "largest image (width x height) read; larger ones are refused from their header, before "
        "decoding (0 = no limit)",
    )

    def __post_init__(self) -> None:
        at_least = {
            "steps": 0, "epochs": 0, "batch_size": 1, "size": 0, "load_size": NO_RESIZE,
            "workers": 0, "log_every": 0, "sample_every": 0, "checkpoint_every": 0,
            "keep_checkpoints": 0, "max_pixels": 0,
        }  # fmt: skip
        for key, low in at_least.items():
            value = getattr(self, key)
            if isinstance(value, int) and not isinstance(value, bool) and value < low:
                zero = {"steps": " (0 = use train.epochs)", "epochs": " (0 = use train.steps)"}
                raise ConfigError(f"'train.{key}' must be >= {low}{zero.get(key, '')}, got {value}")
        if not (math.isfinite(self.grad_clip) and self.grad_clip >= 0):
            raise ConfigError(
                f"'train.grad_clip' must be a finite number >= 0 (0 = off), got {self.grad_clip}"
            )


#: ``train.load_size`` of "no resize" (crop the images as they are).
NO_RESIZE = -1


def effective_load_size(size: int, load_size: int) -> int:
    """The resize a dataset applies before cropping (``DataOptions.load_size``; 0 = none).

    The one rule that training and ``i2i datasets check`` share, from ``train.size`` and
    ``train.load_size``: a positive ``load_size`` is used as it is; 0 (the default) means
    ``round(size * 286 / 256)``, the resize-and-crop jitter of the pix2pix/CycleGAN papers (0
    when ``size`` is 0: whole images); -1 (:data:`NO_RESIZE`) means no resize, so images are
    cropped as they are and must be at least ``size`` pixels on each side.

    Example:
        >>> effective_load_size(256, 0), effective_load_size(256, 300), effective_load_size(64, -1)
        (286, 300, 0)

    Raises:
        ConfigError: ``load_size`` below -1, or ``size`` below 0.
    """
    if size < 0:
        raise ConfigError(f"train.size must be >= 0, got {size}")
    if load_size < NO_RESIZE:
        raise ConfigError(
            f"train.load_size must be a size in pixels, 0 (size * 286/256) or -1 (no resize), "
            f"got {load_size}"
        )
    if load_size == NO_RESIZE:
        return 0
    return load_size or int(round(size * 286 / 256))


# ---------------------------------------------------------------------------------------------
# Strict loading


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"'{key}' expects {tp}, got {value!r}")
    if origin is typing.Literal:
        if value in typing.get_args(tp):
            return value
        raise ConfigError(f"'{key}' must be one of {typing.get_args(tp)}, got {value!r}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"'{key}' expects a list, got {value!r}")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], key) for v in value)
        if len(args) != len(value):
            raise ConfigError(f"'{key}' expects {len(args)} values, got {len(value)}")
        return tuple(_coerce(v, a, key) for v, a in zip(value, args, strict=True))
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"'{key}' is a section; expected a table of keys, got {value!r}")
        return from_dict(tp, value, prefix=f"{key}.")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"'{key}' expects true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"'{key}' expects an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"'{key}' expects a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"'{key}' expects a string, got {value!r}")
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise ConfigError(f"'{key}' expects {tp}, got {value!r}")


def from_dict(cls: type[C], data: Mapping[str, Any], *, prefix: str = "") -> C:
    """Build the dataclass ``cls`` from a nested mapping, strictly.

    Raises:
        ConfigError: an unknown key (the message lists the valid ones) or a value of the wrong type.
    """
    hints = _hints(cls)
    names = _field_names(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            raise ConfigError(
                f"unknown config key '{prefix}{key}'; valid keys here: "
                + ", ".join(f"{prefix}{n}" for n in names)
            )
        kwargs[key] = _coerce(value, hints[key], f"{prefix}{key}")
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as e:
        raise ConfigError(f"invalid config for {prefix or cls.__name__}: {e}") from None


def to_dict(obj: Any) -> dict[str, Any]:
    """A dataclass config as a plain nested dict (tuples become lists, for TOML/JSON)."""

    def conv(v: Any) -> Any:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (tuple, list)):
            return [conv(x) for x in v]
        return v

    return conv(obj)


def merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge ``update`` into a copy of ``base``."""
    out = dict(base)
    for k, v in update.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def parse_value(text: str) -> Any:
    """Parse one ``--set`` value as a TOML value; bare words stay strings.

    Example:
        >>> parse_value("8"), parse_value("true"), parse_value("lsgan"), parse_value("[1, 2]")
        (8, True, 'lsgan', [1, 2])
    """
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def overrides_to_dict(items: Iterable[str]) -> dict[str, Any]:
    """``["a.b=1", "c=x"]`` -> ``{"a": {"b": 1}, "c": "x"}``.

    Raises:
        ConfigError: an item has no ``=``.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set expects key=value (e.g. generator.ngf=8), got {item!r}")
        node = out
        parts = key.split(".")
        for p in parts[:-1]:
            nxt = node.setdefault(p, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"--set {key}: '{p}' is both a value and a section")
            node = nxt
        node[parts[-1]] = parse_value(raw.strip())
    return out


def apply_overrides(cfg: C, items: Iterable[str]) -> C:
    """Return ``cfg`` with ``key=value`` overrides applied strictly."""
    data = merge(to_dict(cfg), overrides_to_dict(items))
    return from_dict(type(cfg), data)


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file.

    Raises:
        ConfigError: the file is missing or not valid TOML (with the parser's position).
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} does not exist; pass an existing .toml file")
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise ConfigError(f"config file {p} cannot be read: {describe_os_error(e)}") from None
    if len(raw) > MAX_TOML_BYTES:
        raise ConfigError(
            f"config file {p} is {len(raw)} bytes, more than a config needs "
            f"({MAX_TOML_BYTES}); is it the right file?"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"config file {p} is not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}); "
            "TOML files must be UTF-8: save it as UTF-8"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {p} is not valid TOML: {one_line(str(e))}") from None
    except RecursionError:
        raise ConfigError(f"config file {p} nests tables or arrays too deeply") from None
    return data


def describe(config: Any, prefix: str = "") -> list[tuple[str, str, str]]:
    """(dotted key, value, help) for every leaf option of a config, for help pages.

    Args:
        config: A config instance (its values are shown) or a config class (its defaults: the
            default *instance* of each nested section, so ``GeneratorConfig(arch="unet_256")`` as
            a family's default shows ``generator.arch 'unet_256'``, not the block's own default).
        prefix: Prepended to every key.

    Returns:
        Rows in field order; a field without a default shows ``(required)``.
    """
    cls = config if isinstance(config, type) else type(config)
    hints = _hints(cls)
    rows: list[tuple[str, str, str]] = []
    for f in dataclasses.fields(cls):
        if not isinstance(config, type):
            value = getattr(config, f.name)
        elif f.default is not dataclasses.MISSING:
            value = f.default
        elif f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
        else:
            value = dataclasses.MISSING
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(hints[f.name]):
            section = hints[f.name] if value is dataclasses.MISSING else value
            rows.extend(describe(section, f"{key}."))
            continue
        shown = "(required)" if value is dataclasses.MISSING else repr(value)
        rows.append((key, shown, f.metadata.get("help", "")))
    return rows
