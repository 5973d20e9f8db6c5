"""A real HTTP server on 127.0.0.1 (Range requests, ETags, fault injection) and builders of
real zip / tar.gz archives in each upstream layout, for the downloader and dataset-source tests.
Nothing here touches the network beyond 127.0.0.1."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import stat
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@dataclasses.dataclass
class Fault:
    """What the server does wrong for the next ``times`` GETs of a path."""

    kind: str  # "drop" (half the body, then close) | "status" | "stall" | "ignore_range"
    times: int = 1
    status: int = 500


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up early (size checks, timeouts) are expected here


class FileServer:
    """Serves registered bytes by path; honours ``Range`` / ``If-Range``; injects faults."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, Fault] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.release = threading.Event()
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server.handle(self)

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def url(self, path: str) -> str:
        return self.base + path.lstrip("/")

    def add(self, path: str, data: bytes) -> str:
        self.files["/" + path.lstrip("/")] = data
        return self.url(path)

    def fault(self, path: str, kind: str, times: int = 1, status: int = 500) -> None:
        self.faults["/" + path.lstrip("/")] = Fault(kind, times, status)

    def gets(self, path: str) -> list[dict[str, str]]:
        return [h for p, h in self.requests if p == "/" + path.lstrip("/")]

    def _take_fault(self, path: str) -> Fault | None:
        with self.lock:
            f = self.faults.get(path)
            if f is None or f.times <= 0:
                return None
            f.times -= 1
            return f

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?", 1)[0]
        with self.lock:
            self.requests.append((path, dict(h.headers.items())))
        fault = self._take_fault(path)
        if fault is not None and fault.kind == "stall":
            self.release.wait(10)
            h.close_connection = True
            return
        if fault is not None and fault.kind == "status":
            self._send(h, fault.status, b"injected error\n")
            return
        data = self.files.get(path)
        if data is None:
            self._send(h, 404, b"not found\n")
            return
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        start = 0
        rng = h.headers.get("Range")
        if_range = h.headers.get("If-Range")
        use_range = rng is not None and (if_range is None or if_range == etag)
        if fault is not None and fault.kind == "ignore_range":
            use_range = False
        if use_range:
            m = re.fullmatch(r"bytes=(\d+)-", rng or "")
            start = int(m.group(1)) if m else 0
            if start >= len(data):
                h.send_response(416)
                h.send_header("Content-Range", f"bytes */{len(data)}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
        body = data[start:]
        h.send_response(206 if use_range else 200)
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Length", str(len(body)))
        h.send_header("ETag", etag)
        h.send_header("Accept-Ranges", "bytes")
        if use_range:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.end_headers()
        if fault is not None and fault.kind == "drop":
            h.wfile.write(body[: len(body) // 2])
            h.wfile.flush()
            h.close_connection = True
            return
        h.wfile.write(body)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, code: int, body: bytes) -> None:
        h.send_response(code)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[FileServer]:
    s = FileServer()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(autouse=True)
def _private_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own lock file (never the user's ~/.config)."""
    monkeypatch.setenv("I2I_DOWNLOAD_LOCK", str(tmp_path / "lock" / "downloads.lock.json"))


# -- images and archives -----------------------------------------------------------------------


def png(
    w: int = 16, h: int = 16, seed: int = 0, mode: str = "RGB", values: int = 256, fmt: str = "PNG"
) -> bytes:
    """A random image file's bytes (``mode`` RGB or L, values below ``values``)."""
    rng = np.random.default_rng(seed)
    shape = (h, w, 3) if mode == "RGB" else (h, w)
    arr = rng.integers(0, values, shape, dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    return buf.getvalue()


def png16(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr.astype(np.uint16)).save(buf, format="PNG")
    return buf.getvalue()


Entries = dict[str, "bytes | tuple[str, str]"]  # name -> data, or ("symlink"|"hardlink", target)


def zip_bytes(entries: Entries) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            if isinstance(data, tuple):
                info = zipfile.ZipInfo(name)
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                zf.writestr(info, data[1])
            else:
                zf.writestr(name, data)
    return buf.getvalue()


def tar_bytes(entries: Entries, mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            if isinstance(data, tuple):
                info.type = tarfile.SYMTYPE if data[0] == "symlink" else tarfile.LNKTYPE
                info.linkname = data[1]
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def archive_bytes(entries: Entries, kind: str) -> bytes:
    return zip_bytes(entries) if kind == "zip" else tar_bytes(entries)


def layout(fmt: str, top: str = "data") -> Entries:
    """A tiny dataset of format ``fmt`` below a wrapper folder ``top/``."""
    p = f"{top}/" if top else ""
    if fmt == "unpaired":
        return {
            f"{p}trainA/a0.png": png(seed=1),
            f"{p}trainA/a1.png": png(seed=2),
            f"{p}trainB/b0.png": png(seed=3),
            f"{p}testA/a9.png": png(seed=4),
            f"{p}testB/b9.png": png(seed=5),
        }
    if fmt == "aligned":
        return {
            f"{p}train/0.png": png(32, 16, seed=1),
            f"{p}train/1.png": png(32, 16, seed=2),
            f"{p}val/0.png": png(32, 16, seed=3),
        }
    if fmt == "paired_folders":
        return {
            f"{p}trainA/x.png": png(seed=1),
            f"{p}trainB/x.png": png(seed=2),
        }
    if fmt == "sr":
        return {
            f"{p}train/HR/0.png": png(16, 16, seed=1),
            f"{p}train/LR/0.png": png(4, 4, seed=2),
        }
    if fmt == "labelmap":
        return {
            f"{p}train/images/0.png": png(seed=1),
            f"{p}train/labels/0.png": png(mode="L", values=3, seed=2),
            f"{p}train/images/1.png": png(seed=3),
            f"{p}train/labels/1.png": png(mode="L", values=3, seed=4),
        }
    raise ValueError(fmt)
