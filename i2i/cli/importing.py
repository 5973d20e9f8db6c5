"""``i2i import SOURCE OUT_RUN``: another project's trained checkpoint as an i2i run."""

from __future__ import annotations

from pathlib import Path

import typer

from i2i.cli.common import handle_errors, say
from i2i.manager import Context


def register(app: typer.Typer, ctx: Context) -> None:
    @app.command("import")
    @handle_errors
    def import_cmd(
        source: Path = typer.Argument(
            ..., metavar="SOURCE", help="checkpoint file (.pth / .pt / .safetensors)"
        ),
        out: Path = typer.Argument(..., metavar="OUT_RUN", help="new run directory to write"),
        family: str = typer.Option(
            None, help="family to import as (default: detected, e.g. cyclegan for G_A + G_B)"
        ),
        set_: list[str] = typer.Option(
            [], "--set", help="KEY=VALUE config values the file cannot tell (e.g. label_nc=35)"
        ),
    ) -> None:
        """Import a pytorch-CycleGAN-and-pix2pix, BasicSR / ESRGAN / Real-ESRGAN or SPADE
        checkpoint (or a plugin's layout) as an i2i run: translate, export, eval and tiling then
        work on it unchanged. Reads weights only (torch.load weights_only=True / safetensors)."""
        from i2i.importers import import_checkpoint

        result = import_checkpoint(ctx, source, out, family=family, overrides=list(set_))
        say(f"detected ({result.importer}): {result.detected[0]}")
        for line in result.detected[1:]:
            say(f"  {line}")
        for line in result.imported:
            say(f"  imported {line}")
        if result.initialized:
            say(f"  not in the file(s), left untrained: {', '.join(result.initialized)}")
        for note in result.notes:
            say(f"  note: {note}")
        say(
            f"wrote {result.family} run {result.run_dir} (i2i translate {result.run_dir} IN OUT; "
            f"i2i export {result.run_dir} model.onnx)"
        )
