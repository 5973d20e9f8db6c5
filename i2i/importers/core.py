"""Reading foreign checkpoints safely and writing them as i2i runs (``i2i import``).

The pieces a layout module (one per reference project) works with:

- :func:`open_source` reads a ``.pth`` / ``.pt`` / ``.ckpt`` file with
  ``torch.load(weights_only=True)`` (never unpickling code) or a ``.safetensors`` file, unwraps
  ``{"params_ema": ...}`` / ``{"params": ...}`` / ``{"state_dict": ...}`` and a ``module.``
  prefix, and gives a :class:`SourceFile` (flat ``name -> tensor`` dict, what was unwrapped,
  sibling files and option files next to it).
- An :class:`Importer` (registered through ``i2i_register_importers``) says whether a file is
  its layout (:attr:`Importer.matches`, from keys and shapes) and plans the import
  (:attr:`Importer.plan`): the family, the config values it detected, and for each network of
  the family's model a :class:`NetworkImport` mapping the model's state-dict keys to the file's.
- :func:`import_checkpoint` runs the plan strictly: every key of each imported network must come
  from the file with the right shape (else a one-line error naming the first missing key or a
  shape mismatch), and every key of the file must be used (else the first unexpected key), then
  writes a normal run directory through the trainer's checkpoint and config code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import re
import shutil
import warnings
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from i2i.errors import CheckpointError, ConfigError

#: Wrapper keys of training checkpoints, in order of preference (BasicSR / Real-ESRGAN save
#: ``{"params": ...}`` and, with EMA, ``{"params_ema": ...}``; Real-ESRGAN's inference prefers
#: the EMA weights).
WRAPPER_KEYS: tuple[str, ...] = ("params_ema", "params", "state_dict")
#: Files read with torch.load(weights_only=True); everything else must be safetensors.
TORCH_SUFFIXES: tuple[str, ...] = (".pth", ".pt", ".ckpt", ".bin", ".pkl", ".tar")
#: Option files the reference projects write next to their checkpoints (plain text).
OPTION_FILES: tuple[str, ...] = ("opt.txt", "train_opt.txt", "test_opt.txt")


@dataclasses.dataclass(frozen=True)
class Fill:
    """A target value the file does not hold but that is determined exactly (e.g. a zero bias
    that a following normalization cancels); ``make(like)`` returns it."""

    why: str
    make: Callable[[torch.Tensor], torch.Tensor] = torch.zeros_like


#: A zero-filled tensor (a conv bias the source net has not got, followed by a norm).
ZERO = Fill("zero bias (the source conv has none; a normalization follows)")


@dataclasses.dataclass
class SourceFile:
    """One checkpoint file, read safely and unwrapped.

    Attributes:
        path: The file.
        weights: Flat ``name -> tensor`` of the chosen state dict.
        notes: What was unwrapped (e.g. ``"params_ema"``), for the import record.
        others: The other wrapped state dicts of the file by wrapper key (e.g. ``"params"`` when
            ``"params_ema"`` was chosen).
        wrapper: The wrapper key the weights came from (e.g. ``"params_ema"``), or None.
    """

    path: Path
    weights: dict[str, torch.Tensor]
    notes: list[str] = dataclasses.field(default_factory=list)
    others: dict[str, dict[str, torch.Tensor]] = dataclasses.field(default_factory=dict)
    wrapper: str | None = None

    @property
    def name(self) -> str:
        return self.path.name

    def sibling(self, name: str) -> SourceFile | None:
        """The file ``name`` next to this one, read the same way, or None if there is none."""
        p = self.path.parent / name
        return open_source(p) if p.is_file() and p != self.path else None

    def options(self) -> dict[str, str]:
        """``key: value`` lines of the option files next to the checkpoint (``opt.txt``,
        ``train_opt.txt``, ``test_opt.txt``, as pytorch-CycleGAN-and-pix2pix and SPADE write
        them); empty when there are none. Text only: pickled option files are never read."""
        out: dict[str, str] = {}
        for name in OPTION_FILES:
            p = self.path.parent / name
            if p.is_file():
                for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
                    m = re.match(r"^\s*([A-Za-z_][\w]*):\s*(.*?)\s*(\[default:.*\])?\s*$", line)
                    if m:
                        out.setdefault(m.group(1), m.group(2))
        return out

    def first_key(self) -> str:
        return next(iter(self.weights), "<empty>")


@dataclasses.dataclass
class NetworkImport:
    """One network of the family's model, filled from one source state dict.

    Attributes:
        prefix: Prefix of the network's keys in the model's ``state_dict`` (e.g. ``"G_A."``).
        weights: The source state dict.
        origin: Where it comes from, for messages (e.g. ``"latest_net_G_A.pth"``).
        key: ``key(target_key_without_prefix) -> source key`` or a :class:`Fill`.
        ignore: ``ignore(source_key)``: keys dropped on purpose (e.g. the running statistics old
            PyTorch versions saved for instance norm, which the reference drops too).
        what: What was detected, for messages (e.g. ``"ResnetGenerator (9 blocks)"``).
    """

    prefix: str
    weights: Mapping[str, torch.Tensor]
    origin: str
    key: Callable[[str], str | Fill]
    ignore: Callable[[str], bool] = lambda _k: False
    what: str = ""


@dataclasses.dataclass
class ImportPlan:
    """What an importer detected and how it maps onto a family.

    Attributes:
        family: The i2i model family to build.
        config: Family config values (nested dict) detected from the file; ``--set`` applies
            on top.
        networks: The networks filled from files; every other network of the model keeps its
            (seeded) initialization and is reported as untrained.
        detected: Lines describing the detected architecture (printed by ``i2i import``).
        notes: Further remarks for the import record (e.g. inference differences).
    """

    family: str
    config: dict[str, Any]
    networks: list[NetworkImport]
    detected: list[str]
    notes: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Importer:
    """A checkpoint layout ``i2i import`` reads (register with ``i2i_register_importers``).

    Attributes:
        name: Registry name (e.g. ``"basicsr"``).
        project: The project whose files it reads (e.g. ``"BasicSR / ESRGAN / Real-ESRGAN"``).
        summary: One line: architectures and file names.
        families: Families it can produce; the first is the default.
        matches: ``matches(source) -> bool``: the file is this layout (keys and shapes only).
        plan: ``plan(source, family, settings) -> ImportPlan``; ``family`` is ``--family`` (or
            None) and ``settings`` the nested ``--set`` values (for what the file cannot tell,
            e.g. a label count). Raises :class:`i2i.CheckpointError` / :class:`i2i.ConfigError`
            with one line.
    """

    name: str
    project: str
    summary: str
    families: tuple[str, ...]
    matches: Callable[[SourceFile], bool]
    plan: Callable[[SourceFile, str | None, Mapping[str, Any]], ImportPlan]


@dataclasses.dataclass
class ImportResult:
    """What :func:`import_checkpoint` wrote."""

    run_dir: Path
    family: str
    importer: str
    detected: list[str]
    imported: list[str]
    initialized: list[str]
    notes: list[str]


# -- reading ------------------------------------------------------------------------------------


_SAFE_GLOBALS = ("torch.", "collections.OrderedDict", "_codecs.encode")


def _pickled_global(path: Path) -> str | None:
    """The first global a pickle (or a torch zip's ``data.pkl``) would import that is not a
    tensor rebuild function, found by reading the opcodes (pickletools runs nothing)."""
    import pickletools

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                data = z.read(next(n for n in z.namelist() if n.endswith("data.pkl")))
        else:
            data = path.read_bytes()
        strings: list[str] = []
        for op, arg, _pos in pickletools.genops(data):
            name = None
            if op.name in ("GLOBAL", "INST"):
                name = str(arg).replace(" ", ".")
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                name = f"{strings[-2]}.{strings[-1]}"
            elif isinstance(arg, str):
                strings.append(arg)
            if name and not name.startswith(_SAFE_GLOBALS):
                return name
    except Exception:  # noqa: BLE001 - a best-effort hint for the message only
        return None
    return None


def _refusal(path: Path, e: BaseException) -> CheckpointError:
    msg = " ".join(str(e).split())
    m = re.search(r"GLOBAL\s+([\w.]+)", msg)
    if isinstance(e, pickle.UnpicklingError) or m:
        what = m.group(1) if m else _pickled_global(path)
        return CheckpointError(
            f"refusing to read {path}: it is a pickle that would import "
            f"{what or 'a Python object'} (code or objects other than tensors); i2i reads "
            "weights only (torch.load weights_only=True) — re-save the state dict "
            "(torch.save(net.state_dict(), ...)) or use safetensors"
        )
    return CheckpointError(
        f"cannot read {path} as PyTorch weights ({type(e).__name__}: {msg[:160]}); the file is "
        "truncated or not a checkpoint — download it again"
    )


def read_weights(path: str | Path) -> Any:
    """Load a checkpoint file without running code.

    ``.safetensors`` files with safetensors; every other file with
    ``torch.load(map_location="cpu", weights_only=True)`` (PyTorch's restricted unpickler:
    tensors, dicts, lists and numbers only).

    Raises:
        CheckpointError: missing, empty, truncated or corrupt, or a pickle referencing code.
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p} does not exist; pass a checkpoint file (.pth or .safetensors)")
    if p.stat().st_size == 0:
        raise CheckpointError(f"{p} is empty; download it again")
    if p.suffix == ".safetensors":
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(p), framework="pt") as f:
                meta = f.metadata() or {}
                tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        except (SafetensorError, OSError, ValueError) as e:
            raise CheckpointError(
                f"cannot read {p} as safetensors ({e}); the file is truncated or corrupt"
            ) from None
        if "i2i_family" in meta:
            raise CheckpointError(
                f"{p} is already an i2i checkpoint ({meta['i2i_family']}); translate or export "
                "it directly, no import needed"
            )
        return tensors
    try:
        with warnings.catch_warnings():  # e.g. pickle-protocol notices: the error says it all
            warnings.simplefilter("ignore")
            return torch.load(p, map_location="cpu", weights_only=True)
    except (
        pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, KeyError,
        AttributeError, TypeError, IndexError, zipfile.BadZipFile, UnicodeDecodeError,
    ) as e:  # fmt: skip
        raise _refusal(p, e) from None


