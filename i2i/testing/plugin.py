"""The pytest plugin ``i2i`` (entry point ``pytest11``); see :mod:`i2i.testing`.

Loaded in every pytest session of an environment where i2i is installed, so this module imports
nothing but pytest and the standard library: i2i, torch and the plugins are imported by the
fixtures and the contract tests, only when a test uses them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from i2i.testing.runs import INI, OPTION, TINY_TRAIN, contract_families, train_tiny

MARKER = "i2i_contract"

__all__ = ["INI", "MARKER", "OPTION", "TINY_TRAIN", "contract_families", "train_tiny"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        INI,
        type="args",
        default=[],
        help="i2i model families to run the i2i contract tests for ('*' = every registered one)",
    )
    parser.addoption(
        OPTION,
        default=None,
        metavar="FAMILIES",
        help="comma-separated i2i model families to run the contract tests for ('*' = all); "
        f"overrides the {INI} ini option",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}: an i2i model-family contract test (added by the i2i pytest plugin for the "
        f"families named by the {INI} ini option or {OPTION})",
    )


def _contract_wanted(config: pytest.Config) -> bool:
    """Whether this session should run the contract tests: they are configured and the session
    collects a whole test tree (no file or node arguments), or ``--i2i-contract`` was given."""
    if config.getoption(OPTION) is not None:
        return True
    if not config.getini(INI):
        return False
    args = [a.split("::")[0] for a in config.args]
    return all(Path(a).is_dir() for a in args)


class _ContractModule(pytest.Module):
    """The contract test module, collected from the imported module (whatever the import mode,
    wherever i2i is installed)."""

    def _getobj(self) -> Any:
        import i2i.testing.contract as contract

        return contract


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Add the contract tests (before ``-k`` / ``-m`` selection and other plugins run)."""
    if not _contract_wanted(config):
        return
    import i2i.testing.contract as contract

    module = _ContractModule.from_parent(
        session, path=Path(contract.__file__), nodeid="i2i-contract"
    )
    added = []
    for item in session.genitems(module):
        item.add_marker(MARKER)
        added.append(item)
    items.extend(added)


# -- fixtures (public: a plugin's own tests may use them) ---------------------------------------


@pytest.fixture(scope="session")
def i2i_context() -> Any:
    """The plugin context: built-in plugins and every installed one (``i2i.load_context()``)."""
    from i2i.manager import load_context

    return load_context()


@pytest.fixture(scope="session")
def i2i_demo_data(
    tmp_path_factory: pytest.TempPathFactory, i2i_context: Any
) -> Callable[[str], Path]:
    """``i2i_demo_data(format_name)`` -> the root of that format's demo dataset (its
    ``DatasetFormatSpec.demo``), made once per session."""
    cache: dict[str, Path] = {}

    def get(fmt: str) -> Path:
        if fmt not in cache:
            spec = i2i_context.dataset_formats.get(fmt)
            if spec.demo is None:
                pytest.fail(
                    f"dataset format '{fmt}' has no demo (DatasetFormatSpec.demo); the i2i "
                    "contract tests train on it: give the format a demo",
                    pytrace=False,
                )
            root = tmp_path_factory.mktemp(f"demo-{fmt}") / "data"
            spec.demo(root, 0)
            cache[fmt] = root
        return cache[fmt]

    return get


@pytest.fixture
def i2i_tiny_run(i2i_context: Any) -> Callable[..., Any]:
    """``i2i_tiny_run(family, data, out, steps=2, overrides=(), resume=False, context=None,
    **train)``: :func:`train_tiny` with the session's context (unless ``context`` is given)."""
    return functools.partial(train_tiny, context=i2i_context)
