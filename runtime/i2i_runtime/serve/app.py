"""The translation server: a Starlette app around an engine (see docs/deployment.md for the API).

=======================  ==========================================================================
``GET /``                the web page: drop an image, see input and output side by side (pick the
                         class and seed for class-conditional models)
``GET /v1/model``        JSON: kind (image / label / sampler), channels, stride, scale, classes,
                         limits
``POST /v1/translate``   the image file's bytes as the body (or multipart fields ``image``, and
                         ``instance`` / ``style`` for label-map models) -> the translated image
                         (``?format=png|jpg|tiff|webp``, ``?bit_depth=auto|8|16``)
``POST /v1/sample``      class-conditional models: ``?class=K&seed=S&n=N`` -> PNG (N images in a
                         row)
``GET /healthz``         ``{"status": "ok"}`` (503 ``shutting down`` while draining)
``GET /metrics``         Prometheus text: requests by status, latency p50/p99, batches, queue
                         depth, resident memory
=======================  ==========================================================================

Every refusal is a 4xx (503 when the queue is full or the server is draining) with a JSON body
``{"error": "<one line>"}``: an empty body (400), a body over the byte limit (413), an image over
the pixel limit (413, read from the header before decoding), data that is not an image (415), a
truncated or corrupt image (400), an image the model cannot take (422: e.g. colour into a
grayscale model, a colour label map without palette, class ids out of range). The server keeps
serving after any of them.

Decoding and encoding run in Starlette's thread pool; the model runs in the batcher's thread
(:mod:`i2i_runtime.serve.batcher`), which stacks concurrent requests of the same shape.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib.resources
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np

from ..engine import Engine
from ..errors import DatasetError, I2IError, ImageReadError, InputError
from ..imageio import encode_image, image_size, is_sixteen_bit, read_image
from ..labels import Palette, read_label_map
from ..pipeline import from_model_range, infer, to_model_range
from .batcher import Batcher, Closed, Job, QueueFull
from .metrics import Metrics

log = logging.getLogger(__name__)

_FORMATS = {"png": ".png", "jpg": ".jpg", "jpeg": ".jpg", "tiff": ".tif", "webp": ".webp"}
_MEDIA = {".png": "image/png", ".jpg": "image/jpeg", ".tif": "image/tiff", ".webp": "image/webp"}


@dataclasses.dataclass(frozen=True)
class ServeConfig:
    """Server limits and batching.

    Attributes:
        max_batch: Most images per model call (1 = no batching).
        max_delay_ms: Latency budget of batching: how long a request may wait for others.
        queue_size: Most requests waiting for the model; more get 503.
        max_body_bytes: Largest request body.
        max_pixels: Largest image (width x height, read from its header before decoding).
        max_samples: Most images one ``/v1/sample`` request may ask for.
        tile: Translate images larger than this in blended tiles (0 = never).
        overlap: Tile overlap in pixels.
        convert_channels: Also accept colour images for a grayscale model (converted to luma);
            by default they are refused (422), since the conversion loses the colour.
        palette: Palette for colour label maps (label-map models).
    """

    max_batch: int = 8
    max_delay_ms: float = 5.0
    queue_size: int = 64
    max_body_bytes: int = 32 * 1024 * 1024
    max_pixels: int = 16_000_000
    max_samples: int = 16
    tile: int = 0
    overlap: int = 32
    convert_channels: bool = False
    palette: Palette | None = None


class HTTPError(Exception):
    """A refusal: status code and one-line reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = " ".join(reason.split())


def _error_status(e: BaseException) -> int:
    if isinstance(e, ImageReadError):
        return 415 if "not a recognised image format" in str(e) else 400
    if isinstance(e, (InputError, DatasetError)):
        return 422
    return 500