def _flat_tensors(obj: Mapping[Any, Any], path: Path, where: str) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for k, v in obj.items():
        if not isinstance(v, torch.Tensor):
            raise CheckpointError(
                f"{path}{where}: entry {k!r} is a {type(v).__name__}, not a tensor; expected a "
                "state dict of a network"
            )
        out[str(k)] = v
    return out


def open_source(path: str | Path) -> SourceFile:
    """Read a checkpoint (:func:`read_weights`) and unwrap it into a flat state dict.

    Training wrappers (:data:`WRAPPER_KEYS`: ``params_ema`` preferred over ``params``, as
    Real-ESRGAN's inference does) are opened and a ``module.`` prefix (``DataParallel``) on
    every key is removed; both are noted.

    Raises:
        CheckpointError: unreadable, or not a state dict of tensors.
    """
    p = Path(path)
    raw = read_weights(p)
    if not isinstance(raw, Mapping):
        raise CheckpointError(
            f"{p} holds a {type(raw).__name__}, not a state dict; expected a dict of tensors"
        )
    notes: list[str] = []
    others: dict[str, dict[str, torch.Tensor]] = {}
    chosen = next((k for k in WRAPPER_KEYS if isinstance(raw.get(k), Mapping)), None)
    if chosen is not None:
        weights = _flat_tensors(raw[chosen], p, f"[{chosen}]")
        others = {
            k: _flat_tensors(raw[k], p, f"[{k}]")
            for k in WRAPPER_KEYS
            if k != chosen and isinstance(raw.get(k), Mapping)
        }
        notes.append(
            f"weights from {chosen!r}" + (f" (also holds {', '.join(others)})" if others else "")
        )
    else:
        weights = _flat_tensors(raw, p, "")
    if not weights:
        raise CheckpointError(f"{p} holds no tensors; expected a network's state dict")
    for d in (weights, *others.values()):
        if all(k.startswith("module.") for k in d):
            for k in list(d):
                d[k[len("module.") :]] = d.pop(k)
            if d is weights:
                notes.append("removed the 'module.' prefix (DataParallel)")
    return SourceFile(path=p, weights=weights, notes=notes, others=others, wrapper=chosen)


