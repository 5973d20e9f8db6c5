"""``i2i-run``: the runtime's command line (no PyTorch).

::

    i2i-run translate MODEL.onnx IN_DIR OUT_DIR [options of `i2i translate`]
    i2i-run serve MODEL.onnx [--host 127.0.0.1 --port 8000 --max-batch 8 ...]
    i2i-run sample MODEL.onnx OUT.png --class 3 -n 8 --seed 0
    i2i-run info MODEL.onnx

Every failure prints one line (``error: ...``, from :func:`i2i_runtime.errors.describe_failure`,
the same mapping ``i2i`` uses) and exits with status 1 (130 / 143 when stopped by SIGINT /
SIGTERM); ``I2I_DEBUG=1`` also prints the traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .errors import ConfigError, describe_failure
from .imageio import DEFAULT_MAX_PIXELS

log = logging.getLogger("i2i_runtime")


def _debug() -> bool:
    return os.environ.get("I2I_DEBUG", "") not in ("", "0", "false")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def add_model_options(p: argparse.ArgumentParser) -> None:
    """``--provider``, ``--device``, ``--threads``, ``--spec`` (every command that opens a
    model)."""
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument(
        "--provider", default="auto", help="onnxruntime provider: auto | tensorrt | cuda | cpu"
    )
    p.add_argument("--threads", type=int, default=None, help="intra-op threads of the engine")
    p.add_argument(
        "--spec",
        default=None,
        help="describe a model without i2i metadata: channels=3,stride=4,scale=1,range=-1:1",
    )


def add_direction_options(p: argparse.ArgumentParser) -> None:
    """``--direction`` and ``--precision``: what ``i2i`` takes for checkpoints; an ONNX file
    holds one direction in one precision, so these only refuse a mismatch."""
    p.add_argument("--direction", default=None, help="refuse a model of another direction")
    p.add_argument("--precision", default="fp32", help="fp32 (ONNX models run as exported)")


def check_precision(precision: str) -> None:
    """Raises ConfigError for anything but fp32 (ONNX models run as exported)."""
    if precision != "fp32":
        raise ConfigError(
            f"--precision {precision} applies to PyTorch checkpoints; an ONNX model runs "
            "in the precision it was exported with (export an fp16 model instead)"
        )


def add_serve_options(p: argparse.ArgumentParser) -> None:
    """The server options shared by ``i2i-run serve`` (and mirrored by ``i2i serve``)."""
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8000, help="port (0 = any free port)")
    p.add_argument("--max-batch", type=int, default=8, help="most images per model call")
    p.add_argument(
        "--max-delay-ms",
        type=float,
        default=5.0,
        help="latency budget: how long a request may wait to be batched with others",
    )
    p.add_argument("--queue-size", type=int, default=64, help="most waiting requests (then 503)")
    p.add_argument("--max-body-mb", type=float, default=32.0, help="largest request body")
    p.add_argument("--max-megapixels", type=float, default=16.0, help="largest image accepted")
    p.add_argument("--tile", type=int, default=0, help="translate in tiles of N pixels (0 = no)")
    p.add_argument("--overlap", type=int, default=32, help="tile overlap in pixels, blended")
    p.add_argument(
        "--convert-channels",
        action="store_true",
        help="accept colour images for a grayscale model (converted to luma)",
    )
    p.add_argument("--palette", type=Path, default=None, help="palette file for RGB label maps")


def serve_config(args: argparse.Namespace, stride: int = 1) -> object:
    """The :class:`~i2i_runtime.serve.ServeConfig` of parsed serve options.

    Raises:
        ConfigError: a limit out of range.
    """
    from .labels import read_palette
    from .serve.app import ServeConfig
    from .tiling import check_tiling

    if args.max_batch < 1 or args.queue_size < 1 or args.max_delay_ms < 0:
        raise ConfigError("--max-batch and --queue-size must be >= 1, --max-delay-ms >= 0")
    if args.max_body_mb <= 0 or args.max_megapixels <= 0:
        raise ConfigError("--max-body-mb and --max-megapixels must be positive")
    if args.tile:
        check_tiling(args.tile, args.overlap, stride)
    return ServeConfig(
        max_batch=args.max_batch,
        max_delay_ms=args.max_delay_ms,
        queue_size=args.queue_size,
        max_body_bytes=int(args.max_body_mb * 1024 * 1024),
        max_pixels=int(args.max_megapixels * 1_000_000),
        tile=args.tile,
        overlap=args.overlap,
        convert_channels=args.convert_channels,
        palette=read_palette(args.palette) if args.palette else None,
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="i2i-run", description="Run models exported by `i2i export` (no PyTorch needed)."
    )
    p.add_argument("--version", action="version", version=f"i2i-runtime {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser(
        "translate",
        help="translate a folder of images",
        description="Translate a folder of any-size images (padded to the network stride, "
        "never resized). For label-map models IN_DIR holds label maps (class-id PNGs).",
    )
    t.add_argument("model", metavar="MODEL", type=Path, help="the exported .onnx file")
    t.add_argument("in_dir", metavar="IN_DIR", type=Path, help="folder of input images")
    t.add_argument("out_dir", metavar="OUT_DIR", type=Path, help="output folder")
    add_direction_options(t)
    t.add_argument(
        "--overwrite",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="re-translate images whose output exists",
    )
    add_model_options(t)
    t.add_argument("--tile", type=int, default=0, help="translate in tiles of N pixels (0 = no)")
    t.add_argument("--overlap", type=int, default=32, help="tile overlap in pixels, blended")
    t.add_argument("-b", "--batch-size", type=int, default=4, help="same-size images per batch")
    t.add_argument("--workers", type=int, default=2, help="decode / encode threads (0 = none)")
    t.add_argument("--bit-depth", default="auto", help="auto (as the input) | 8 | 16")
    t.add_argument(
        "--format",
        dest="out_format",
        default="png",
        help="output format: png | jpg | tiff | same (as each input)",
    )
    t.add_argument(
        "--strict",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="stop at the first unreadable image",
    )
    t.add_argument("--style", type=Path, default=None, help="style image file or folder")
    t.add_argument("--instances", type=Path, default=None, help="folder of instance maps")
    t.add_argument("--palette", type=Path, default=None, help="palette file for RGB label maps")
    t.add_argument(
        "--max-memory",
        default="auto",
        help="budget of this process's peak memory, e.g. 2GB: larger images are tiled to fit "
        "(auto = a quarter of the machine's memory; 0 = no budget)",
    )
    t.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help="largest image (width x height) accepted, checked from the file header before "
        "decoding (0 = no limit)",
    )

    s = sub.add_parser("serve", help="serve the model over HTTP (needs i2i-runtime[serve])")
    s.add_argument("model", metavar="MODEL", type=Path, help="the exported .onnx file")
    add_direction_options(s)
    add_model_options(s)
    add_serve_options(s)

    g = sub.add_parser("sample", help="sample images from a class-conditional model")
    g.add_argument("model", metavar="MODEL", type=Path, help="the exported .onnx file")
    g.add_argument("out", metavar="OUT", type=Path, help="output image (a row of samples)")
    g.add_argument("--class", dest="class_id", type=int, default=None, help="class id")
    g.add_argument("-n", type=int, default=8, help="number of samples")
    g.add_argument("--seed", type=int, default=0, help="noise seed")
    add_model_options(g)

    i = sub.add_parser("info", help="print the model's i2i metadata as JSON")
    i.add_argument("model", metavar="MODEL", type=Path, help="the exported .onnx file")
    return p


def _translator(args: argparse.Namespace, direction: str | None = None) -> object:
    from .translator import Translator

    return Translator(
        args.model,
        args.provider,
        device=args.device,
        threads=args.threads,
        spec=args.spec,
        direction=direction,
        max_pixels=getattr(args, "max_pixels", DEFAULT_MAX_PIXELS),
    )


def _progress(done: int, total: int, rate: float) -> None:
    if sys.stderr.isatty():
        end = "\n" if done >= total else ""
        print(f"\rtranslate {done}/{total} {rate:.1f} img/s", end=end, file=sys.stderr)


def cmd_translate(args: argparse.Namespace) -> int:
    from .folder import check_translated
    from .memory import resolve_budget

    check_precision(args.precision)
    budget = resolve_budget(args.max_memory)
    direction = args.direction
    if args.style is not None and direction is None:
        direction = "style"
    with _translator(args, direction) as tr:  # type: ignore[attr-defined]
        res = tr.translate_folder(
            args.in_dir,
            args.out_dir,
            progress=_progress,
            overwrite=args.overwrite,
            strict=args.strict,
            tile=args.tile,
            overlap=args.overlap,
            batch_size=args.batch_size,
            workers=args.workers,
            bit_depth=args.bit_depth,
            out_format=args.out_format,
            style=args.style,
            instances=args.instances,
            palette=args.palette,
            max_pixels=args.max_pixels,
            max_memory=budget,
        )
    _say(
        f"wrote {len(res.written)} images to {args.out_dir}; "
        f"{len(res.skipped_existing)} already existed (use --overwrite to redo); "
        f"{len(res.failed)} skipped; {res.images_per_s:.2f} images/s with {res.engine}"
    )
    check_translated(res)  # images that were skipped (each named above): exit status 1
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .serve import require_server_stack, serve

    require_server_stack()
    check_precision(args.precision)
    tr = _translator(args, args.direction)
    config = serve_config(args, tr.info.stride)  # type: ignore[attr-defined]
    serve(
        tr.engine,  # type: ignore[attr-defined]
        host=args.host,
        port=args.port,
        config=config,  # type: ignore[arg-type]
        model_name=args.model.name,
    )
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    import numpy as np

    from .imageio import write_image

    with _translator(args) as tr:  # type: ignore[attr-defined]
        imgs = tr.sample(args.class_id, args.n, args.seed)
    row = np.concatenate(list(imgs), axis=1).astype(np.float32) / 255.0
    write_image(args.out, row)
    _say(f"wrote {len(imgs)} samples to {args.out}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    import dataclasses

    from .metadata import read_metadata

    meta = read_metadata(args.model)
    doc = dataclasses.asdict(meta)
    info = meta.inference_info()
    doc["info"] = {**dataclasses.asdict(info), "kind": info.kind}
    print(json.dumps(doc, indent=1))
    return 0


COMMANDS = {"translate": cmd_translate, "serve": cmd_serve, "sample": cmd_sample, "info": cmd_info}


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point (``i2i-run``)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        code = COMMANDS[args.command](args)
    except BaseException as e:  # noqa: BLE001 - the one error path: one line, an exit status
        if isinstance(e, SystemExit):
            raise
        if _debug():
            traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)
        failure = describe_failure(e)
        if failure.status == "interrupted":
            _say(f"interrupted: {failure.message}; outputs written so far are kept (run again "
                 "to resume)")  # fmt: skip
        else:
            _say(f"error: {failure.message}")
        code = failure.exit_code
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
