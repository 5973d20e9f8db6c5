"""`i2i plugin new NAME DIR` writes a plugin package that passes its tests as generated.

The package is installed into a throwaway virtual environment layered on this one (never into
the test environment: its entry point would leak into every other test), and its own pytest
runs in a subprocess: its tests and i2i's contract tests for its family, with no warning.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from i2i.cli.app import build_app
from i2i.cli.plugin import TEMPLATE, TEMPLATE_NAME


@pytest.fixture(scope="module")
def invoke(ctx):
    runner, app = CliRunner(), build_app(ctx)

    def run(*args: object):
        return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})

    return run


def test_writes_the_renamed_template(invoke, tmp_path) -> None:
    out = tmp_path / "pkg"
    r = invoke("plugin", "new", "my_model", out)
    assert r.exit_code == 0, r.output
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "pyproject.toml",
        "src/i2i_my_model/__init__.py",
        "tests/test_my_model.py",
    ]
    text = {f: (out / f).read_text() for f in files}
    assert not any(TEMPLATE_NAME in t or TEMPLATE_NAME.capitalize() in t for t in text.values())
    assert 'my_model = "i2i_my_model"' in text["pyproject.toml"]
    assert 'i2i_contract = ["my_model"]' in text["pyproject.toml"]
    assert 'name = "i2i-my-model"' in text["pyproject.toml"]
    assert "class MyModel(i2i.GANModel)" in text["src/i2i_my_model/__init__.py"]
    template = (TEMPLATE / "src" / f"i2i_{TEMPLATE_NAME}" / "__init__.py").read_text()
    assert len(text["src/i2i_my_model/__init__.py"].splitlines()) == len(template.splitlines())
    assert [p.name for p in tmp_path.iterdir()] == ["pkg"]  # no temporary folder left


def test_refuses_bad_names_and_used_folders(invoke, tmp_path) -> None:
    def error(*args: object) -> str:
        r = invoke("plugin", "new", *args)
        assert r.exit_code == 1, r.output
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), r.output
        return lines[0]

    assert "lower-case Python identifier" in error("My-Model", tmp_path / "a")
    assert "lower-case Python identifier" in error("class", tmp_path / "a")
    assert "model family 'cyclegan' (plugin 'cyclegan')" in error("cyclegan", tmp_path / "a")
    assert "dataset format 'unpaired'" in error("unpaired", tmp_path / "a")
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("mine")
    assert "not an empty folder" in error("fine_name", used)
    assert [p.name for p in used.iterdir()] == ["keep.txt"]
    assert not (tmp_path / "a").exists()


def _layered_venv(path: Path) -> Path:
    """A virtual environment without pip that sees this environment's packages (a .pth file
    adds this interpreter's site-packages, with their own .pth files); returns its python."""
    venv.EnvBuilder(with_pip=False).create(path)
    python = path / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    here = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    own = sysconfig.get_paths()["purelib"]
    lines = [f"import site; site.addsitedir({p!r})" for p in dict.fromkeys([own, *here])]
    (Path(purelib) / "_i2i_test_layer.pth").write_text("\n".join(lines) + "\n")
    return python


def test_generated_package_passes_its_tests_and_the_contract(invoke, tmp_path) -> None:
    pkg = tmp_path / "i2i-my-model"
    assert invoke("plugin", "new", "my_model", pkg).exit_code == 0
    python = _layered_venv(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "PYTHONPATH"))}
    env["OMP_NUM_THREADS"] = "2"
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--no-index", "-e", str(pkg)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    result = subprocess.run(
        [python, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-W", "error"],
        cwd=pkg, capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    for test in (
        "test_trains_and_writes_a_run",
        "test_resume_is_exact",
        "test_reloads_and_translates_any_size",
        "test_exports_to_onnx_with_parity",
        "test_bad_input_fails_in_one_line",
    ):
        assert f"i2i-contract::{test}[my_model] PASSED" in out, out[-4000:]
    assert "tests/test_my_model.py::test_registered_by_this_plugin PASSED" in out
    assert "warning" not in out.lower(), out[-4000:]
    # the package's entry point stayed in the throwaway environment
    from importlib import metadata

    assert "my_model" not in {ep.name for ep in metadata.entry_points(group="i2i.plugins")}
