"""``i2i weights download``: the metric networks' weight files fetched from a local HTTP
server on 127.0.0.1 (the real downloader, a real server), checked against a full SHA-256 or the
published prefix, with URL fallback, the lock file, and one-line errors for wrong bytes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import i2i
from i2i.cli.app import build_app
from i2i.errors import DownloadError
from i2i.metrics.weights import KNOWN_WEIGHTS, KnownWeights, download_weights

BLOB = b"weights " * 5000
SHA = hashlib.sha256(BLOB).hexdigest()


def spec(server, *paths: str, sha256: str = SHA[:8]) -> KnownWeights:
    return KnownWeights(
        "toy", "toy-weights.pth", tuple(server.url(p) for p in paths), sha256, "a test",
        "--toy-weights", "this test",
    )  # fmt: skip


@pytest.mark.parametrize("published", [SHA[:8], SHA], ids=["prefix", "full"])
def test_download_checks_the_hash_reports_progress_and_records_the_lock(
    server, tmp_path: Path, published: str
) -> None:
    server.add("w/toy-weights.pth", BLOB)
    seen = []
    result = download_weights(
        spec(server, "w/toy-weights.pth", sha256=published), tmp_path / "weights",
        progress=seen.append,
    )  # fmt: skip
    assert result.path == tmp_path / "weights" / "toy-weights.pth"
    assert result.path.read_bytes() == BLOB and result.sha256 == SHA and not result.reused
    assert seen and seen[-1].done == len(BLOB)
    lock = json.loads(Path(i2i.download.default_lock_path()).read_text())["files"]
    assert lock["weights:toy"]["sha256"] == SHA
    again = download_weights(
        spec(server, "w/toy-weights.pth", sha256=published), tmp_path / "weights"
    )
    assert again.reused and len(server.requests) == 1


def test_a_failing_url_falls_back_to_the_next(server, tmp_path: Path) -> None:
    server.add("b/toy-weights.pth", BLOB)
    result = download_weights(spec(server, "a/gone.pth", "b/toy-weights.pth"), tmp_path, retries=0)
    assert result.path.read_bytes() == BLOB
    assert [p for p, _ in server.requests] == ["/a/gone.pth", "/b/toy-weights.pth"]


def test_wrong_bytes_are_deleted_and_fail_in_one_line(server, tmp_path: Path) -> None:
    server.add("w/toy-weights.pth", b"not the weights")
    with pytest.raises(DownloadError, match="does not start with the published") as err:
        download_weights(spec(server, "w/toy-weights.pth"), tmp_path)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "toy-weights.pth").exists()
    assert not list(tmp_path.glob("*.part*"))
    with pytest.raises(DownloadError, match="404"):
        download_weights(spec(server, "w/missing.pth"), tmp_path, retries=0)


def test_cli_fetches_through_a_mirror_and_refuses_wrong_bytes(server, tmp_path: Path) -> None:
    """The catalogue's real names and hashes: a mirror serving other bytes under the real file
    names is refused (full hash and published prefix), one line, exit 1, nothing left."""
    runner, app = CliRunner(), build_app(i2i.load_context())
    for name in ("lpips-alex", "inception"):
        server.add(f"m/{KNOWN_WEIGHTS[name].filename}", b"impostor")
        args = ["weights", "download", name, "--dir", str(tmp_path), "--mirror", server.url("m")]
        r = runner.invoke(app, [*args, "--no-progress", "--retries", "0"])
        assert r.exit_code == 1, r.output
        assert "SHA-256" in r.output and len(r.output.strip().splitlines()) == 1, r.output
        assert not (tmp_path / KNOWN_WEIGHTS[name].filename).exists()
    r = runner.invoke(app, ["weights", "download", "inception", "--all"])
    assert r.exit_code == 1 and "not both" in r.output
    r = runner.invoke(app, ["weights", "download", "nope", "--dir", str(tmp_path)])
    assert r.exit_code == 1 and "unknown weights 'nope'" in r.output
