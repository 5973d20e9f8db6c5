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

INI = "i2i_contract"
OPTION = "--i2i-contract"
MARKER = "i2i_contract"
#: The tiny training settings of the contract tests and of ``i2i_tiny_run``: 32-px crops of a
#: 36-px resize, batch 1, CPU, no worker processes, a log line every step.
TINY_TRAIN: dict[str, Any] = {
    "size": 32,
    "load_size": 36,
    "batch_size": 1,
    "workers": 0,
    "device": "cpu",
    "log_every": 1,
    "sample_every": 0,
    "checkpoint_every": 0,
}


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


def contract_families(config: pytest.Config) -> list[str]:
    """The families the contract tests were asked for (``*`` = every registered family)."""
    raw = config.getoption(OPTION)
    names = [n.strip() for n in raw.split(",")] if raw is not None else list(config.getini(INI))
    names = [n for n in names if n]
    if "*" in names:
        from i2i.manager import load_context

        names = load_context().models.names()
    return list(dict.fromkeys(names))


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


def train_tiny(
    family: str,
    data: Path,
    out: Path,
    steps: int = 2,
    overrides: tuple[str, ...] = (),
    resume: bool = False,
    context: Any = None,
    **train: Any,
) -> Any:
    """Train a tiny ``family`` model (its ``tiny`` overrides plus ``overrides``, the settings
    of :data:`TINY_TRAIN` updated by ``train``) on ``data`` into ``out``, with ``context``
    (default: ``i2i.load_context()``).

    Returns:
        The run's :class:`i2i.RunInfo`.
    """
    from i2i.manager import load_context
    from i2i.training.run import resolve_run_config
    from i2i.training.trainer import Trainer

    context = context or load_context()
    spec = context.models.get(family)
    rc = resolve_run_config(
        spec,
        data,
        train_options={**TINY_TRAIN, "steps": steps, **train},
        overrides=list(spec.tiny) + list(overrides),
    )
    return Trainer(context, rc, out, resume=resume).fit()


@pytest.fixture
def i2i_tiny_run(i2i_context: Any) -> Callable[..., Any]:
    """``i2i_tiny_run(family, data, out, steps=2, overrides=(), resume=False, context=None,
    **train)``: :func:`train_tiny` with the session's context (unless ``context`` is given)."""
    return functools.partial(train_tiny, context=i2i_context)
