"""``i2i serve RUN_OR_MODEL``: the HTTP translation service of the runtime, for a checkpoint (run
with PyTorch) or an exported ``.onnx`` model (run with onnxruntime).

The server itself is :mod:`i2i_runtime.serve` (the same app ``i2i-run serve`` runs); this
command only opens the engine through the plugin context.
"""

from __future__ import annotations

import types
from pathlib import Path

import typer

from i2i.manager import Context


def register(app: typer.Typer, ctx: Context) -> None:
    @app.command("serve")
    def serve_cmd(
        source: Path = typer.Argument(
            ...,
            metavar="SOURCE",
            help="run directory, checkpoint directory or weights, or an exported .onnx file",
        ),
        direction: str = typer.Option(None, help="AtoB | BtoA (default: the model's own)"),
        device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N | mps"),
        precision: str = typer.Option("fp32", help="fp32 | bf16 | fp16 (PyTorch checkpoints)"),
        provider: str = typer.Option(
            "auto", help="onnxruntime provider for .onnx: auto | tensorrt | cuda | cpu"
        ),
        threads: int = typer.Option(None, help="intra-op threads of the engine"),
        spec: str = typer.Option(None, help="describe an ONNX model without i2i metadata"),
        host: str = typer.Option("127.0.0.1", help="address to listen on"),
        port: int = typer.Option(8000, help="port (0 = any free port)"),
        max_batch: int = typer.Option(8, help="most images per model call"),
        max_delay_ms: float = typer.Option(
            5.0, help="latency budget: how long a request may wait to be batched with others"
        ),
        queue_size: int = typer.Option(64, help="most waiting requests (then 503)"),
        max_body_mb: float = typer.Option(32.0, help="largest request body"),
        max_megapixels: float = typer.Option(16.0, help="largest image accepted"),
        tile: int = typer.Option(0, help="translate in tiles of N pixels (0 = no)"),
        overlap: int = typer.Option(32, help="tile overlap in pixels, blended"),
        convert_channels: bool = typer.Option(
            False, help="accept colour images for a grayscale model (converted to luma)"
        ),
        palette: Path = typer.Option(None, help="palette file for RGB label maps"),
    ) -> None:
        """Serve a model over HTTP: POST an image, get the translation; a web page at /."""
        from i2i.export.engine import open_engine
        from i2i_runtime.cli import serve_config
        from i2i_runtime.serve import require_server_stack, serve

        require_server_stack()
        engine = open_engine(
            ctx, source, direction=direction, device=device, precision=precision,
            provider=provider, threads=threads, spec=spec,
        )  # fmt: skip
        options = types.SimpleNamespace(
            max_batch=max_batch, max_delay_ms=max_delay_ms, queue_size=queue_size,
            max_body_mb=max_body_mb, max_megapixels=max_megapixels, tile=tile, overlap=overlap,
            convert_channels=convert_channels, palette=palette,
        )  # fmt: skip
        config = serve_config(options, engine.info.stride)  # type: ignore[arg-type]
        serve(engine, host=host, port=port, config=config, model_name=source.name)  # type: ignore[arg-type]