class Service:
    """The engine, batcher and metrics behind the app (one per server)."""

    def __init__(self, engine: Engine, config: ServeConfig, model_name: str = "") -> None:
        self.engine = engine
        self.config = config
        self.model_name = model_name
        self.metrics = Metrics()
        self.draining = False
        self.batcher = Batcher(
            self._run,
            max_batch=config.max_batch,
            max_delay_s=config.max_delay_ms / 1000.0,
            queue_size=config.queue_size,
            on_batch=self.metrics.batch,
        )

    # -- model calls (batcher thread) ------------------------------------------------------

    def _run(self, key: tuple[Any, ...], *arrays: np.ndarray) -> np.ndarray:
        if key[0] == "sample":
            return self.engine.sample(arrays[0], arrays[1])
        return infer(
            self.engine, arrays[0], arrays[1:], tile=self.config.tile, overlap=self.config.overlap
        )

    async def run(self, key: tuple[Any, ...], arrays: list[np.ndarray]) -> np.ndarray:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[np.ndarray] = loop.create_future()

        def settle(out: np.ndarray | None, err: BaseException | None) -> None:
            def apply() -> None:
                if fut.done():  # the client went away
                    return
                if err is not None:
                    fut.set_exception(err)
                else:
                    fut.set_result(out)  # type: ignore[arg-type]

            loop.call_soon_threadsafe(apply)

        try:
            self.batcher.submit(Job(key, arrays, settle))
        except QueueFull as e:
            raise HTTPError(503, f"server busy: {e}; retry later") from None
        except Closed:
            raise HTTPError(503, "the server is shutting down; retry on another instance") from None
        return await fut

    # -- decoding (thread pool) ------------------------------------------------------------

    def check_size(self, data: bytes) -> None:
        if not data:
            raise HTTPError(400, "empty body: POST the image file's bytes")
        w, h = image_size(data)
        if w * h > self.config.max_pixels:
            raise HTTPError(
                413,
                f"image of {w}x{h} ({w * h / 1e6:.1f} MP) is larger than this server's limit "
                f"of {self.config.max_pixels / 1e6:.1f} MP",
            )

    def decode_image(self, data: bytes, channels: int) -> tuple[np.ndarray, bool]:
        self.check_size(data)
        if channels == 1 and not self.config.convert_channels:
            color = read_image(data, 3)
            if not (
                np.array_equal(color[..., 0], color[..., 1])
                and np.array_equal(color[..., 1], color[..., 2])
            ):
                raise HTTPError(
                    422,
                    "this model takes 1-channel (grayscale) images, got a colour image; send "
                    "a grayscale image (or start the server with --convert-channels)",
                )
            img = color[..., :1]
        else:
            img = read_image(data, channels)
        return to_model_range(img, self.engine.info), is_sixteen_bit(data)

    def decode_labels(self, data: bytes) -> np.ndarray:
        self.check_size(data)
        return read_label_map(data, self.config.palette)[None, None]  # 1 x 1 x H x W

    def model_info(self) -> dict[str, Any]:
        info = self.engine.info
        meta = getattr(self.engine, "metadata", None)
        return {
            "name": self.model_name,
            "kind": info.kind,
            "inputs": list(info.inputs),
            "in_channels": info.in_channels,
            "out_channels": info.out_channels,
            "stride": info.stride,
            "scale": info.scale,
            "value_range": list(info.value_range),
            "direction": info.direction,
            "num_classes": info.num_classes or (info.in_channels if info.kind == "label" else 0),
            "family": getattr(meta, "family", ""),
            "engine": self.engine.description,
            "limits": {
                "max_body_bytes": self.config.max_body_bytes,
                "max_pixels": self.config.max_pixels,
                "max_batch": self.config.max_batch,
                "max_delay_ms": self.config.max_delay_ms,
                "queue_size": self.config.queue_size,
                "max_samples": self.config.max_samples,
            },
        }


def _json(status: int, body: dict[str, Any]) -> Any:
    from starlette.responses import JSONResponse

    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse(body, status_code=status, headers=headers)


