"""Plugin manager factory and the :class:`Context` that holds the registries.

There is no global plugin manager: every entry point (the CLI, a test, a script) calls
:func:`load_context` and passes the context down.

Built-in plugins are registered exactly like third-party ones; third-party plugins are found
through the ``i2i.plugins`` entry-point group. ``I2I_DISABLE_PLUGINS=name1,name2`` blocks
plugins by name (built-in names are listed by ``i2i plugins``).

Example:
    >>> ctx = load_context()
    >>> "cyclegan" in ctx.models
    True
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pluggy

from i2i import hookspecs
from i2i.errors import PluginError
from i2i.registry import Registrar, Registry
from i2i_runtime.imageio import DEFAULT_MAX_PIXELS

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "i2i.plugins"
DISABLE_ENV = "I2I_DISABLE_PLUGINS"

#: Built-in plugins: (plugin name, module path). Loaded like entry points.
BUILTIN_PLUGINS: tuple[tuple[str, str], ...] = (
    ("image_io", "i2i.datasets.image_io"),
    ("unpaired", "i2i.datasets.unpaired"),
    ("paired", "i2i.datasets.paired"),
    ("classes", "i2i.datasets.classes"),
    ("labelmap", "i2i.datasets.labelmap"),
    ("sr_data", "i2i.datasets.sr"),
    ("dataset_sources", "i2i.datasets.sources.builtin"),
    ("networks", "i2i.plugins.networks"),
    ("losses", "i2i.plugins.losses"),
    ("cyclegan", "i2i.plugins.cyclegan"),
    ("pix2pix", "i2i.plugins.pix2pix"),
    ("cgan", "i2i.plugins.cgan"),
    ("srgan", "i2i.plugins.srgan"),
    ("spade", "i2i.plugins.spade"),
    ("metrics_log", "i2i.training.observers"),
    ("results_page", "i2i.tracking.report"),
    ("tensorboard", "i2i.tracking.tensorboard"),
    ("mlflow", "i2i.tracking.mlflow"),
    ("wandb", "i2i.tracking.wandb"),
    ("engines", "i2i.export.engine"),
    ("importers", "i2i.importers.builtin"),
)


@dataclasses.dataclass
class PluginInfo:
    """One registered plugin, for ``i2i plugins``."""

    name: str
    module: str
    version: str
    hooks: list[str]
    builtin: bool


def _disabled_from_env() -> set[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    return {x.strip() for x in raw.split(",") if x.strip()}


def make_plugin_manager(
    *,
    entry_points: bool = True,
    builtins: bool = True,
    disable: Iterable[str] = (),
    extra: Iterable[tuple[str, Any]] = (),
) -> pluggy.PluginManager:
    """Create a plugin manager with the i2i hookspecs and the plugins loaded.

    Args:
        entry_points: Load third-party plugins from the ``i2i.plugins`` entry-point group.
        builtins: Register the built-in plugins.
        disable: Plugin names to block, in addition to ``I2I_DISABLE_PLUGINS``.
        extra: ``(name, plugin object or module)`` pairs to register too (tests, scripts).

    Raises:
        PluginError: a plugin failed to import or does not follow the contract.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    blocked = set(disable) | _disabled_from_env()
    for name in blocked:
        pm.set_blocked(name)
    if builtins:
        for name, modpath in BUILTIN_PLUGINS:
            if name in blocked:
                continue
            pm.register(importlib.import_module(modpath), name=name)
    if entry_points:
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in blocked or pm.get_plugin(ep.name) is not None:
                if pm.get_plugin(ep.name) is not None and ep.name not in blocked:
                    raise PluginError(
                        f"entry point '{ep.name}' ({ep.value}) uses the name of an already "
                        "registered plugin; rename the entry point"
                    )
                continue
            try:
                plugin = ep.load()
            except Exception as e:  # noqa: BLE001 - report any import failure the same way
                raise PluginError(
                    f"plugin '{ep.name}' ({ep.value}) failed to load: {type(e).__name__}: {e}; "
                    f"fix or uninstall it, or set {DISABLE_ENV}={ep.name}"
                ) from e
            pm.register(plugin, name=ep.name)
            dist = getattr(ep, "dist", None)
            if dist is not None:
                pm._i2i_versions = getattr(pm, "_i2i_versions", {})  # type: ignore[attr-defined]
                pm._i2i_versions[ep.name] = dist.version  # type: ignore[attr-defined]
    for name, plugin in extra:
        if name not in blocked:
            pm.register(plugin, name=name)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as e:
        raise PluginError(f"a plugin implements a hook that does not exist: {e}") from None
    return pm


