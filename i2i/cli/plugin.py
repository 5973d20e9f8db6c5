"""``i2i plugin new NAME [DIR]``: write a working plugin package to start from.

The package (``i2i-NAME``, module ``i2i_NAME``) holds a model family and a dataset format
named NAME — the ``colorize`` example (grayscale -> colour, a folder of colour images per
split) renamed — a ``pyproject.toml`` with the ``i2i.plugins`` entry point and the ini line that
runs i2i's contract tests, a README and a test file. ``pip install -e DIR`` and ``pytest`` in it
pass as generated. The template is ``i2i/cli/templates/plugin`` (the ``colorize`` plugin itself).
"""

from __future__ import annotations

import keyword
import os
import re
import shutil
import tempfile
from pathlib import Path

import typer

from i2i.cli.common import handle_errors, say
from i2i.errors import ConfigError
from i2i.manager import Context

TEMPLATE = Path(__file__).parent / "templates" / "plugin"
#: The family, format and plugin name of the template.
TEMPLATE_NAME = "colorize"
_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")


def _check_name(ctx: Context, name: str) -> None:
    if not _NAME.match(name) or keyword.iskeyword(name) or name.endswith("_"):
        raise ConfigError(
            f"plugin name {name!r} must be a lower-case Python identifier (letters, digits, _), "
            "e.g. 'colorize' or 'my_model'; it names the family, the format and the module i2i_NAME"
        )
    taken = [
        f"{what} '{name}' (plugin '{owner}')"
        for what, reg in (("model family", ctx.models), ("dataset format", ctx.dataset_formats))
        if name in reg
        for owner in [reg.owner(name)]
    ]
    if name in {p.name for p in ctx.plugins()}:
        taken.append(f"plugin '{name}'")
    if taken:
        raise ConfigError(
            f"the name '{name}' is taken here: {', '.join(taken)}; choose another name (or "
            f"uninstall that plugin)"
        )


def _render(text: str, name: str) -> str:
    camel = "".join(part.capitalize() for part in name.split("_"))
    dist = name.replace("_", "-")
    for old, new in (
        (f"i2i-{TEMPLATE_NAME}", f"i2i-{dist}"),
        (f"i2i_{TEMPLATE_NAME}", f"i2i_{name}"),
        (TEMPLATE_NAME.capitalize(), camel),
        (TEMPLATE_NAME, name),
    ):
        text = text.replace(old, new)
    return text


def new_plugin(ctx: Context, name: str, out_dir: Path | None = None) -> Path:
    """Write the package of a new plugin called ``name`` to ``out_dir`` (default
    ``./i2i-NAME``).

    Returns:
        The package folder.

    Raises:
        ConfigError: a bad or taken name, or an output folder that exists and is not empty
            (nothing is overwritten).
    """
    _check_name(ctx, name)
    out = Path(out_dir) if out_dir is not None else Path(f"i2i-{name.replace('_', '-')}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out} exists and is not an empty folder; choose a new folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for src in sorted(TEMPLATE.rglob("*")):
            rel = src.relative_to(TEMPLATE)
            if src.is_dir() or "__pycache__" in rel.parts or src.suffix == ".pyc":
                continue
            dst = tmp / _render(rel.as_posix(), name)
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_text(_render(src.read_text(encoding="utf-8"), name), encoding="utf-8")
        if out.exists():
            out.rmdir()  # empty (checked above)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def register(app: typer.Typer, ctx: Context) -> None:
    plugin = typer.Typer(help="Start a plugin package.", no_args_is_help=True)

    @plugin.command("new")
    @handle_errors
    def new_cmd(
        name: str = typer.Argument(..., metavar="NAME", help="family, format and plugin name"),
        out_dir: Path = typer.Argument(
            None, metavar="DIR", help="where to write the package [default: ./i2i-NAME]"
        ),
    ) -> None:
        """Write a working plugin package: a model family and a dataset format named NAME (a
        renamed copy of the colorize example), pyproject.toml with the entry point, a README and
        tests that run i2i's contract tests."""
        out = new_plugin(ctx, name, out_dir)
        say(
            f"wrote the plugin package i2i-{name.replace('_', '-')} to {out}; next: "
            f"pip install -e {out} && (cd {out} && pytest), then edit "
            f"{out / 'src' / f'i2i_{name}' / '__init__.py'}"
        )

    app.add_typer(plugin, name="plugin")
