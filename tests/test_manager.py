from __future__ import annotations

import numpy as np
import pytest

import i2i
from i2i.errors import DuplicateNameError, PluginError, UnknownNameError
from i2i.manager import BUILTIN_PLUGINS, load_context, make_plugin_manager


def test_builtins_are_registered_as_plugins(ctx) -> None:
    names = {p.name for p in ctx.plugins()}
    assert {n for n, _ in BUILTIN_PLUGINS} <= names
    assert "cyclegan" in ctx.models
    assert ctx.models.owner("cyclegan") == "cyclegan"
    info = {p.name: p for p in ctx.plugins()}["cyclegan"]
    assert info.hooks == ["i2i_register_models"] and info.version == i2i.__version__


def test_no_global_manager() -> None:
    a, b = load_context(), load_context()
    assert a.pm is not b.pm and a.models is not b.models


def test_disable_by_env(monkeypatch) -> None:
    monkeypatch.setenv("I2I_DISABLE_PLUGINS", "cyclegan, losses")
    ctx = load_context()
    assert "cyclegan" not in ctx.models and len(ctx.losses) == 0
    with pytest.raises(UnknownNameError, match="unknown model family 'cyclegan'; known: "):
        ctx.models.get("cyclegan")


class Dup:
    @i2i.hookimpl
    def i2i_register_losses(self, registrar) -> None:
        registrar.add("lsgan", object)


def test_duplicate_name_names_both_plugins() -> None:
    with pytest.raises(DuplicateNameError) as e:
        load_context(extra=[("my_dup_plugin", Dup())])
    assert "'losses'" in str(e.value) and "'my_dup_plugin'" in str(e.value)


class BadHook:
    @i2i.hookimpl
    def i2i_regster_models(self, registrar) -> None:  # typo
        pass


def test_unknown_hook_is_an_error() -> None:
    with pytest.raises(PluginError, match="i2i_regster_models"):
        make_plugin_manager(extra=[("bad", BadHook())])


class ConstLoader:
    @i2i.hookimpl
    def i2i_load_image(self, path, channels):
        return np.full((4, 4, channels), 0.25, np.float32)


def test_decision_hook_overrides_builtin(tmp_path) -> None:
    ctx = load_context(extra=[("const", ConstLoader())])
    out = ctx.load_image(tmp_path / "whatever.png", 3)
    assert out.shape == (4, 4, 3) and float(out.mean()) == 0.25


class Mismatch:
    @i2i.hookimpl
    def i2i_register_models(self, registrar) -> None:
        from i2i.plugins.cyclegan import SPEC

        registrar.add("other", SPEC)


def test_spec_name_must_match() -> None:
    with pytest.raises(PluginError, match="names must match"):
        load_context(extra=[("mismatch", Mismatch())])


def test_hookspecs_are_documented() -> None:
    from i2i import hookspecs

    hooks = [n for n in dir(hookspecs) if n.startswith("i2i_")]
    assert len(hooks) >= 10
    for n in hooks:
        assert (getattr(hookspecs, n).__doc__ or "").strip(), n
