"""Fixtures of the tracking tests: tiny tracked pix2pix runs, a crash in the middle of a run,
and one real MLflow tracking server per test session (127.0.0.1, free port, tmp stores)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import i2i
from i2i.manager import Context
from i2i.training.run import RunInfo


class Crash:
    """Raises after every other observer saw step ``step`` (a process dying mid-run: no final
    checkpoint, steps after the last checkpoint already sent to the trackers)."""

    def __init__(self, step: int) -> None:
        self.step = step

    @i2i.hookimpl(trylast=True)
    def i2i_train_step_end(self, step: int) -> None:
        if step == self.step:
            raise RuntimeError(f"simulated crash after step {step}")


class OnStep:
    """Calls ``fn(step)`` after every observer saw a step."""

    def __init__(self, fn: Callable[[int], None]) -> None:
        self.fn = fn

    @i2i.hookimpl(trylast=True)
    def i2i_train_step_end(self, step: int) -> None:
        self.fn(step)


@pytest.fixture
def on_step() -> type[OnStep]:
    """The :class:`OnStep` plugin class (``plugins=(on_step(fn),)`` in ``tracked_run``)."""
    return OnStep


@pytest.fixture
def dead_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def tracked_run(
    ctx: Context, demo_data: Callable[[str], Path], tiny_run: Callable[..., RunInfo]
) -> Callable[..., RunInfo]:
    """``tracked_run(out, steps, loggers, crash_at=None, plugins=(), resume=False,
    context=None, **train)``: a tiny pix2pix run (samples and checkpoints every 2 steps) with
    experiment loggers and extra plugins."""

    def run(
        out: Path,
        steps: int,
        loggers: tuple[str, ...],
        *,
        crash_at: int | None = None,
        plugins: tuple[Any, ...] = (),
        resume: bool = False,
        context: Context | None = None,
        **train: Any,
    ) -> RunInfo:
        c = context or ctx
        extra = [*plugins, *([Crash(crash_at)] if crash_at else [])]
        for p in extra:
            c.pm.register(p)
        try:
            return tiny_run(
                "pix2pix", demo_data("aligned"), out, steps=steps, resume=resume, context=c,
                **{"sample_every": 2, "checkpoint_every": 2, "loggers": list(loggers), **train},
            )  # fmt: skip
        finally:
            for p in extra:
                c.pm.unregister(p)

    return run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MLflowServer:
    """``mlflow server`` on 127.0.0.1 with a sqlite store and an artifact folder under
    ``root``; ``kill()`` ends it abruptly, ``start()`` brings it back on the same port and
    stores."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 240) -> None:
        cmd = [
            sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1",
            "--port", str(self.port), "--workers", "1",
            "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}",
            "--artifacts-destination", str(self.root / "artifacts"),
        ]  # fmt: skip
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # no job runner
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 - the server keeps it
        self.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = (self.root / "server.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"mlflow server exited with {self.proc.returncode}:\n{tail}")
            if self.healthy():
                return
            time.sleep(0.5)
        self.kill()
        raise RuntimeError(f"mlflow server not up on {self.uri} after {timeout} s")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """End the server and its workers (one process group) and wait for them."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        deadline = time.monotonic() + 10  # the port is free once the workers are gone too
        while self.healthy() and time.monotonic() < deadline:
            time.sleep(0.2)


class TcpRelay:
    """A TCP relay on 127.0.0.1 in front of a local server: ``down()`` closes it (new
    connections are refused, open ones cut), ``up()`` listens again on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.port = free_port()
        self.listener: socket.socket | None = None
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(16)
        self.listener = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def down(self) -> None:
        with self.lock:
            if self.listener is not None:
                with contextlib.suppress(OSError):  # wakes the blocked accept() (Linux)
                    self.listener.shutdown(socket.SHUT_RDWR)
                self.listener.close()
                self.listener = None
            for c in self.conns:
                with contextlib.suppress(OSError):
                    c.shutdown(socket.SHUT_RDWR)
                c.close()
            self.conns.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by down()
            try:
                server = socket.create_connection(("127.0.0.1", self.target), timeout=10)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MLflowServer]:
    server = MLflowServer(tmp_path_factory.mktemp("mlflow"))
    server.start()
    try:
        yield server
    finally:
        server.kill(signal.SIGTERM)


@pytest.fixture
def mlflow_env(
    mlflow_server: MLflowServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MLflowServer]:
    """The shared server as ``MLFLOW_TRACKING_URI``, with the client's own retries off so the
    logger's buffering is what the tests see."""
    if not mlflow_server.healthy():  # a test killed it: bring it back
        mlflow_server.start()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    yield mlflow_server


@pytest.fixture
def relay(mlflow_env: MLflowServer) -> Iterator[TcpRelay]:
    """A :class:`TcpRelay` (up) in front of the shared MLflow server."""
    r = TcpRelay(mlflow_env.port)
    r.up()
    try:
        yield r
    finally:
        r.down()
