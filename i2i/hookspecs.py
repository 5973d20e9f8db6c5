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
3. **Observers**: called for their side effects (logging backends); return None. The built-in
   ones are the ``metrics.jsonl`` log, the HTML results page and the experiment loggers
   (TensorBoard, MLflow, W&B; see ``i2i.tracking``): each sees a run only through these hooks.

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
def i2i_register_dataset_sources(registrar: Registrar) -> None:
    """Register dataset sources: datasets ``i2i datasets download NAME DIR`` fetches (or
    ``i2i datasets prepare NAME DIR FROM...`` converts from files the user downloaded).

    Args:
        registrar: ``registrar.add(name, source)`` with an :class:`i2i.DatasetSource` whose
            ``name`` equals ``name`` (e.g. ``"myproject/scans"``). The source appears in
            ``i2i datasets list``.
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
def i2i_register_importers(registrar: Registrar) -> None:
    """Register checkpoint importers for ``i2i import`` (other projects' weight layouts).

    Args:
        registrar: ``registrar.add(name, importer)`` with an :class:`i2i.importers.Importer`:
            it recognises a layout from a file's keys and tensor shapes and maps it onto a
            registered family's model. ``i2i import`` tries every importer in registration
            order; see docs/import.md.
    """


@hookspec
def i2i_register_loggers(registrar: Registrar) -> None:
    """Register experiment loggers by name (``--log NAME`` / ``train.loggers``).

    Args:
        registrar: ``registrar.add(name, cls)`` with a subclass of
            :class:`i2i.tracking.ExperimentLogger` whose ``name`` equals ``name``. The class is
            only instantiated (on rank 0) for runs that select it; registering costs nothing
            else, so import the tool's library inside the class's methods.
    """


@hookspec
def i2i_register_commands(app: Any) -> None:
    """Add CLI commands.

    Args:
        app: The root ``typer.Typer`` application; add commands or sub-apps to it.
    """


# -- 2. Decisions ------------------------------------------------------------------------------


@hookspec(firstresult=True)
def i2i_load_image(path: Path, channels: int, max_pixels: int) -> np.ndarray | None:
    """Decode one image file.

    Args:
        path: The file.
        channels: Channels wanted: 1 (grayscale) or 3 (RGB); others are plugin-defined.
        max_pixels: Largest width x height to decode (0 = no limit): refuse larger images
            with :class:`i2i.errors.ImageTooLargeError` before decoding them (read the header
            first). Callers also check the header of files Pillow can open, so a plugin that
            only adds formats may ignore it (leave it out of its signature).

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
        logs: Mean loss terms since the last call (``G/...``, ``D/...``), learning rates
            (``lr/G``, ...), ``sec_per_step``, ``images_per_sec``, ``epoch``,
            ``skipped_images``.
    """


@hookspec
def i2i_checkpoint_saved(run: RunInfo, path: Path, step: int) -> None:
    """A checkpoint directory was written (atomically) at ``path``."""


@hookspec
def i2i_samples_saved(run: RunInfo, step: int, path: Path, grid: np.ndarray) -> None:
    """A sample grid was written (every ``train.sample_every`` steps and at the end of a
    completed run; rank 0 only).

    Args:
        run: The run.
        step: Steps completed when the grid was made.
        path: The PNG file (``RUN/samples/step_NNNNNNN.png``).
        grid: The same picture as an ``H x W x 3`` uint8 array; read it, do not change it.
    """


@hookspec
def i2i_evaluation_done(
    run: RunInfo, step: int, metrics: dict[str, float], out_dir: Path | None
) -> None:
    """An evaluation of the run's model finished: during training, or later (``i2i eval`` and
    ``i2i demo`` on a run folder, with ``run`` rebuilt from the folder).

    Args:
        run: The run (``run.run_dir`` holds it).
        step: The training step of the evaluated checkpoint.
        metrics: Metric name -> value (e.g. ``psnr_y``, ``fid``); numbers only, nested or
            non-numeric results are left out.
        out_dir: The folder with the evaluation's own files (``eval.json``, per-image CSV), or
            None.
    """


@hookspec
def i2i_artifact_saved(run: RunInfo, path: Path, kind: str, step: int) -> None:
    """A file made from the run's model was written outside training (rank 0 only).

    Args:
        run: The run the model came from (rebuilt from its folder).
        path: The file, e.g. ``model.onnx``; it may lie outside the run folder.
        kind: What it is: ``"onnx"`` (``i2i export``); plugins may add kinds.
        step: The training step of the checkpoint it was made from.
    """


@hookspec
def i2i_train_end(run: RunInfo, step: int, status: str) -> None:
    """The run ended with ``status`` ``"completed"``, ``"interrupted"`` or ``"failed"``
    (called for every failure too; ``run.message`` is the one-line reason and what was saved,
    ``run.warnings`` lists warnings such as diverging losses)."""
