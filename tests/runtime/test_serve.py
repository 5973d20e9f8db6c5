"""The HTTP server (``i2i-run serve`` / ``i2i serve``) on 127.0.0.1: the API for every model
kind, bad uploads, a bounded load test with memory, the bounded queue and graceful shutdown."""

from __future__ import annotations

import concurrent.futures
import io
import json
import signal
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image

from i2i_runtime import Engine, InferenceInfo, Translator
from i2i_runtime.imageio import encode_image
from i2i_runtime.serve import ServeConfig, create_app
from i2i_runtime.serve.client import load, metric

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")


def png(arr: np.ndarray, bits: int = 8) -> bytes:
    return encode_image(arr.astype(np.float32) / (65535.0 if bits == 16 else 255.0), ".png", bits)


def rgb(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def decode(body: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(body)))


@pytest.fixture(scope="module")
def server(models, net):
    """``i2i-run serve`` of the RGB model as its own process, with small limits."""
    cmd = [sys.executable, "-m", "i2i_runtime.cli", "serve", models["rgb"], "--provider", "cpu",
           "--threads", "1", "--max-body-mb", "1", "--max-megapixels", "1", "--max-batch", "8",
           "--max-delay-ms", "5"]  # fmt: skip
    with net.server_process(*cmd) as (url, proc):
        yield url, proc


# -- API ------------------------------------------------------------------------------------


def test_translate_api(server, models, net) -> None:
    url, _ = server
    status, _, body = net.request("GET", url + "/v1/model")
    info = json.loads(body)
    assert status == 200 and info["kind"] == "image" and info["stride"] == 4
    assert info["limits"]["max_pixels"] == 1_000_000
    t = Translator(models["rgb"], "cpu")
    img = rgb(37, 53)
    status, headers, body = net.request("POST", url + "/v1/translate", png(img))
    assert status == 200 and headers["content-type"] == "image/png"
    np.testing.assert_array_equal(decode(body), t.translate(img))
    status, headers, body = net.request("POST", url + "/v1/translate?format=jpg", png(img))
    assert status == 200 and headers["content-type"] == "image/jpeg" and body[:2] == b"\xff\xd8"
    deep = rgb(20, 24).astype(np.uint16) * 257
    status, _, body = net.request("POST", url + "/v1/translate", png(deep, 16))
    assert status == 200 and decode(body).dtype == np.uint8  # Pillow shows 16-bit RGB as 8-bit
    assert Image.open(io.BytesIO(body)).tile[0].args == "RGB;16B"  # but the file is 16-bit
    status, _, body = net.request("POST", url + "/v1/sample")
    assert status == 422 and "use POST /v1/translate" in json.loads(body)["error"]
    status, _, page = net.request("GET", url + "/")
    assert status == 200 and b'id="drop"' in page


def test_label_and_sampler_models(models, net) -> None:
    from i2i_runtime.engine import OrtEngine

    with net.running(create_app(OrtEngine(models["label"], "cpu"))) as url:
        ids = np.kron(np.arange(4).reshape(2, 2), np.ones((10, 12), np.uint8)).astype(np.uint8)
        status, _, body = net.request("POST", url + "/v1/translate", png(ids[:, :, None]))
        assert status == 200
        np.testing.assert_array_equal(decode(body), Translator(models["label"]).translate(ids))
        status, _, body = net.request("POST", url + "/v1/translate", png(ids[:, :, None] + 5))
        assert status == 422 and "outside [0, 4)" in json.loads(body)["error"]
        colour = np.stack([ids * 40, ids * 10, ids], -1)
        status, _, body = net.request("POST", url + "/v1/translate", png(colour))
        assert status == 422 and "no palette" in json.loads(body)["error"]

    with net.running(create_app(OrtEngine(models["sampler"], "cpu"))) as url:
        assert json.loads(net.request("GET", url + "/v1/model")[2])["num_classes"] == 3
        status, _, body = net.request("POST", url + "/v1/sample?class=2&seed=7&n=3")
        assert status == 200
        want = np.concatenate(list(Translator(models["sampler"]).sample(2, 3, seed=7)), axis=1)
        np.testing.assert_array_equal(decode(body), want)
        for query, code, needle in (
            ("class=3", 422, "class must be in [0, 3)"),
            ("n=99", 400, "n must be between 1 and 16"),
            ("seed=x", 400, "seed='x' must be an integer"),
        ):
            status, _, body = net.request("POST", url + "/v1/sample?" + query)
            assert status == code and needle in json.loads(body)["error"], query
        status, _, body = net.request("POST", url + "/v1/translate", png(rgb(8, 8)))
        assert status == 422 and "POST /v1/sample" in json.loads(body)["error"]


