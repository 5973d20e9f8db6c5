"""``i2i export RUN_OR_CKPT OUT.onnx``."""

from __future__ import annotations

from pathlib import Path

import typer

from i2i.cli.common import handle_errors, say
from i2i.manager import Context


def register(app: typer.Typer, ctx: Context) -> None:
    @app.command("export")
    @handle_errors
    def export_cmd(
        source: Path = typer.Argument(
            ..., metavar="SOURCE", help="run directory, checkpoint directory or weights"
        ),
        out: Path = typer.Argument(..., metavar="OUT", help="output .onnx file"),
        direction: str = typer.Option(None, help="AtoB | BtoA (default: the model's own)"),
        static: str = typer.Option(None, help="fixed input size HxW (default: dynamic N, H, W)"),
        opset: int = typer.Option(None, help="ONNX opset (default: i2i's tested opset)"),
        precision: str = typer.Option("fp32", help="fp32 | fp16 (GPU; norms stay fp32)"),
        quantize: str = typer.Option(None, help="int8: static quantization for CPU inference"),
        calibration: Path = typer.Option(None, help="folder of images to calibrate int8"),
        verify: bool = typer.Option(True, "--verify/--no-verify", help="check against PyTorch"),
        tolerance: float = typer.Option(None, help="max abs difference allowed by --verify"),
    ) -> None:
        """Export a checkpoint's inference model to ONNX, verified with onnxruntime."""
        from i2i.export.onnx import DEFAULT_OPSET, export_onnx, parse_static

        result = export_onnx(
            ctx, source, out, direction=direction,
            static=parse_static(static) if static else None,
            opset=opset or DEFAULT_OPSET, precision=precision, verify=verify,
            tolerance=tolerance, quantize=quantize, calibration=calibration,
        )  # fmt: skip
        sampler = '"noise"' in result.metadata.get("i2i_inputs", "")
        dynamic = "dynamic batch" if sampler else "dynamic N, H, W"
        shape = "x".join(map(str, result.static)) if result.static else dynamic
        say(
            f"exported {result.family} {result.direction} to {result.path} "
            f"(opset {result.opset}, {result.precision}, {shape})"
        )
        for check in result.checks:
            say(
                f"  verified at {tuple(check['shape'])}: max abs difference "
                f"{check['max_abs_diff']:.2e} (tolerance {result.tolerance:g})"
            )
        if result.psnr_db is not None:
            say(f"  int8 vs fp32 outputs on the calibration images: PSNR {result.psnr_db:.2f} dB")
        from i2i.tracking import attached

        step = int(result.metadata.get("i2i_step", "0") or 0)
        with attached(ctx, source, step) as run:  # the run's page and loggers record the file
            if run is not None:
                ctx.hook.i2i_artifact_saved(run=run, path=result.path, kind="onnx", step=step)
