"""``--log wandb`` in offline mode: the run's files are written, read back with W&B's own
record schema, and nothing goes to the network."""

from __future__ import annotations

import http.server
import ipaddress
import json
import struct
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from wandb.proto import wandb_internal_pb2 as pb

from i2i.tracking import attached, read_tracking

#: Connections to anything but loopback / local sockets, seen by the audit hook.
OUTSIDE: list[object] = []


def _audit(event: str, args: tuple) -> None:
    if event != "socket.connect" or len(args) < 2:
        return
    address = args[1]
    if isinstance(address, tuple) and address:
        try:
            if not ipaddress.ip_address(address[0]).is_loopback:
                OUTSIDE.append(address)
        except ValueError:  # a host name: a lookup was tried
            OUTSIDE.append(address)


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[str] = []

    def _any(self) -> None:
        type(self).seen.append(f"{self.command} {self.path}")
        self.send_response(503)
        self.end_headers()

    do_GET = do_POST = do_PUT = do_CONNECT = _any

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """W&B offline, with every address it could phone home to pointed at a recorder on
    127.0.0.1 (its API, HTTP and HTTPS proxies) and its caches in tmp; yields what the
    recorder saw."""
    if not getattr(sys, "_i2i_wandb_audit", False):  # audit hooks cannot be removed: once
        sys.addaudithook(_audit)
        sys._i2i_wandb_audit = True  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    env = {
        "WANDB_MODE": "offline",
        "WANDB_BASE_URL": url,
        "HTTP_PROXY": url,
        "HTTPS_PROXY": url,
        "http_proxy": url,
        "https_proxy": url,
        "WANDB_ERROR_REPORTING": "false",
        "WANDB_SILENT": "true",
        "WANDB_CACHE_DIR": str(tmp_path / "wandb-cache"),
        "WANDB_DATA_DIR": str(tmp_path / "wandb-data"),
        "WANDB_CONFIG_DIR": str(tmp_path / "wandb-config"),
        "WANDB_ARTIFACT_DIR": str(tmp_path / "wandb-artifacts"),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    OUTSIDE.clear()
    _Recorder.seen = []
    try:
        yield _Recorder.seen
    finally:
        server.shutdown()
        server.server_close()


def records(path: Path) -> list[pb.Record]:
    """The records of a ``.wandb`` file: W&B's log format (blocks of 32 KiB, chunks with a
    7-byte header: checksum, length, type full/first/middle/last) of ``Record`` protobufs."""
    data = path.read_bytes()
    assert data[:4] == b":W&B", path
    out, pos, part = [], 7, b""
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        if left < 7:  # block trailer
            pos += left
            continue
        _, n, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if n == 0 and kind == 0:  # zero padding up to the next block
            pos += left
            continue
        chunk, pos = data[pos + 7 : pos + 7 + n], pos + 7 + n
        part = chunk if kind in (1, 2) else part + chunk
        if kind in (1, 4):
            rec = pb.Record()
            rec.ParseFromString(part)
            out.append(rec)
    return out


def history(recs: list[pb.Record]) -> dict[int, dict[str, object]]:
    steps: dict[int, dict[str, object]] = {}
    for r in recs:
        if r.WhichOneof("record_type") == "history":
            item = {
                "/".join(i.nested_key) or i.key: json.loads(i.value_json) for i in r.history.item
            }
            steps.setdefault(int(item["_step"]), {}).update(item)
    return steps


def summary(recs: list[pb.Record]) -> dict[str, object]:
    out: dict[str, object] = {}
    for r in recs:
        if r.WhichOneof("record_type") == "summary":
            for i in r.summary.update:
                out["/".join(i.nested_key) or i.key] = json.loads(i.value_json)
    return out


def _next_second() -> None:
    """Wait for the wall clock's next second."""
    time.sleep(1.0 - time.time() % 1.0 + 0.01)


def test_offline_files_resume_same_run_eval_and_no_network(ctx, tracked_run, offline, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated crash"):
        tracked_run(out, 5, ("wandb",), crash_at=3)
    _next_second()  # W&B names offline folders by the second: each attempt gets its own
    tracked_run(out, 5, ("wandb",), resume=True)
    state = read_tracking(out)["wandb"]
    run_id = state["run_id"]
    assert state["mode"] == "offline" and state["status"] == "completed" and state["errors"] == 0
    _next_second()
    with attached(ctx, out, 5) as info:  # i2i eval later: into the same W&B run
        ctx.hook.i2i_evaluation_done(run=info, step=5, metrics={"psnr": 21.5}, out_dir=None)

    folders = sorted((out / "wandb").glob(f"offline-run-*-{run_id}"))
    assert len(folders) == 3  # the failed attempt, the resumed one, the evaluation
    first, second, evaluation = (records(next(f.glob("run-*.wandb"))) for f in folders)
    for recs in (first, second, evaluation):
        run = next(r.run for r in recs if r.WhichOneof("record_type") == "run")
        assert run.run_id == run_id and run.project == "i2i" and run.display_name == "run"
    config = {i.key: json.loads(i.value_json) for i in run.config.update}
    assert config["family"] == "pix2pix" and config["train"]["steps"] == 5
    h1, h2 = history(first), history(second)
    assert sorted(h1) == [1, 2, 3] and sorted(h2) == [4, 5]  # no step twice
    assert {"G/total", "D/total", "lr/G", "train/sec_per_step", "train/images_per_sec"} <= set(
        h2[5]
    )
    assert h1[2]["samples/_type"] == "image-file" and h2[4]["samples/_type"] == "image-file"
    for folder, hist, step in ((folders[0], h1, 2), (folders[1], h2, 4), (folders[1], h2, 5)):
        assert (folder / "files" / str(hist[step]["samples/path"])).is_file()
    exits = [
        next(r.exit.exit_code for r in recs if r.WhichOneof("record_type") == "exit")
        for recs in (first, second)
    ]
    assert exits == [1, 0]  # failed, then completed
    assert summary(first)["status"] == "failed" and summary(second)["status"] == "completed"
    assert summary(evaluation)["eval/psnr"] == 21.5
    assert any(r.WhichOneof("record_type") == "artifact" for r in second)  # the final model
    assert offline == [] and OUTSIDE == []  # nothing tried to leave the machine