# -- planning helpers ---------------------------------------------------------------------------


def shape(weights: Mapping[str, torch.Tensor], key: str) -> tuple[int, ...] | None:
    """The shape of ``weights[key]``, or None if absent."""
    t = weights.get(key)
    return tuple(t.shape) if t is not None else None


def indices(weights: Mapping[str, Any], pattern: str) -> list[int]:
    """Sorted distinct integers captured by ``pattern`` (a regex with one group) over the keys."""
    rx = re.compile(pattern)
    return sorted({int(m.group(1)) for k in weights if (m := rx.match(k))})


def require(weights: Mapping[str, torch.Tensor], key: str, origin: str, what: str) -> torch.Tensor:
    """``weights[key]`` or a one-line :class:`CheckpointError` naming the missing key."""
    if key not in weights:
        raise CheckpointError(
            f"{origin}: missing key '{key}' of a {what}; the file is not that layout"
        )
    return weights[key]


def check_family(importer: str, family: str | None, allowed: tuple[str, ...], what: str) -> str:
    """``family`` (default: the first allowed) or a ConfigError for a wrong ``--family``."""
    if family is None:
        return allowed[0]
    if family not in allowed:
        raise ConfigError(
            f"--family {family}: this file is a {what}, which imports as "
            f"{' or '.join(allowed)}, not {family}"
        )
    return family


