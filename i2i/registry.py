"""Name -> object registries.

Every name-resolved thing in i2i (model families, dataset formats, GAN losses, networks, norm
layers, ...) lives in a :class:`Registry`. Registration records which plugin provided each name,
so a duplicate is reported with both plugins, and an unknown name is answered with the list of
known ones.

Example:
    >>> reg = Registry("GAN loss")
    >>> reg.register("lsgan", object(), plugin="builtin")
    >>> "lsgan" in reg
    True
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from i2i.errors import DuplicateNameError, RegistryError, UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """A mapping from names to objects of one kind.

    Args:
        kind: What is registered, for messages (e.g. ``"model family"``).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._owners: dict[str, str] = {}

    def register(self, name: str, obj: T, *, plugin: str = "<unknown>") -> T:
        """Add ``obj`` under ``name``.

        Raises:
            DuplicateNameError: ``name`` is already registered (the message names both plugins).
            RegistryError: ``name`` is empty or has whitespace.
        """
        if not isinstance(name, str) or not name or name != name.strip() or " " in name:
            raise RegistryError(
                f"{self.kind} name must be a non-empty word without spaces, got {name!r}"
            )
        if name in self._items:
            raise DuplicateNameError(
                f"{self.kind} '{name}' is registered twice: by plugin '{self._owners[name]}' "
                f"and by plugin '{plugin}'; uninstall or block one of them "
                "(I2I_DISABLE_PLUGINS=name)"
            )
        self._items[name] = obj
        self._owners[name] = plugin
        return obj

    def get(self, name: str) -> T:
        """Return the object registered under ``name``.

        Raises:
            UnknownNameError: the name is not registered; the message lists the known names.
        """
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "(none registered)"
            raise UnknownNameError(f"unknown {self.kind} '{name}'; known: {known}") from None

    def owner(self, name: str) -> str:
        """Name of the plugin that registered ``name``."""
        self.get(name)
        return self._owners[name]

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        """(name, object) pairs, sorted by name."""
        return [(n, self._items[n]) for n in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"


class Registrar(Generic[T]):
    """What a registration hook receives: adds to one registry on behalf of one plugin.

    Example (inside a plugin)::

        @i2i.hookimpl
        def i2i_register_losses(registrar):
            registrar.add("my_loss", MyLoss)
    """

    def __init__(self, registry: Registry[T], plugin: str) -> None:
        self._registry = registry
        self.plugin = plugin

    @property
    def kind(self) -> str:
        return self._registry.kind

    def add(self, name: str, obj: T) -> T:
        """Register ``obj`` as ``name`` (see :meth:`Registry.register`)."""
        return self._registry.register(name, obj, plugin=self.plugin)
