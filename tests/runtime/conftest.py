"""Fixtures of the runtime tests: tiny ONNX models of every input kind, exported with the i2i
metadata ``i2i export`` writes (made once per session)."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import tempfile
import threading
import time
import types
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import onnx
import pytest
import torch
from torch import nn

from i2i.export.metadata import build_metadata, input_names
from i2i.specs import InferenceInfo
from i2i_runtime.serve.client import request


def export(
    module: nn.Module,
    info: InferenceInfo,
    path: Path,
    args: tuple[torch.Tensor, ...],
    dynamic: dict[str, dict[int, str]],
    *,
    metadata: bool = True,
    dontcare: int = -1,
) -> Path:
    names = input_names(info)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(),
            args,
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=names,
            output_names=["output"],
            dynamic_axes=dynamic,
        )
    if metadata:
        model = onnx.load(str(path))
        meta = build_metadata(
            info, family="test", step=0, opset=17, precision="fp32", static=None,
            run_config={}, label_dontcare=dontcare,
        )  # fmt: skip
        onnx.helper.set_model_props(model, meta)
        onnx.save(model, str(path))
    return path


_SPATIAL = {0: "n", 2: "h", 3: "w"}


def image_model(path: Path, channels: int = 3, stride: int = 4, metadata: bool = True) -> Path:
    """A two-layer conv net (``channels`` -> ``channels``) that needs H, W multiples of
    ``stride``."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(channels, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, channels, 3, padding=1),
        nn.Tanh(),
    )  # fmt: skip
    info = InferenceInfo(("image",), channels, channels, stride=stride)
    dyn = {"image": _SPATIAL, "output": _SPATIAL}
    return export(net, info, path, (torch.zeros(1, channels, 32, 32),), dyn, metadata=metadata)


class LabelNet(nn.Module):
    """Class ids -> one-hot (by comparison, as i2i's label models do) -> conv -> RGB."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k
        self.conv = nn.Conv2d(k, 3, 3, padding=1)

    def forward(self, label: torch.Tensor) -> torch.Tensor:
        ids = torch.arange(self.k, device=label.device).view(1, -1, 1, 1)
        return torch.tanh(self.conv((label == ids).float()))


def label_model(path: Path, num_classes: int = 4) -> Path:
    torch.manual_seed(0)
    info = InferenceInfo(("label",), num_classes, 3, stride=4, num_classes=num_classes)
    dyn = {"label": _SPATIAL, "output": _SPATIAL}
    args = (torch.zeros(1, 1, 32, 32, dtype=torch.int64),)
    return export(LabelNet(num_classes), info, path, args, dyn)


class SamplerNet(nn.Module):
    """Noise + class id -> a ``size`` x ``size`` RGB image."""

    def __init__(self, z_dim: int, k: int, size: int) -> None:
        super().__init__()
        self.size = size
        self.emb = nn.Embedding(k, z_dim)
        self.fc = nn.Linear(z_dim, 3 * size * size)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.fc(z * self.emb(y))).view(-1, 3, self.size, self.size)


def sampler_model(path: Path, z_dim: int = 8, num_classes: int = 3, size: int = 16) -> Path:
    torch.manual_seed(0)
    info = InferenceInfo(("noise", "class"), z_dim, 3, num_classes=num_classes)
    dyn = {"z": {0: "n"}, "class": {0: "n"}, "output": {0: "n"}}
    args = (torch.zeros(2, z_dim), torch.zeros(2, dtype=torch.int64))
    return export(SamplerNet(z_dim, num_classes, size), info, path, args, dyn)


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runtime-models")
    return {
        "rgb": image_model(root / "rgb.onnx"),
        "gray": image_model(root / "gray.onnx", channels=1),
        "bare": image_model(root / "bare.onnx", metadata=False),
        "label": label_model(root / "label.onnx"),
        "sampler": sampler_model(root / "sampler.onnx"),
    }


# -- servers ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running(app: object) -> Iterator[str]:
    """Serve a Starlette app with uvicorn in a thread on 127.0.0.1; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(60)


@contextlib.contextmanager
def server_process(*command: str | Path, timeout: float = 120.0) -> Iterator[tuple[str, Any]]:
    """Run ``command --port P`` (a server) as a process; yields (base URL, Popen). Stopped with
    SIGTERM (then SIGKILL) at the end."""
    port = free_port()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [*map(str, command), "--port", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"server exited: {log.read().decode()[-2000:]}")
            try:
                if request("GET", url + "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not answer /healthz in time")
            time.sleep(0.1)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


@pytest.fixture(scope="session")
def net() -> types.SimpleNamespace:
    """The server helpers: ``request``, ``running`` (in-process), ``server_process``."""
    return types.SimpleNamespace(
        request=request, running=running, server_process=server_process, free_port=free_port
    )
