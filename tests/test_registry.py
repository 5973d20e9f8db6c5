from __future__ import annotations

import pytest

from i2i.errors import DuplicateNameError, RegistryError, UnknownNameError
from i2i.registry import Registrar, Registry


def test_register_get_and_owner() -> None:
    reg: Registry[int] = Registry("widget")
    Registrar(reg, "plug_a").add("one", 1)
    assert reg.get("one") == 1
    assert reg.owner("one") == "plug_a"
    assert "one" in reg and len(reg) == 1 and reg.names() == ["one"]


def test_duplicate_names_both_plugins() -> None:
    reg: Registry[int] = Registry("widget")
    reg.register("x", 1, plugin="first_plugin")
    with pytest.raises(DuplicateNameError) as e:
        reg.register("x", 2, plugin="second_plugin")
    msg = str(e.value)
    assert "first_plugin" in msg and "second_plugin" in msg and "'x'" in msg
    assert "\n" not in msg


def test_unknown_name_lists_known() -> None:
    reg: Registry[int] = Registry("widget")
    reg.register("alpha", 1)
    reg.register("beta", 2)
    with pytest.raises(UnknownNameError) as e:
        reg.get("gamma")
    assert str(e.value) == "unknown widget 'gamma'; known: alpha, beta"


def test_bad_names_rejected() -> None:
    reg: Registry[int] = Registry("widget")
    for bad in ("", " a", "a b"):
        with pytest.raises(RegistryError, match="non-empty word"):
            reg.register(bad, 1)