def _call_registration(pm: pluggy.PluginManager, hook_name: str, **registries: Registry) -> None:
    """Call one registration hook per plugin, giving each a registrar bound to its name."""
    caller = getattr(pm.hook, hook_name)
    for impl in reversed(caller.get_hookimpls()):  # registration order
        kwargs = {
            k: Registrar(reg, impl.plugin_name)
            for k, reg in registries.items()
            if k in impl.argnames
        }
        impl.function(**kwargs)


@dataclasses.dataclass
class Context:
    """Plugin manager plus every registry, handed to builders and the trainer.

    Attributes:
        pm: The pluggy plugin manager (``pm.hook.<name>`` calls hooks).
        models: Model families by name.
        dataset_formats: Dataset formats by name.
        losses: GAN losses by name.
        generators: Generator builders by architecture name.
        discriminators: Discriminator builders by architecture name.
        importers: Checkpoint importers (``i2i import``) by name.
        loggers: Experiment logger classes by name (``--log NAME``).
        dataset_sources: Dataset sources (``i2i datasets download``) by name.
    """

    pm: pluggy.PluginManager
    models: Registry
    dataset_formats: Registry
    losses: Registry
    generators: Registry
    discriminators: Registry
    importers: Registry = dataclasses.field(default_factory=lambda: Registry("checkpoint importer"))
    loggers: Registry = dataclasses.field(default_factory=lambda: Registry("experiment logger"))
    dataset_sources: Registry = dataclasses.field(
        default_factory=lambda: Registry("dataset source")
    )

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def load_image(
        self, path: Path, channels: int, max_pixels: int | None = DEFAULT_MAX_PIXELS
    ) -> np.ndarray:
        """Decode an image through the ``i2i_load_image`` hook (HxWxC float32 in [0, 1]);
        images of more than ``max_pixels`` pixels (0 / None: no limit) are refused before they
        are decoded (:class:`~i2i.errors.ImageTooLargeError`)."""
        out = self.pm.hook.i2i_load_image(
            path=Path(path), channels=channels, max_pixels=int(max_pixels or 0)
        )
        if out is None:
            raise PluginError(f"no plugin could load {path} (is the image_io plugin blocked?)")
        return out

    def plugins(self) -> list[PluginInfo]:
        """Registered plugins with their versions and implemented hooks."""
        from i2i import __version__

        versions = getattr(self.pm, "_i2i_versions", {})
        builtin_names = {n for n, _ in BUILTIN_PLUGINS}
        out = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:
                continue
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            out.append(
                PluginInfo(
                    name=name,
                    module=getattr(plugin, "__name__", type(plugin).__name__),
                    version=versions.get(name, __version__ if name in builtin_names else "?"),
                    hooks=hooks,
                    builtin=name in builtin_names,
                )
            )
        return sorted(out, key=lambda p: (not p.builtin, p.name))


def load_context(pm: pluggy.PluginManager | None = None, **kwargs: Any) -> Context:
    """Build a :class:`Context`: create the plugin manager (unless given) and fill the registries.

    Args:
        pm: An existing plugin manager; else one is made with ``make_plugin_manager(**kwargs)``.

    Raises:
        DuplicateNameError: two plugins registered the same name.
        PluginError: a registered model spec is inconsistent.
    """
    pm = pm or make_plugin_manager(**kwargs)
    ctx = Context(
        pm=pm,
        models=Registry("model family"),
        dataset_formats=Registry("dataset format"),
        losses=Registry("GAN loss"),
        generators=Registry("generator architecture"),
        discriminators=Registry("discriminator architecture"),
    )
    _call_registration(pm, "i2i_register_models", registrar=ctx.models)
    _call_registration(pm, "i2i_register_dataset_formats", registrar=ctx.dataset_formats)
    _call_registration(pm, "i2i_register_dataset_sources", registrar=ctx.dataset_sources)
    _call_registration(pm, "i2i_register_losses", registrar=ctx.losses)
    _call_registration(
        pm, "i2i_register_networks", generators=ctx.generators, discriminators=ctx.discriminators
    )
    _call_registration(pm, "i2i_register_importers", registrar=ctx.importers)
    _call_registration(pm, "i2i_register_loggers", registrar=ctx.loggers)
    for name, source in ctx.dataset_sources.items():
        if getattr(source, "name", None) != name:
            raise PluginError(
                f"plugin '{ctx.dataset_sources.owner(name)}' registered dataset source '{name}' "
                f"with a source named {getattr(source, 'name', None)!r}; the names must match"
            )
    for name, spec in ctx.models.items():
        if getattr(spec, "name", None) != name:
            raise PluginError(
                f"plugin '{ctx.models.owner(name)}' registered model family '{name}' with a spec "
                f"named {getattr(spec, 'name', None)!r}; the names must match"
            )
    return ctx
