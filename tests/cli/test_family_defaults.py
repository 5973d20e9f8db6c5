"""`i2i models FAMILY` and `i2i train FAMILY --help` show what a run with no options records.

Every registered family is trained through the real trainer with no family options; a test
plugin stops the run as soon as it has written ``config.toml`` (so no default-size model takes a
step), and the table the CLI prints must equal that recorded config, key by key. The only
differences allowed are the crop size the test sets (the demo data is small) and the keys the
family's ``adapt_config`` fills from the data (e.g. cgan's class count).
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import i2i
from i2i.cli.app import build_app
from i2i.config import describe, load_toml
from i2i.manager import load_context
from i2i.specs import DataOptions
from i2i.training.run import resolve_run_config, run_config_from_dict
from i2i.training.trainer import Trainer, data_options

FAMILIES = load_context().models.names()
SIZE = 64  # the one option the test sets: the demo datasets hold small images


class _Recorded(Exception):
    """Raised by the observer below once the run has recorded its config."""


class _StopAtStart:
    @i2i.hookimpl
    def i2i_train_start(self, run) -> None:
        raise _Recorded(str(run.run_dir))


def _table(output: str) -> dict[str, str]:
    """The rows of the rich table printed by `i2i models FAMILY` (key -> shown default)."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if len(cells) == 3 and cells[0] and cells[0] != "key":
            rows[cells[0]] = cells[1]
    return rows


@pytest.mark.parametrize("family", FAMILIES)
def test_models_table_equals_the_recorded_config(family, demo_data, tmp_path) -> None:
    ctx = load_context(extra=[("stop-at-start", _StopAtStart())])
    spec = ctx.models.get(family)
    result = CliRunner().invoke(build_app(ctx), ["models", family], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    table = _table(result.output)

    data = demo_data(spec.dataset_format)
    run_config = resolve_run_config(spec, data, train_options={"size": SIZE})
    with pytest.raises(_Recorded):
        Trainer(ctx, run_config, tmp_path / "run").fit()
    recorded = run_config_from_dict(ctx, load_toml(tmp_path / "run" / "config.toml"))
    shown = describe(recorded.model) + describe(recorded.train, "train.")
    assert [k for k, _, _ in shown] == list(table), "the table lists other keys than a run records"

    adapted: set[str] = set()
    if spec.adapt_config is not None:  # keys the family fills from the data
        options: DataOptions = data_options(spec, run_config, ctx)
        report = ctx.dataset_formats.get(spec.dataset_format).validate(data, options)
        before = {k: v for k, v, _ in describe(spec.config_cls())}
        after = {k: v for k, v, _ in describe(spec.adapt_config(spec.config_cls(), report))}
        adapted = {k for k in before if before[k] != after[k]}
    recorded_rows = {k: v for k, v, _ in shown}
    differ = {k: (table[k], v) for k, v in recorded_rows.items() if table[k] != v}
    assert set(differ) <= adapted | {"train.size"}, f"table vs recorded: {differ}"
    assert table["train.size"] == repr(resolve_run_config(spec, data).train.size)


def test_shared_blocks_show_the_family_defaults() -> None:
    """The reported cases: pix2pix trains unet_256 with batch norm; cgan uses TTUR."""
    ctx = load_context()
    runner, app = CliRunner(), build_app(ctx)

    def table(family: str) -> dict[str, str]:
        r = runner.invoke(app, ["models", family], env={"COLUMNS": "400"})
        assert r.exit_code == 0, r.output
        return _table(r.output)

    pix, cgan = table("pix2pix"), table("cgan")
    assert pix["generator.arch"] == "'unet_256'" and pix["generator.norm"] == "'batch'"
    assert cgan["optim.lr"] == "0.0001" and cgan["optim.lr_d"] == "0.0004"
    assert cgan["optim.beta1"] == "0.0" and cgan["schedule.kind"] == "'constant'"
    r = runner.invoke(app, ["train", "pix2pix", "--help"], env={"COLUMNS": "200"})
    assert "generator.arch = 'unet_256'" in r.output and "generator.norm = 'batch'" in r.output