async def _read_body(request: Any, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPError(
            413, f"body of {int(declared)} bytes is larger than this server's limit of {limit}"
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPError(413, f"body is larger than this server's limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _query(request: Any, name: str, default: str) -> str:
    return str(request.query_params.get(name, default)).strip().lower()


def _int_param(request: Any, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise HTTPError(400, f"query parameter {name}={raw!r} must be an integer") from None


def create_app(engine: Engine, config: ServeConfig | None = None, model_name: str = "") -> Any:
    """The Starlette app serving ``engine`` (see the module docstring for the API).

    The engine is closed when the app shuts down (after the queued requests are answered).
    """
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, PlainTextResponse, Response
    from starlette.routing import Route

    cfg = config or ServeConfig()
    svc = Service(engine, cfg, model_name)
    page = importlib.resources.files(__package__).joinpath("page.html").read_text("utf-8")

    def guarded(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            t0 = time.perf_counter()
            status = 500
            try:
                if svc.draining and request.method == "POST":
                    raise HTTPError(503, "the server is shutting down; retry on another instance")
                response = await handler(request)
                status = response.status_code
                return response
            except HTTPError as e:
                status = e.status
                return _json(e.status, {"error": e.reason})
            except I2IError as e:
                status = _error_status(e)
                return _json(status, {"error": " ".join(str(e).split())})
            except Exception as e:  # noqa: BLE001 - a bug must not take the server down
                log.exception("request failed")
                return _json(500, {"error": f"internal error: {type(e).__name__}: {e}"})
            finally:
                if request.method == "POST":
                    svc.metrics.request(status, time.perf_counter() - t0)

        return endpoint

    async def index(request: Request) -> Response:
        return HTMLResponse(page)

    async def model(request: Request) -> Response:
        return _json(200, svc.model_info())

    async def health(request: Request) -> Response:
        if svc.draining:
            return _json(503, {"status": "shutting down"})
        return _json(200, {"status": "ok", "queue": svc.batcher.depth})

    async def metrics(request: Request) -> Response:
        return PlainTextResponse(
            svc.metrics.prometheus(svc.batcher.depth), media_type="text/plain; version=0.0.4"
        )

    async def translate(request: Request) -> Response:
        info = engine.info
        if info.kind == "sampler":
            raise HTTPError(
                422, "this model samples from noise and a class id: use POST /v1/sample"
            )
        suffix = _FORMATS.get(_query(request, "format", "png"))
        if suffix is None:
            raise HTTPError(400, f"format must be one of {', '.join(_FORMATS)}")
        depth = _query(request, "bit_depth", "auto")
        if depth not in ("auto", "8", "16"):
            raise HTTPError(400, "bit_depth must be auto, 8 or 16")
        parts = await _parts(request, cfg.max_body_bytes)
        main = parts.get("image", parts.get("label", b""))
        sixteen = False
        if info.kind == "label":
            x = await run_in_threadpool(svc.decode_labels, main)
            arrays = [x]
            for kind in info.inputs[1:]:
                data = parts.get(kind)
                if data is None:
                    raise HTTPError(
                        422, f"this model also takes a {kind} image: send multipart field {kind!r}"
                    )
                if kind == "instance":
                    arrays.append(await run_in_threadpool(svc.decode_labels, data))
                else:
                    st, _ = await run_in_threadpool(svc.decode_image, data, info.out_channels)
                    arrays.append(st[None])
        else:
            x, sixteen = await run_in_threadpool(svc.decode_image, main, info.in_channels)
            arrays = [x[None]]
        key = ("translate", *(a.shape[1:] for a in arrays))
        y = await svc.run(key, arrays)
        bits = 16 if depth == "16" or (depth == "auto" and sixteen) else 8
        if bits == 16 and suffix not in (".png", ".tif"):
            bits = 8
        body = await run_in_threadpool(encode_image, from_model_range(y[0], info), suffix, bits)
        return Response(body, media_type=_MEDIA[suffix])

    async def sample(request: Request) -> Response:
        info = engine.info
        if info.kind != "sampler":
            raise HTTPError(422, "this model translates images: use POST /v1/translate")
        n = _int_param(request, "n", 1)
        if not 1 <= n <= cfg.max_samples:
            raise HTTPError(400, f"n must be between 1 and {cfg.max_samples}, got {n}")
        k = info.num_classes
        cls = _int_param(request, "class", 0)
        if not 0 <= cls < k:
            raise HTTPError(422, f"class must be in [0, {k}) for this model, got {cls}")
        seed = _int_param(request, "seed", 0)
        if seed < 0:
            raise HTTPError(400, f"seed must be >= 0, got {seed}")
        z = np.random.default_rng(seed).standard_normal((n, info.in_channels)).astype(np.float32)
        y = await svc.run(("sample",), [z, np.full(n, cls, np.int64)])
        row = np.concatenate([from_model_range(yi, info) for yi in y], axis=1)
        body = await run_in_threadpool(encode_image, row, ".png", 8)
        return Response(body, media_type="image/png")

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        log.info("serving %s (%s)", model_name or "the model", engine.description)
        yield
        svc.draining = True
        await run_in_threadpool(svc.batcher.close)
        engine.close()
        log.info("server stopped after %d requests", svc.metrics.total)

    routes = [
        Route("/", guarded(index), methods=["GET"]),
        Route("/v1/model", guarded(model), methods=["GET"]),
        Route("/v1/translate", guarded(translate), methods=["POST"]),
        Route("/v1/sample", guarded(sample), methods=["POST"]),
        Route("/healthz", guarded(health), methods=["GET"]),
        Route("/metrics", guarded(metrics), methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.service = svc
    return app


async def _parts(request: Any, limit: int) -> dict[str, bytes]:
    """The uploaded files: ``{"image": body}`` for a raw body, the fields of a multipart
    form."""
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        return {"image": await _read_body(request, limit)}
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPError(
            413, f"body of {int(declared)} bytes is larger than this server's limit of {limit}"
        )
    try:
        form = await request.form(max_part_size=limit)
    except Exception as e:  # noqa: BLE001 - malformed multipart bodies
        raise HTTPError(400, f"cannot read the multipart form: {e}") from None
    out: dict[str, bytes] = {}
    for name, value in form.multi_items():
        out[name] = await value.read() if hasattr(value, "read") else str(value).encode()
    await form.close()
    if not out:
        raise HTTPError(400, "empty form: send the image as field 'image'")
    return out