def test_bad_uploads_get_4xx_and_the_server_keeps_serving(server, models, net) -> None:
    url, _ = server
    good = png(rgb(16, 16))
    solid = encode_image(np.zeros((1200, 1000, 3), np.float32), ".png")  # 1.2 MP, a few KB
    cases = [
        (b"", 400, "empty body"),
        (b"GIF? no: plain text, not an image", 415, "not a recognised image format"),
        (good[: len(good) // 2], 400, "truncated"),
        (b"\x89PNG" + b"\0" * (1024 * 1024 + 10), 413, "larger than this server's limit"),
        (solid, 413, "1000x1200 (1.2 MP) is larger than this server's limit of 1.0 MP"),
    ]
    for body, code, needle in cases:
        status, headers, reply = net.request("POST", url + "/v1/translate", body)
        error = json.loads(reply)["error"]
        assert status == code and needle in error and "\n" not in error, (code, error)
        assert headers["content-type"] == "application/json"
        assert net.request("POST", url + "/v1/translate", good)[0] == 200  # still serving
    for query, needle in (("format=gif", "format must be one of"), ("bit_depth=12", "auto, 8")):
        status, _, reply = net.request("POST", url + "/v1/translate?" + query, good)
        assert status == 400 and needle in json.loads(reply)["error"]
    # wrong channels: colour into a grayscale model is refused (the conversion loses colour)
    from i2i_runtime.engine import OrtEngine

    with net.running(create_app(OrtEngine(models["gray"], "cpu"))) as gray_url:
        status, _, reply = net.request("POST", gray_url + "/v1/translate", good)
        assert status == 422 and "takes 1-channel (grayscale) images" in json.loads(reply)["error"]
        gray = png(np.repeat(rgb(16, 16)[:, :, :1], 3, axis=2))  # R == G == B: fine
        assert net.request("POST", gray_url + "/v1/translate", gray)[0] == 200
    status, _, reply = net.request("GET", url + "/healthz")
    assert status == 200 and json.loads(reply)["status"] == "ok"
    text = net.request("GET", url + "/metrics")[2].decode()
    assert 'i2i_requests_total{status="413"}' in text and 'i2i_requests_total{status="415"}' in text


# -- load -----------------------------------------------------------------------------------


def test_load_200_requests_from_8_clients(server, models, net) -> None:
    """Every response is the right image; batching happens; memory stays flat."""
    url, _ = server
    t = Translator(models["rgb"], "cpu", threads=1)
    imgs = [rgb(64, 64, seed=s) for s in range(8)]
    bodies = [png(i) for i in imgs]
    want = [t.translate(i) for i in imgs]
    load(url, bodies, 40, 8)  # warm-up: allocator pools, thread pools
    before = metric(
        net.request("GET", url + "/metrics")[2].decode(), "process_resident_memory_bytes"
    )
    batches0 = metric(net.request("GET", url + "/metrics")[2].decode(), "i2i_batches_total")
    latencies, replies, seconds = load(url, bodies, 200, 8)
    text = net.request("GET", url + "/metrics")[2].decode()
    after = metric(text, "process_resident_memory_bytes")
    batches = metric(text, "i2i_batches_total") - batches0
    worst = 0
    for i, (status, body) in enumerate(replies):
        assert status == 200, body[:200]
        diff = np.abs(decode(body).astype(int) - want[i % len(imgs)]).max()
        worst = max(worst, int(diff))
    # batched and single runs of the same image may round differently in the last bit
    assert worst <= 1
    p50, p99 = np.quantile(latencies, [0.5, 0.99])
    print(
        f"\nload: 200 requests, 8 clients: {200 / seconds:.1f} req/s, p50 {p50 * 1e3:.1f} ms, "
        f"p99 {p99 * 1e3:.1f} ms, {batches:.0f} batches (mean {200 / batches:.2f} images), "
        f"max pixel diff {worst}, RSS {before / 2**20:.1f} -> {after / 2**20:.1f} MiB"
    )
    assert batches < 200  # concurrent requests were batched
    assert after - before < 24 * 2**20  # no growth beyond allocator noise


# -- queue and shutdown ---------------------------------------------------------------------


class SlowIdentity(Engine):
    """Returns its input after a pause: makes requests queue up."""

    name = "slow"
    description = "slow identity (test)"

    def __init__(self, seconds: float) -> None:
        self.info = InferenceInfo(("image",), 3, 3)
        self.seconds = seconds

    def run(self, x: np.ndarray) -> np.ndarray:
        time.sleep(self.seconds)
        return x


def test_a_full_queue_answers_503_and_recovers(net) -> None:
    app = create_app(SlowIdentity(0.3), ServeConfig(max_batch=1, max_delay_ms=0, queue_size=2))
    with net.running(app) as url:
        body = png(rgb(8, 8))
        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            replies = list(pool.map(lambda _: net.request("POST", url + "/v1/translate", body),
                                    range(10)))  # fmt: skip
        codes = sorted(r[0] for r in replies)
        busy = [r for r in replies if r[0] == 503]
        assert codes.count(200) >= 3 and busy, codes  # 1 running + 2 queued at least
        assert "server busy" in json.loads(busy[0][2])["error"]
        assert busy[0][1]["retry-after"] == "1"
        assert net.request("POST", url + "/v1/translate", body)[0] == 200


def test_graceful_shutdown_finishes_requests_in_flight(models, net) -> None:
    cmd = [sys.executable, "-m", "i2i_runtime.cli", "serve", models["rgb"], "--provider", "cpu",
           "--max-batch", "16", "--max-delay-ms", "1500"]  # fmt: skip
    with net.server_process(*cmd) as (url, proc):
        body = png(rgb(32, 32))
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(net.request, "POST", url + "/v1/translate", body)
                       for _ in range(4)]  # fmt: skip
            time.sleep(0.5)  # the requests wait in the batcher (latency budget 1.5 s)
            proc.send_signal(signal.SIGTERM)
            replies = [f.result() for f in futures]
        assert [r[0] for r in replies] == [200] * 4
        assert proc.wait(60) == 0
        with pytest.raises(OSError):
            net.request("GET", url + "/healthz")


def test_i2i_serve_takes_a_checkpoint(ctx, demo_data, tiny_run, net, tmp_path) -> None:
    """The full package's ``i2i serve`` runs a checkpoint with PyTorch behind the same API."""
    from i2i.export.translate import translate_folder

    run = tmp_path / "run"
    tiny_run("cyclegan", demo_data("unpaired"), run, steps=1)
    img = rgb(37, 53)
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.png").write_bytes(png(img))
    translate_folder(ctx, run, src, tmp_path / "out", device="cpu")
    want = decode((tmp_path / "out" / "a.png").read_bytes())
    cmd = [sys.executable, "-m", "i2i", "serve", run, "--device", "cpu", "--max-delay-ms", "0"]
    with net.server_process(*cmd) as (url, _):
        info = json.loads(net.request("GET", url + "/v1/model")[2])
        assert info["engine"] == "PyTorch on cpu, fp32" and info["name"] == "run"
        status, _, body = net.request("POST", url + "/v1/translate", png(img))
        assert status == 200
        np.testing.assert_array_equal(decode(body), want)


def test_batcher_stacks_jobs_of_one_shape_within_the_latency_budget() -> None:
    from i2i_runtime.serve.batcher import Batcher, Job, QueueFull

    calls: list[tuple[object, int]] = []
    gate = threading.Event()

    def run(key, x):
        gate.wait(10)
        calls.append((key, len(x)))
        return x * 2

    b = Batcher(run, max_batch=4, max_delay_s=0.2, queue_size=8)
    results: dict[int, np.ndarray] = {}
    done = threading.Semaphore(0)

    def job(i: int, key: str) -> Job:
        def settle(out, err):
            results[i] = out if err is None else err
            done.release()

        return Job(key, [np.full((1, 2), i, np.float32)], settle)

    b.submit(job(0, "a"))  # runs alone after its 0.2 s budget; then waits for the gate
    time.sleep(0.4)
    for i, key in enumerate("aabaab", start=1):
        b.submit(job(i, key))
    gate.set()
    for _ in range(7):
        assert done.acquire(timeout=10)
    assert calls[0] == ("a", 1)
    # the waiting jobs: the four a's together (in arrival order), then the two b's
    assert calls[1:] == [("a", 4), ("b", 2)]
    assert all(np.array_equal(results[i], np.full((1, 2), 2 * i)) for i in range(7))
    gate.clear()
    b.submit(job(10, "a"))
    time.sleep(0.4)
    for i in range(8):
        b.submit(job(11 + i, "a"))
    with pytest.raises(QueueFull):
        b.submit(job(99, "a"))
    gate.set()
    b.close()
    assert len(results) == 7 + 9  # close() answered everything that was queued
