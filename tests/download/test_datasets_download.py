"""``i2i datasets download / list / info`` end to end against a local HTTP server: every
layout from a zip and a tar.gz, the catalogue through --mirror, a plugin's source, resume,
corrupt and unsafe archives, hash mismatches, 404, timeouts, a full disk, running twice."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

import i2i
import i2i.archive
from i2i.cli.app import build_app
from i2i.datasets.sources import MARKER

from .conftest import archive_bytes, layout, png, tar_bytes, zip_bytes

SHAPES_ZIP = zip_bytes(layout("unpaired", "shapes"))
SHAPES_SHA = hashlib.sha256(SHAPES_ZIP).hexdigest()


def convert_shapes(job: i2i.ConvertJob) -> None:
    """A plugin's converter, written with the public ConvertJob API only."""
    root = job.root_with("trainA", "trainB")
    if root is None:
        raise i2i.DatasetError("no trainA/ + trainB/ in the shapes archive")
    job.place_tree(root)
    job.notes.append("shapes: placed as is")


def convert_single(job: i2i.ConvertJob) -> None:
    """A source whose one file is an image, not an archive."""
    (image,) = job.files("**/*.png")
    job.place(image, "trainA/a.png")
    (job.out / "trainB").mkdir()
    (job.out / "trainB" / "b.png").write_bytes((job.out / "trainA" / "a.png").read_bytes())


class SourcesPlugin:
    @i2i.hookimpl
    def i2i_register_dataset_sources(self, registrar: i2i.Registrar) -> None:
        registrar.add(
            "test/single",
            i2i.DatasetSource(
                name="test/single",
                summary="one image",
                family="cyclegan",
                format="unpaired",
                convert=convert_single,
                files=(i2i.SourceFile("http://127.0.0.1:9/one.png"),),
            ),
        )
        registrar.add(
            "test/shapes",
            i2i.DatasetSource(
                name="test/shapes",
                summary="test shapes",
                family="cyclegan",
                format="unpaired",
                convert=convert_shapes,
                files=(
                    i2i.SourceFile(
                        "http://127.0.0.1:9/shapes.zip", sha256=SHAPES_SHA, size=len(SHAPES_ZIP)
                    ),
                ),
                size="5 kB",
                licence="CC0",
                terms_url="https://example.org/terms",
                origin="the tests",
            ),
        )


