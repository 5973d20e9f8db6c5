from __future__ import annotations

import dataclasses

import pytest

from i2i.config import (
    GeneratorConfig,
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
