"""i2i.download against a real HTTP server on 127.0.0.1: resume, retries, timeouts, hashes,
lock file, mirror."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from i2i.download import (
    DownloadProgress,
    LockFile,
    default_lock_path,
    download,
    mirror_url,
    sha256_file,
)
from i2i.errors import DownloadError

DATA = bytes(range(256)) * 3000  # 768 kB: a few chunks
SHA = hashlib.sha256(DATA).hexdigest()
FAST = {"timeout": 2.0, "retries": 2, "backoff": 0.01}


def test_download_streams_verifies_and_reports_progress(server, tmp_path: Path) -> None:
    url = server.add("x/file.bin", DATA)
    events: list[DownloadProgress] = []
    r = download(url, tmp_path / "out" / "file.bin", sha256=SHA, size=len(DATA),
                 progress=events.append, **FAST)  # fmt: skip
    assert r.path.read_bytes() == DATA and r.sha256 == SHA and r.size == len(DATA)
    assert not r.reused and not r.resumed
    assert events[-1].done == len(DATA) and events[-1].total == len(DATA)
    assert [e.done for e in events] == sorted(e.done for e in events)
    assert not list((tmp_path / "out").glob("*.part*"))  # no partial files left


def test_resume_after_the_server_drops_the_connection(server, tmp_path: Path) -> None:
    url = server.add("big.bin", DATA)
    server.fault("big.bin", "drop")  # first GET: headers + half the body, then close
    r = download(url, tmp_path / "big.bin", sha256=SHA, **FAST)
    assert r.path.read_bytes() == DATA and r.resumed
    gets = server.gets("big.bin")
    assert len(gets) == 2 and "Range" not in gets[0]
    assert gets[1]["Range"] == f"bytes={len(DATA) // 2}-"
    assert gets[1]["If-Range"].startswith('"')  # resumes only the same file version


def test_resume_of_a_partial_file_left_by_an_earlier_run(server, tmp_path: Path) -> None:
    url = server.add("f.bin", DATA)
    (tmp_path / "f.bin.part").write_bytes(DATA[:1000])
    r = download(url, tmp_path / "f.bin", sha256=SHA, **FAST)
    assert r.resumed and r.path.read_bytes() == DATA
    assert server.gets("f.bin")[0]["Range"] == "bytes=1000-"


def test_server_ignoring_ranges_restarts_from_zero(server, tmp_path: Path) -> None:
    url = server.add("f.bin", DATA)
    server.fault("f.bin", "ignore_range")
    (tmp_path / "f.bin.part").write_bytes(b"garbage that must not survive")
    r = download(url, tmp_path / "f.bin", sha256=SHA, **FAST)
    assert r.path.read_bytes() == DATA and not r.resumed


def test_complete_part_answered_with_416_is_finished(server, tmp_path: Path) -> None:
    url = server.add("f.bin", DATA)
    (tmp_path / "f.bin.part").write_bytes(DATA)
    r = download(url, tmp_path / "f.bin", sha256=SHA, **FAST)
    assert r.path.read_bytes() == DATA and len(server.gets("f.bin")) == 1


def test_404_fails_at_once_with_one_line(server, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"HTTP 404 .*check the name or URL") as e:
        download(server.url("missing.zip"), tmp_path / "m.zip", **FAST)
    assert "\n" not in str(e.value) and len(server.gets("missing.zip")) == 1
    assert not list(tmp_path.iterdir())


def test_5xx_is_retried_with_backoff(server, tmp_path: Path) -> None:
    url = server.add("f.bin", DATA)
    server.fault("f.bin", "status", times=2, status=503)
    r = download(url, tmp_path / "f.bin", sha256=SHA, **FAST)
    assert r.sha256 == SHA and len(server.gets("f.bin")) == 3


def test_a_stalling_server_times_out_after_the_retries(server, tmp_path: Path) -> None:
    url = server.add("slow.bin", DATA)
    server.fault("slow.bin", "stall", times=5)
    t0 = time.perf_counter()
    with pytest.raises(DownloadError, match=r"failed after 2 tries: timed out after 0.3 s"):
        download(url, tmp_path / "slow.bin", timeout=0.3, retries=1, backoff=0.01)
    assert time.perf_counter() - t0 < 5
    assert not (tmp_path / "slow.bin").exists()


def test_sha256_mismatch_names_both_hashes_and_deletes_the_download(server, tmp_path) -> None:
    url = server.add("f.bin", DATA)
    wrong = "0" * 64
    with pytest.raises(DownloadError) as e:
        download(url, tmp_path / "f.bin", sha256=wrong, expected_from="the catalogue", **FAST)
    msg = str(e.value)
    assert SHA in msg and wrong in msg and "the catalogue" in msg
    assert not list(tmp_path.iterdir())


def test_size_mismatch_is_refused_before_downloading(server, tmp_path: Path) -> None:
    url = server.add("f.bin", DATA)
    with pytest.raises(DownloadError, match=f"is {len(DATA)} bytes but .* expects 10"):
        download(url, tmp_path / "f.bin", size=10, **FAST)


def test_lock_file_records_and_checks_the_hash(server, tmp_path: Path) -> None:
    lock = LockFile(tmp_path / "lock.json")
    url = server.add("f.bin", DATA)
    r = download(url, tmp_path / "a" / "f.bin", lock=lock, lock_key="k", **FAST)
    lock.record("k", r)
    entry = json.loads((tmp_path / "lock.json").read_text())["files"]["k"]
    assert entry["sha256"] == SHA and entry["size"] == len(DATA) and entry["url"] == url
    changed = DATA[::-1]
    server.add("f.bin", changed)
    with pytest.raises(DownloadError) as e:
        download(url, tmp_path / "b" / "f.bin", lock=lock, lock_key="k", **FAST)
    assert SHA in str(e.value) and hashlib.sha256(changed).hexdigest() in str(e.value)
    assert "lock file" in str(e.value) and not (tmp_path / "b" / "f.bin").exists()


def test_catalogue_hash_conflicting_with_the_lock_is_an_error(tmp_path: Path) -> None:
    lock = LockFile(tmp_path / "lock.json")
    lock.record("k", _result(tmp_path, "a" * 64))
    with pytest.raises(DownloadError, match=f"{'b' * 64}.*{'a' * 64}"):
        download("http://127.0.0.1:9/x.zip", tmp_path / "x.zip", sha256="b" * 64,
                 lock=lock, lock_key="k")  # fmt: skip


def _result(tmp_path: Path, sha: str):  # noqa: ANN202
    from i2i.download import DownloadResult

    return DownloadResult(tmp_path / "x", "http://example/x", sha, 1)


def test_mirror_fetches_the_same_file_name(server, tmp_path: Path) -> None:
    server.add("cache/file.bin", DATA)
    upstream = "http://127.0.0.1:9/unreachable/file.bin"  # port 9: nothing listens
    r = download(upstream, tmp_path / "file.bin", sha256=SHA, mirror=server.url("cache/"), **FAST)
    assert r.url == server.url("cache/file.bin") and r.sha256 == SHA


def test_mirror_can_be_a_local_folder(tmp_path: Path) -> None:
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "file.bin").write_bytes(DATA)
    r = download("https://example.invalid/a/file.bin", tmp_path / "out" / "file.bin",
                 sha256=SHA, mirror=str(tmp_path / "mirror"), **FAST)  # fmt: skip
    assert r.path.read_bytes() == DATA and r.url.startswith("file://")
    assert mirror_url("https://h/x/a.zip", "http://m/base") == "http://m/base/a.zip"


def test_existing_file_is_reused_and_checked_without_a_request(server, tmp_path: Path) -> None:
    url = server.add("f.bin", DATA)
    (tmp_path / "f.bin").write_bytes(DATA)
    r = download(url, tmp_path / "f.bin", sha256=SHA, **FAST)
    assert r.reused and not server.requests
    (tmp_path / "g.bin").write_bytes(b"other")
    with pytest.raises(DownloadError, match="already exists but its SHA-256"):
        download(url, tmp_path / "g.bin", sha256=SHA, **FAST)
    assert (tmp_path / "g.bin").read_bytes() == b"other"  # never deleted: not ours


def test_bad_inputs_are_one_line_errors(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(DownloadError, match="64 hex digits"):
        download("http://127.0.0.1:9/a.zip", tmp_path / "a.zip", sha256="abc")
    with pytest.raises(DownloadError, match="only http://"):
        download("ftp://host/a.zip", tmp_path / "a.zip")
    monkeypatch.setenv("I2I_DOWNLOAD_LOCK", str(tmp_path / "l.json"))
    assert default_lock_path() == tmp_path / "l.json"
    (tmp_path / "l.json").write_text("{not json")
    with pytest.raises(DownloadError, match="lock file .* is unreadable"):
        LockFile(tmp_path / "l.json").get("k")
    assert sha256_file(tmp_path / "l.json") == hashlib.sha256(b"{not json").hexdigest()
