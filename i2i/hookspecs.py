"""The i2i plugin contract: every hook a plugin may implement.

A plugin is a module (or object) with functions decorated by ``i2i.hookimpl`` whose names are
the hooks below; it is found through the ``i2i.plugins`` entry-point group (built-ins are
registered the same way, from :data:`i2i.manager.BUILTIN_PLUGINS`). A hook implementation may
accept any subset of the hook's arguments.

Three kinds of hook:

1. **Registration** (``i2i_register_*``): called once per plugin with a
   :class:`~i2i.registry.Registrar` bound to that plugin; add named things with
   ``registrar.add(name, obj)``. A name registered by two plugins is an error naming both.
2. **Decisions** (``firstresult=True``): the first non-None answer wins; built-in defaults are
   ``trylast`` so any plugin can override them.
3. **Observers**: called for their side effects (logging backends); return None.

Example plugin module::

    import i2i

    @i2i.hookimpl
    def i2i_register_models(registrar):
        registrar.add("mymodel", i2i.ModelSpec(name="mymodel", ...))

    @i2i.hookimpl
    def i2i_train_step_end(run, step, logs):
        print(step, logs)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from i2i.export.engine import Engine
    from i2i.manager import Context
    from i2i.registry import Registrar
    from i2i.training.run import RunInfo

PROJECT = "i2i"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- 1. Registration ---------------------------------------------------------------------------


@hookspec
def i2i_register_models(registrar: Registrar) -> None:
    """Register model families.

    Args:
        registrar: ``registrar.add(name, spec)`` with a :class:`i2i.ModelSpec`; ``name`` must
            equal ``spec.name``. The family then appears in ``i2i models`` and ``i2i train NAME``.
    """


@hookspec
def i2i_register_dataset_formats(registrar: Registrar) -> None:
    """Register dataset formats.

    Args:
        registrar: ``registrar.add(name, spec)`` with a :class:`i2i.DatasetFormatSpec`. The format
            appears in ``i2i datasets check --format NAME``; if ``spec.demo`` is set, also in
            ``i2i datasets demo --kind NAME``.
    """


@hookspec
def i2i_register_losses(registrar: Registrar) -> None:
    """Register GAN losses by name (``loss.gan_mode`` in family configs).

    Args:
        registrar: ``registrar.add(name, factory)`` where ``factory()`` returns an ``nn.Module``
            with ``forward(prediction, target_is_real: bool, for_discriminator: bool) -> Tensor``.
    """


@hookspec
def i2i_register_networks(generators: Registrar, discriminators: Registrar) -> None:
    """Register generator and discriminator architectures by name (``generator.arch``).

    Args:
        generators: ``generators.add(name, builder)``; ``builder(in_channels, out_channels,
            cfg: i2i.GeneratorConfig, context) -> nn.Module``. The module should have an ``int``
            attribute ``stride`` (input sizes must be multiples of it; 1 if absent).
        discriminators: ``discriminators.add(name, builder)``; ``builder(in_channels,
            cfg: i2i.DiscriminatorConfig, context) -> nn.Module``.
    """


@hookspec
def i2i_register_commands(app: Any) -> None:
    """Add CLI commands.

    Args:
        app: The root ``typer.Typer`` application; add commands or sub-apps to it.
    """


# -- 2. Decisions ------------------------------------------------------------------------------


@hookspec(firstresult=True)
def i2i_load_image(path: Path, channels: int) -> np.ndarray | None:
    """Decode one image file.

    Args:
        path: The file.
        channels: Channels wanted: 1 (grayscale) or 3 (RGB); others are plugin-defined.

    Returns:
        An ``H x W x channels`` float32 array in [0, 1], or None to let the next plugin try.
        Raise :class:`i2i.errors.ImageReadError` for a file that cannot be decoded.
    """


@hookspec(firstresult=True)
def i2i_open_engine(context: Context, source: Path, options: dict[str, Any]) -> Engine | None:
    """Choose the engine that runs inference for a model source (``i2i translate``).

    Args:
        context: The plugin :class:`~i2i.manager.Context`.
        source: What the user passed: a run/checkpoint directory, weights file, ``.onnx`` file,
            or anything a plugin understands (e.g. a TensorRT plan or an OpenVINO model).
        options: ``direction``, ``device``, ``precision``, ``provider``, ``threads`` and
            ``max_pixels`` as given on the command line; ignore the keys you do not use.

    Returns:
        An :class:`i2i.export.engine.Engine` (subclass it: set ``info``, ``name``,
        ``description`` and implement ``run``), or None to let the next plugin try. The built-in
        default (``trylast``) opens ``.onnx`` files with onnxruntime and everything else as an
        i2i checkpoint with PyTorch. Raise :class:`i2i.errors.ConfigError` for options that do
        not apply.
    """


# -- 3. Observers ------------------------------------------------------------------------------


@hookspec
def i2i_train_start(run: RunInfo) -> None:
    """A training run starts (or resumes at ``run.start_step``)."""


@hookspec
def i2i_train_step_end(run: RunInfo, step: int, logs: dict[str, float]) -> None:
    """A logged step ended (every ``train.log_every`` steps).

    Args:
        run: The run.
        step: Steps completed so far (1-based).
        logs: Loss terms (``G/...``, ``D/...``), learning rates, timings.
    """


@hookspec
def i2i_checkpoint_saved(run: RunInfo, path: Path, step: int) -> None:
    """A checkpoint directory was written (atomically) at ``path``."""


@hookspec
def i2i_train_end(run: RunInfo, step: int, status: str) -> None:
    """The run ended with ``status`` ``"completed"``, ``"interrupted"`` or ``"failed"``
    (called for every failure too; ``run.message`` is the one-line reason and what was saved,
    ``run.warnings`` lists warnings such as diverging losses)."""
