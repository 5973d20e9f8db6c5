"""`i2i --version`: i2i, Python, torch (CUDA), onnxruntime (providers), installed plugins."""

from __future__ import annotations

from importlib import metadata

import onnxruntime as ort
import pytest
import torch
from typer.testing import CliRunner

import i2i
from i2i.cli import app as cli_app
from i2i.cli.app import build_app
from i2i.manager import DISABLE_ENV


def _check(text: str) -> None:
    lines = text.strip().splitlines()
    assert lines[0].startswith(f"i2i {i2i.__version__} (")
    assert lines[1].startswith("python 3.")
    assert lines[2].startswith(f"torch {torch.__version__} (")
    cuda = "GPUs: " if torch.cuda.is_available() else "no GPU visible" if torch.version.cuda else ""
    assert cuda in lines[2]
    assert f"{ort.__version__} (providers: " in lines[3] and "CPU" in lines[3]
    assert lines[4] == "plugins:"
    eps = {ep.name: ep for ep in metadata.entry_points(group="i2i.plugins")}
    for name, ep in eps.items():
        line = f"  {name} {ep.dist.version} ({ep.dist.name}, {ep.value})"
        assert any(x.startswith(line) for x in lines[5:]), lines


def test_version_lists_the_stack_and_plugins(ctx) -> None:
    r = CliRunner().invoke(build_app(ctx), ["--version"])
    assert r.exit_code == 0, r.output
    _check(r.output)
    assert "example 0.1.0 (i2i-example-plugin, i2i_example_plugin)" in r.output


def test_version_works_when_a_plugin_is_broken(monkeypatch, capsys) -> None:
    def broken(*args, **kwargs):
        raise i2i.PluginError("plugin 'x' failed to load")

    monkeypatch.setattr(cli_app, "load_context", broken)
    monkeypatch.setenv(DISABLE_ENV, "example")
    cli_app.main(["--version"])
    out = capsys.readouterr().out
    _check(out)
    assert "[blocked by I2I_DISABLE_PLUGINS]" in out
    with pytest.raises(SystemExit):
        cli_app.main(["models"])
