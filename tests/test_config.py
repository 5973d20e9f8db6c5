from __future__ import annotations

import dataclasses
import re

import pytest

from i2i.config import (
    GeneratorConfig,
    OptimConfig,
    TrainConfig,
    apply_overrides,
    describe,
    from_dict,
    load_toml,
    opt,
    overrides_to_dict,
    parse_value,
    to_dict,
)
from i2i.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Outer:
    a: int = opt(1, "an int")
    ratio: float = opt(0.5, "a float")
    name: str = opt("x", "a string")
    sizes: tuple[int, ...] = opt((1, 2), "ints")
    generator: GeneratorConfig = opt(GeneratorConfig(), "nested")


def test_parse_value() -> None:
    assert parse_value("8") == 8
    assert parse_value("0.5") == 0.5
    assert parse_value("true") is True
    assert parse_value("lsgan") == "lsgan"
    assert parse_value('"8"') == "8"
    assert parse_value("[1, 2]") == [1, 2]


def test_overrides_nested_and_strict() -> None:
    cfg = apply_overrides(Outer(), ["generator.ngf=8", "a=3", "ratio=1", "sizes=[4, 5, 6]"])
    assert cfg.generator.ngf == 8 and cfg.a == 3 and cfg.ratio == 1.0 and cfg.sizes == (4, 5, 6)
    assert isinstance(cfg.ratio, float)
    with pytest.raises(ConfigError, match=r"unknown config key 'generator.ngff'.*generator.ngf"):
        apply_overrides(Outer(), ["generator.ngff=8"])
    with pytest.raises(ConfigError, match="'a' expects an integer"):
        apply_overrides(Outer(), ["a=abc"])
    with pytest.raises(ConfigError, match="expects true or false"):
        from_dict(TrainConfig, {"flip": "yes"})
    with pytest.raises(ConfigError, match="key=value"):
        overrides_to_dict(["generator.ngf"])


def test_round_trip_and_describe() -> None:
    cfg = apply_overrides(Outer(), ["generator.norm=batch"])
    assert from_dict(Outer, to_dict(cfg)) == cfg
    rows = {k: (d, h) for k, d, h in describe(Outer)}
    assert rows["generator.ngf"] == ("64", "channels of the first generator layer")
    assert rows["a"][1] == "an int"


def test_load_toml_errors(tmp_path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_toml(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("a = = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_toml(bad)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"steps": -5}, "'train.steps' must be >= 0 (0 = use train.epochs), got -5"),
        ({"epochs": -1}, "'train.epochs' must be >= 0"),
        ({"batch_size": 0}, "'train.batch_size' must be >= 1"),
        ({"workers": -2}, "'train.workers' must be >= 0"),
        ({"grad_clip": float("nan")}, "'train.grad_clip' must be a finite number >= 0"),
    ],
)
def test_train_settings_are_checked(overrides, message) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        from_dict(TrainConfig, overrides, prefix="train.")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"lr": float("nan")}, "'optim.lr' must be a finite number >= 0, got nan"),
        ({"lr": float("inf")}, "'optim.lr' must be a finite number >= 0, got inf"),
        ({"lr_d": -1.0}, "'optim.lr_d' must be a finite number >= 0"),
        ({"beta1": 2.0}, "'optim.beta1' must be in [0, 1) (Adam's betas), got 2.0"),
        ({"beta2": 1.0}, "'optim.beta2' must be in [0, 1)"),
    ],
)
def test_optimizer_settings_are_checked(overrides, message) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        from_dict(OptimConfig, overrides, prefix="optim.")


def test_config_file_must_be_utf8_toml(tmp_path) -> None:
    f = tmp_path / "latin1.toml"
    f.write_bytes('[train]\nformat = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"is not UTF-8 text \(byte 0xe9 at offset 21\)"):
        load_toml(f)
    f.write_bytes(b"a = " + b"[" * 5000 + b"]" * 5000)
    with pytest.raises(ConfigError, match="nests tables or arrays too deeply|not valid TOML"):
        load_toml(f)