# -- running a plan -----------------------------------------------------------------------------


def _map_network(net: NetworkImport, state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    targets = [k for k in state if k.startswith(net.prefix)]
    if not targets:
        raise CheckpointError(f"the model has no network '{net.prefix.rstrip('.')}' to import into")
    out: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    what = f" for the detected {net.what}" if net.what else ""
    for t in targets:
        src = net.key(t[len(net.prefix) :])
        like = state[t]
        if isinstance(src, Fill):
            out[t] = src.make(like)
            continue
        if src not in net.weights:
            if t.endswith("num_batches_tracked"):  # files from PyTorch < 0.4.1 lack it
                out[t] = torch.zeros_like(like)
                continue
            raise CheckpointError(
                f"{net.origin}: missing key '{src}'{what}; the file is another architecture — "
                "check --family / --set, or see docs/import.md"
            )
        v = net.weights[src]
        if tuple(v.shape) != tuple(like.shape):
            raise CheckpointError(
                f"{net.origin}: key '{src}' has shape {list(v.shape)}, expected "
                f"{list(like.shape)}{what}; check --set values against the file"
            )
        out[t] = v.detach().to(like.dtype).clone()
        used.add(src)
    extra = [k for k in net.weights if k not in used and not net.ignore(k)]
    if extra:
        raise CheckpointError(
            f"{net.origin}: unexpected key '{extra[0]}'{what} ({len(extra)} unused); the file "
            "is another architecture or variant — check --family / --set, or see docs/import.md"
        )
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_out(out: Path, source: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(
            f"{out} already exists; import writes a new run directory — choose another"
        )
    if source.resolve().is_relative_to(out.resolve()):
        raise ConfigError(f"{out} contains the source file; choose an output outside it")


def import_checkpoint(
    ctx: Any,
    source: str | Path,
    out: str | Path,
    *,
    family: str | None = None,
    overrides: tuple[str, ...] | list[str] = (),
) -> ImportResult:
    """Read a foreign checkpoint and write it as an i2i run directory.

    Every registered importer is asked whether the file is its layout; the first that says so
    plans the import (``family`` restricts it: ``--family``). ``overrides`` (``--set``) apply on
    top of the detected config. The model is built with the family's builder (seed 0), filled
    strictly, and written like a trained run: ``config.toml``, ``checkpoints/step_0000000/
    model.safetensors`` (with the usual metadata) and ``latest``, ``status.json`` (completed,
    step 0), plus ``import.json`` (source files with SHA-256, what was detected, which networks
    were imported and which are untrained). The checkpoint has no ``trainer.pt``: it translates,
    exports and evaluates, but does not resume training. Written under a temporary name and
    renamed, so a failed import leaves nothing behind.

    Raises:
        CheckpointError: unreadable file, unknown layout, missing / unexpected keys or shapes.
        ConfigError: a wrong ``--family``, bad ``--set`` values, or an existing ``out``.
    """
    from i2i.config import overrides_to_dict
    from i2i.training.checkpoint import save_checkpoint
    from i2i.training.run import RunInfo, resolve_run_config, write_text_atomic

    src_path, out = Path(source), Path(out)
    _check_out(out, src_path)
    if family is not None:
        ctx.models.get(family)  # UnknownNameError lists the families
    src = open_source(src_path)
    settings = overrides_to_dict(overrides)
    found = [(n, imp) for n, imp in ctx.importers.items() if imp.matches(src)]
    if not found:
        known = "; ".join(f"{imp.project}: {imp.summary}" for _n, imp in ctx.importers.items())
        raise CheckpointError(
            f"{src.name}: unknown checkpoint layout (first key '{src.first_key()}', "
            f"{len(src.weights)} tensors); i2i imports {known}"
        )
    name, importer = found[0]
    plan = importer.plan(src, family, {k: v for k, v in settings.items() if k != "train"})
    spec = ctx.models.get(plan.family)
    run_config = resolve_run_config(
        spec, "", saved={"model": plan.config}, overrides=list(overrides)
    )
    torch.manual_seed(0)
    model = spec.build(run_config.model, ctx)
    state = model.state_dict()
    new_state = dict(state)
    from_files: set[str] = set()
    for net in plan.networks:
        mapped = _map_network(net, state)
        new_state.update(mapped)
        from_files.update(mapped)
    model.load_state_dict(new_state, strict=True)
    tops = list(dict.fromkeys(k.split(".", 1)[0] for k in state))
    initialized = [t for t in tops if not any(k.split(".", 1)[0] == t for k in from_files)]
    files = dict.fromkeys(src.path.parent / n.origin.split("[")[0] for n in plan.networks)
    record = {
        "importer": name,
        "project": importer.project,
        "family": plan.family,
        "detected": plan.detected,
        "sources": {f.name: _sha256(f) for f in files if f.is_file()},
        "imported": {n.prefix.rstrip("."): n.origin for n in plan.networks},
        "initialized": initialized,
        "notes": src.notes + plan.notes,
        "overrides": list(overrides),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".tmp-import-{out.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        write_text_atomic(tmp / "config.toml", run_config.to_toml())
        save_checkpoint(
            tmp / "checkpoints", 0, model.state_dict(), run_config.to_dict(), None, keep=1
        )
        write_text_atomic(tmp / "import.json", json.dumps(record, indent=1))
        info = RunInfo(run_dir=tmp, config=run_config, total_steps=0)
        info.write_status("completed", 0, f"imported from {src.name} ({importer.project})")
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ImportResult(
        run_dir=out,
        family=plan.family,
        importer=name,
        detected=plan.detected,
        imported=[f"{n.prefix.rstrip('.')} <- {n.origin}" for n in plan.networks],
        initialized=initialized,
        notes=src.notes + plan.notes,
    )
