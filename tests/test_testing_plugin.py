"""i2i's pytest plugin (entry point pytest11 'i2i'): cheap to load, silent unless configured.

Its contract tests run in this suite for every registered family (``i2i_contract = ["*"]`` in
pyproject.toml) and in a generated plugin package (tests/cli/test_plugin_new.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata


def _run(args: list[str], cwd, **kw) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=600, **kw
    )


def test_registered_as_pytest_plugin() -> None:
    eps = {ep.name: ep.value for ep in metadata.entry_points(group="pytest11")}
    assert eps.get("i2i") == "i2i.testing.plugin"


def test_loading_imports_neither_torch_nor_the_plugins(tmp_path) -> None:
    code = (
        "import sys, i2i.testing.plugin, i2i; "
        "heavy = [m for m in ('torch', 'numpy', 'PIL', 'i2i.manager', 'i2i.model') "
        "if m in sys.modules]; print(heavy)"
    )
    r = _run(["-c", code], tmp_path)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr


def test_a_project_without_the_option_runs_only_its_tests(tmp_path) -> None:
    (tmp_path / "test_one.py").write_text("def test_one():\n    assert True\n")
    r = _run(["-m", "pytest", "-p", "no:cacheprovider", "-W", "error", "-q"], tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "1 passed" in out and "i2i-contract" not in out, out
    assert "warning" not in out.lower()


def test_an_unknown_family_fails_with_one_clear_line(tmp_path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\ni2i_contract = ["nope"]\n')
    r = _run(["-m", "pytest", "-p", "no:cacheprovider", "-q", "-k", "bad_input"], tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "configured for family 'nope', which no installed plugin registers" in out
    assert "i2i-contract::test_bad_input_fails_in_one_line[nope]" in out


def test_contract_is_added_only_for_whole_test_trees(pytestconfig, monkeypatch) -> None:
    from i2i.testing.plugin import _contract_wanted

    class Config:
        def __init__(self, args: list[str], option: str | None = None) -> None:
            self.args, self._option = args, option

        def getoption(self, name: str) -> str | None:
            return self._option

        def getini(self, name: str) -> list[str]:
            return ["*"]

    monkeypatch.chdir(pytestconfig.rootpath)
    for args in (["tests/test_api.py"], ["tests/test_api.py::test_x"], ["tests", "tests/x.py"]):
        assert not _contract_wanted(Config(args))
        assert _contract_wanted(Config(args, option="cyclegan"))
    assert _contract_wanted(Config(["tests"])) and _contract_wanted(Config(["."]))