@pytest.fixture(scope="module")
def app():
    return build_app(i2i.load_context(extra=[("test_sources", SourcesPlugin())]))


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def run(runner, app, *args):
    return runner.invoke(app, ["datasets", *[str(a) for a in args]], catch_exceptions=False)


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    lines = [x for x in result.output.strip().splitlines() if x.strip()]
    errors = [x for x in lines if x.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.output
    return errors[0]


def no_dataset(dest: Path) -> None:
    """Nothing at DIR and no staging data but (at most) kept downloads."""
    assert not dest.exists()
    staging = dest.parent / f".{dest.name}.i2i-partial"
    if staging.exists():
        assert {p.name for p in staging.iterdir()} <= {"files", "lock"}


FAMILY = {"unpaired": "cyclegan", "aligned": "pix2pix", "sr": "srgan", "labelmap": "spade"}


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
@pytest.mark.parametrize("fmt", ["unpaired", "aligned", "paired_folders", "sr", "labelmap"])
def test_url_download_in_each_layout(runner, app, server, tmp_path, fmt: str, kind: str) -> None:
    url = server.add(f"pub/{fmt}.{kind}", archive_bytes(layout(fmt), kind))
    dest = tmp_path / "data" / fmt
    extra = ["--family", "pix2pix"] if fmt == "paired_folders" else []
    r = run(runner, app, "download", url, dest, "--format", fmt, "--no-progress", *extra)
    assert r.exit_code == 0, r.output
    assert f"{dest} is a valid '{fmt}' dataset" in r.output
    family = FAMILY.get(fmt, "pix2pix")
    command = f"train with: i2i train {family} {dest}"
    assert command + (" --format paired_folders" if fmt == "paired_folders" else "") in r.output
    marker = json.loads((dest / MARKER).read_text())
    assert (
        marker["source"] == url
        and marker["files"][0]["sha256"]
        == hashlib.sha256(server.files[f"/pub/{fmt}.{kind}"]).hexdigest()
    )
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [fmt]  # no staging left


def test_catalogue_source_through_a_mirror_records_the_lock(runner, app, server, tmp_path):
    server.add("mirror/facades.tar.gz", tar_bytes(layout("aligned", "facades")))
    dest = tmp_path / "facades"
    r = run(runner, app, "download", "pix2pix/facades", dest, "--mirror", server.url("mirror"),
            "--no-progress")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert f"train with: i2i train pix2pix {dest} --set direction=BtoA" in r.output
    lock = json.loads(Path(i2i.download.default_lock_path()).read_text())["files"]
    entry = lock["dataset:pix2pix/facades/facades.tar.gz"]
    assert entry["sha256"] == hashlib.sha256(server.files["/mirror/facades.tar.gz"]).hexdigest()


def test_the_same_download_twice_fetches_nothing(runner, app, server, tmp_path) -> None:
    server.add("m/shapes.zip", SHAPES_ZIP)
    dest = tmp_path / "shapes"
    args = ("download", "shapes", dest, "--mirror", server.url("m"), "--no-progress")
    r1 = run(runner, app, *args)
    assert r1.exit_code == 0, r1.output
    assert "shapes: placed as is" in r1.output
    assert len(server.requests) == 1
    r2 = run(runner, app, *args)
    assert r2.exit_code == 0, r2.output
    assert "nothing was downloaded" in r2.output and len(server.requests) == 1
    assert f"{dest} is a valid 'unpaired' dataset" in r2.output
    assert f"train with: i2i train cyclegan {dest}" in r2.output


def test_a_source_file_that_is_not_an_archive(runner, app, server, tmp_path) -> None:
    server.add("m/one.png", png(seed=7))
    r = run(runner, app, "download", "test/single", tmp_path / "one", "--mirror",
            server.url("m"), "--no-progress")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert (tmp_path / "one" / "trainA" / "a.png").read_bytes() == png(seed=7)


def test_lock_file_mismatch_names_both_hashes(runner, app, server, tmp_path) -> None:
    first = zip_bytes(layout("unpaired"))
    url = server.add("u.zip", first)
    assert run(runner, app, "download", url, tmp_path / "a", "-f", "unpaired",
               "--no-progress").exit_code == 0  # fmt: skip
    changed = zip_bytes(layout("unpaired", "other"))
    server.add("u.zip", changed)
    r = run(runner, app, "download", url, tmp_path / "b", "-f", "unpaired", "--no-progress")
    line = one_line_error(r)
    assert hashlib.sha256(first).hexdigest() in line and hashlib.sha256(changed).hexdigest() in line
    assert "lock file" in line
    no_dataset(tmp_path / "b")


def test_hash_mismatch_and_catalogue_size_mismatch(runner, app, server, tmp_path) -> None:
    data = zip_bytes(layout("unpaired"))
    url = server.add("u.zip", data)
    line = one_line_error(run(runner, app, "download", url, tmp_path / "u", "-f", "unpaired",
                              "--sha256", "ab" * 32, "--no-progress"))  # fmt: skip
    assert "ab" * 32 in line and hashlib.sha256(data).hexdigest() in line and "--sha256" in line
    no_dataset(tmp_path / "u")
    server.add("m/horse2zebra.zip", data)  # not the real file: the catalogue knows its size
    line = one_line_error(run(runner, app, "download", "horse2zebra", tmp_path / "h",
                              "--mirror", server.url("m"), "--no-progress"))  # fmt: skip
    assert f"is {len(data)} bytes but the catalogue expects 116867962" in line
    no_dataset(tmp_path / "h")


def test_resume_after_a_dropped_connection(runner, app, server, tmp_path) -> None:
    big = zip_bytes({**layout("unpaired"), "data/trainA/pad.bin": bytes(range(256)) * 2000})
    url = server.add("big.zip", big)
    server.fault("big.zip", "drop")
    r = run(runner, app, "download", url, tmp_path / "d", "-f", "unpaired", "--no-progress",
            "--backoff", "0.01")  # fmt: skip
    assert r.exit_code == 0, r.output
    gets = server.gets("big.zip")
    assert len(gets) == 2 and gets[1]["Range"] == f"bytes={len(big) // 2}-"


def test_corrupt_archive_is_deleted_and_fetched_again_next_time(runner, app, server, tmp_path):
    good = zip_bytes(layout("unpaired"))
    url = server.add("c.zip", good[: len(good) // 2])  # truncated upstream
    dest = tmp_path / "c"
    line = one_line_error(run(runner, app, "download", url, dest, "-f", "unpaired",
                              "--no-progress"))  # fmt: skip
    assert "corrupt" in line and "deleted" in line
    no_dataset(dest)
    server.add("c.zip", good)
    r = run(runner, app, "download", url, dest, "-f", "unpaired", "--no-progress")
    assert r.exit_code == 0, r.output
    assert len(server.gets("c.zip")) == 2


def test_404_and_timeout_are_one_line_errors(runner, app, server, tmp_path) -> None:
    line = one_line_error(run(runner, app, "download", server.url("nope.zip"), tmp_path / "n",
                              "-f", "unpaired", "--no-progress"))  # fmt: skip
    assert "HTTP 404" in line
    no_dataset(tmp_path / "n")
    url = server.add("s.zip", zip_bytes(layout("unpaired")))
    server.fault("s.zip", "stall", times=3)
    line = one_line_error(run(runner, app, "download", url, tmp_path / "s", "-f", "unpaired",
                              "--timeout", "0.3", "--retries", "1", "--backoff", "0",
                              "--no-progress"))  # fmt: skip
    assert "timed out after 0.3 s" in line and "failed after 2 tries" in line
    no_dataset(tmp_path / "s")


@pytest.mark.parametrize(
    ("kind", "entries"),
    [
        ("zip", {"data/trainA/a.png": b"x", "data/../../../evil.png": b"x"}),  # zip-slip
        ("tar.gz", {"data/trainA/a.png": b"x", "data/trainB": ("symlink", "../../../etc")}),
    ],
)
def test_unsafe_archives_are_refused(runner, app, server, tmp_path, kind, entries) -> None:
    url = server.add(f"evil.{kind}", archive_bytes(entries, kind))
    dest = tmp_path / "sub" / "evil"
    line = one_line_error(run(runner, app, "download", url, dest, "-f", "unpaired",
                              "--no-progress"))  # fmt: skip
    assert "refusing to unpack" in line
    no_dataset(dest)
    assert not (tmp_path / "evil.png").exists() and not (tmp_path.parent / "evil.png").exists()


def test_disk_full_while_unpacking(runner, app, server, tmp_path, monkeypatch) -> None:
    url = server.add("u.tar.gz", tar_bytes(layout("unpaired")))
    dest = tmp_path / "full"

    class FullDisk(io.FileIO):
        def write(self, b):  # noqa: ANN001, ANN202
            raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(i2i.archive, "_open_output", lambda p: FullDisk(p, "wb"))
        line = one_line_error(run(runner, app, "download", url, dest, "-f", "unpaired",
                                  "--no-progress"))  # fmt: skip
    assert "no space left on the device" in line
    no_dataset(dest)  # the archive is kept for the next run ...
    r = run(runner, app, "download", url, dest, "-f", "unpaired", "--no-progress")
    assert r.exit_code == 0, r.output
    assert len(server.gets("u.tar.gz")) == 1  # ... which does not fetch it again


def test_wrong_layout_and_bad_targets(runner, app, server, tmp_path) -> None:
    url = server.add("u.zip", zip_bytes(layout("unpaired")))
    line = one_line_error(run(runner, app, "download", url, tmp_path / "x", "-f", "aligned",
                              "--no-progress"))  # fmt: skip
    assert "did not become a valid 'aligned' dataset" in line and "nothing was written" in line
    no_dataset(tmp_path / "x")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("user data")
    line = one_line_error(run(runner, app, "download", url, tmp_path / "busy", "-f", "unpaired"))
    assert "exists and is not empty" in line
    assert (tmp_path / "busy" / "mine.txt").read_text() == "user data"
    assert run(runner, app, "download", url, tmp_path / "u", "-f", "unpaired").exit_code == 0
    line = one_line_error(run(runner, app, "download", "pix2pix/maps", tmp_path / "u"))
    assert "already holds the dataset" in line


def test_usage_errors(runner, app, tmp_path) -> None:
    assert "is ambiguous: cyclegan/facades (unpaired), pix2pix/facades (aligned)" in (
        one_line_error(run(runner, app, "download", "facades", tmp_path / "f"))
    )
    assert "unknown dataset" in one_line_error(run(runner, app, "download", "nope", tmp_path))
    assert "needs --format" in one_line_error(
        run(runner, app, "download", "http://127.0.0.1:9/a.zip", tmp_path / "a")
    )
    assert "apply to URL downloads only" in one_line_error(
        run(runner, app, "download", "horse2zebra", tmp_path / "h", "--format", "aligned")
    )
    r = run(runner, app, "download", "spade/coco_stuff", tmp_path / "coco")
    assert "cannot be downloaded directly" in one_line_error(r)
    assert "stuffthingmaps_trainval2017.zip" in r.output and not (tmp_path / "coco").exists()


def test_list_and_info_need_no_network(runner, app, monkeypatch) -> None:
    def no_network(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("network access")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    ctx = i2i.load_context(extra=[("test_sources", SourcesPlugin())])
    assert len(ctx.dataset_sources) >= 25
    r = run(runner, build_app(ctx), "list")
    assert r.exit_code == 0, r.output
    for name in ("cyclegan/horse2zebra", "pix2pix/night2day", "div2k/bicubic_x4", "spade/ade20k",
                 "spade/coco_stuff", "spade/cityscapes", "test/shapes"):  # fmt: skip
        assert name in r.output
    assert "https://www.cityscapes-dataset.com/license/" in r.output
    r = run(runner, app, "list", "--family", "srgan")
    assert "div2k/hr" in r.output and "cyclegan/horse2zebra" not in r.output
    r = run(runner, app, "info", "horse2zebra")
    assert "a74d9d392eecca9966b51287a76ca126af473d9de4f3e8fc0e9cda08fa1730a1" in r.output
    assert "TensorFlow Datasets" in r.output
    r = run(runner, app, "info", "pix2pix/cityscapes")
    assert "gtFine_trainvaltest.zip" in r.output and "prepare pix2pix/cityscapes" in r.output
