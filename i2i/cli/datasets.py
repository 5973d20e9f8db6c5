"""``i2i datasets check``, ``demo`` and ``combine`` (``download``, ``prepare``, ``list`` and
``info`` are in :mod:`i2i.cli.dataset_sources`)."""

from __future__ import annotations

from pathlib import Path

import typer

from i2i.cli.common import check_summary, handle_errors, say
from i2i.config import effective_load_size
from i2i.errors import ConfigError
from i2i.manager import Context
from i2i.specs import DataOptions, DatasetFormatSpec
from i2i_runtime.imageio import DEFAULT_MAX_PIXELS


def demo_kinds(ctx: Context) -> dict[str, DatasetFormatSpec]:
    """Demo kinds (``--kind``) -> the dataset format that writes them."""
    return {
        spec.demo_kind or name: spec
        for name, spec in ctx.dataset_formats.items()
        if spec.demo is not None
    }


def _parse_value(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_params(items: list[str]) -> dict[str, int | float | str]:
    """``["scale=2", "noise_std=0.05"]`` -> ``{"scale": 2, "noise_std": 0.05}`` (values parse as
    int, else float, else stay strings).

    Raises:
        ConfigError: an item without ``=`` or with an empty key.
    """
    out: dict[str, int | float | str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param expects KEY=VALUE (e.g. --param scale=2), got {item!r}")
        out[key.strip()] = _parse_value(value.strip())
    return out


def register(app: typer.Typer, ctx: Context) -> None:
    ds = typer.Typer(
        help="Download, prepare and check datasets; write offline demo datasets.",
        no_args_is_help=True,
    )

    @ds.command("check")
    @handle_errors
    def check_cmd(
        root: Path = typer.Argument(..., metavar="ROOT", help="dataset folder"),
        format: str = typer.Option(..., "--format", "-f", help="dataset format name"),  # noqa: A002
        size: int = typer.Option(
            0, help="training crop size (train.size) to check images against (0 = any size)"
        ),
        load_size: int = typer.Option(
            0,
            "--load-size",
            help="train.load_size, with training's rule: N | 0 = size * 286/256 | -1 = no resize "
            "(only then are images smaller than --size a problem)",
        ),
        channels: int = typer.Option(3, help="channels to load images as"),
        param: list[str] = typer.Option(
            [],
            "--param",
            "-p",
            metavar="KEY=VALUE",
            help="format-specific setting, repeatable (e.g. --param scale=2 for --format sr)",
        ),
        max_pixels: int = typer.Option(
            DEFAULT_MAX_PIXELS,
            "--max-pixels",
            help="largest image (width x height) accepted, checked from the header before "
            "decoding (train.max_pixels; 0 = no limit)",
        ),
    ) -> None:
        """Validate a dataset folder without training (same checks as before training)."""
        spec = ctx.dataset_formats.get(format)
        options = DataOptions(
            split="train",
            size=size,
            load_size=effective_load_size(size, load_size),
            channels={k: channels for k in spec.keys},
            load_image=ctx.load_image,
            params=parse_params(param),
            max_pixels=max_pixels,
        )
        report = spec.validate(root, options)
        say(check_summary(root, format, report))
        for problem in report.problems:
            say(f"warning: {problem}")

    @ds.command("demo")
    @handle_errors
    def demo_cmd(
        out: Path = typer.Argument(
            ..., metavar="OUT", help="folder to write the demo dataset into"
        ),
        kind: str = typer.Option("unpaired", "--kind", "-k", help="demo kind (see the error)"),
        seed: int = typer.Option(0, help="random seed"),
    ) -> None:
        """Write a small procedural demo dataset (offline, deterministic for a seed)."""
        kinds = demo_kinds(ctx)
        if kind not in kinds:
            raise ConfigError(
                f"no demo dataset of kind '{kind}'; kinds: {', '.join(sorted(kinds))}"
            )
        spec = kinds[kind]
        spec.demo(out, seed)
        say(f"wrote a '{kind}' demo dataset (format '{spec.name}') to {out}")

    @ds.command("combine")
    @handle_errors
    def combine_cmd(
        a_dir: Path = typer.Argument(..., metavar="A_DIR", help="folder of A images"),
        b_dir: Path = typer.Argument(
            ..., metavar="B_DIR", help="folder of B images (matched to A by file name)"
        ),
        out: Path = typer.Argument(..., metavar="OUT", help="output folder of aligned A|B images"),
        resize_to_a: bool = typer.Option(
            False, "--resize-to-a", help="resize B to A's size instead of skipping the pair"
        ),
    ) -> None:
        """Build aligned A|B images from two folders; every file that could not be paired is
        reported."""
        from i2i.datasets.combine import combine_pairs

        report = combine_pairs(a_dir, b_dir, out, resize_to_a=resize_to_a)
        say(report.summary())
        for line in report.problem_lines():
            say(f"  {line}")

    from i2i.cli import dataset_sources

    dataset_sources.register(ds, ctx)
    app.add_typer(ds, name="datasets")
