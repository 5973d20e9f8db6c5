"""i2i.archive: safe extraction of real zip and tar archives made by the tests."""

from __future__ import annotations

import errno
import io
import tarfile
from pathlib import Path

import pytest

import i2i.archive
from i2i.archive import archive_kind, extract_archive
from i2i.errors import ArchiveError, CorruptArchiveError, UnsafeArchiveError

from .conftest import tar_bytes, zip_bytes

ARCHIVE = {"zip": zip_bytes, "tar.gz": tar_bytes}


def write(tmp_path: Path, kind: str, entries: dict) -> Path:
    path = tmp_path / f"a.{kind}"
    path.write_bytes(ARCHIVE[kind](entries))
    return path


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_extracts_files_folders_and_inner_links(tmp_path: Path, kind: str) -> None:
    entries = {"top/a.txt": b"A", "top/sub/b.txt": b"BB", "top/link": ("symlink", "sub/b.txt")}
    if kind == "tar.gz":
        entries["top/hard"] = ("hardlink", "top/a.txt")
    stats = extract_archive(write(tmp_path, kind, entries), tmp_path / "out")
    out = tmp_path / "out" / "top"
    assert (out / "a.txt").read_bytes() == b"A" and (out / "sub" / "b.txt").read_bytes() == b"BB"
    assert (out / "link").is_symlink() and (out / "link").read_bytes() == b"BB"
    assert stats.files == 2 and stats.bytes == (3 if kind == "zip" else 4)  # + the copy
    if kind == "tar.gz":  # hard links become copies, never aliases
        assert (out / "hard").read_bytes() == b"A" and not (out / "hard").is_symlink()
    assert archive_kind(tmp_path / f"a.{kind}") == ("zip" if kind == "zip" else "tar")


@pytest.mark.parametrize(
    ("kind", "entries", "why"),
    [
        ("zip", {"ok.txt": b"x", "../evil.txt": b"x"}, "'..' component"),  # zip-slip
        ("zip", {"a/../../evil.txt": b"x"}, "'..' component"),
        ("zip", {"/abs/evil.txt": b"x"}, "absolute path"),
        ("zip", {"C:\\evil.txt": b"x"}, "absolute path"),
        ("zip", {"link": ("symlink", "../../etc")}, "outside the destination"),
        ("zip", {"link": ("symlink", "/etc/passwd")}, "absolute path"),
        ("tar.gz", {"../evil.txt": b"x"}, "'..' component"),
        ("tar.gz", {"/abs/evil.txt": b"x"}, "absolute path"),
        ("tar.gz", {"d/link": ("symlink", "../../outside")}, "outside the destination"),
        ("tar.gz", {"link": ("symlink", "/etc/passwd")}, "absolute path"),
        ("tar.gz", {"hard": ("hardlink", "../outside.txt")}, "outside the destination"),
    ],
)
def test_unsafe_members_are_refused(tmp_path: Path, kind: str, entries: dict, why: str) -> None:
    with pytest.raises(UnsafeArchiveError, match=why) as e:
        extract_archive(write(tmp_path, kind, entries), tmp_path / "x" / "out")
    assert "refusing to unpack" in str(e.value) and "\n" not in str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"a.{kind}", "x"]  # nothing outside
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "outside").exists()


def test_a_member_written_through_an_inner_link_to_outside_is_refused(tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "d").symlink_to(tmp_path / "outside")  # e.g. left by an earlier extraction
    with pytest.raises(UnsafeArchiveError, match="through a link outside"):
        extract_archive(write(tmp_path, "zip", {"d/x.txt": b"x"}), out)
    assert not (tmp_path / "outside" / "x.txt").exists()


def test_device_files_in_tar_are_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("dev")
        info.type = tarfile.CHRTYPE
        tf.addfile(info)
    (tmp_path / "d.tar").write_bytes(buf.getvalue())
    with pytest.raises(UnsafeArchiveError, match="special file"):
        extract_archive(tmp_path / "d.tar", tmp_path / "out")


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_corrupt_archives_are_one_line_errors(tmp_path: Path, kind: str) -> None:
    data = ARCHIVE[kind]({"a.bin": bytes(range(256)) * 400})
    truncated = tmp_path / f"t.{kind}"
    truncated.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(CorruptArchiveError, match="corrupt") as e:
        extract_archive(truncated, tmp_path / "out")
    assert "\n" not in str(e.value)
    (tmp_path / "junk.zip").write_bytes(b"this is not an archive")
    with pytest.raises(CorruptArchiveError, match="not a zip or tar archive"):
        extract_archive(tmp_path / "junk.zip", tmp_path / "out2")


def test_bad_crc_in_zip_is_corrupt(tmp_path: Path) -> None:
    data = bytearray(zip_bytes({"a.txt": b"hello world " * 100}))
    i = data.index(b"PK\x03\x04") + 30 + len("a.txt")  # first byte of the compressed data
    data[i + 5] ^= 0xFF
    (tmp_path / "c.zip").write_bytes(bytes(data))
    with pytest.raises(CorruptArchiveError):
        extract_archive(tmp_path / "c.zip", tmp_path / "out")


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_disk_full_is_one_line_and_removes_the_partial_file(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC injected at the one write layer every extracted byte goes through."""

    class FullDisk(io.FileIO):
        budget = 5000

        def write(self, b):  # noqa: ANN001, ANN202
            FullDisk.budget -= len(b)
            if FullDisk.budget < 0:
                raise OSError(errno.ENOSPC, "No space left on device")
            return super().write(b)

    monkeypatch.setattr(i2i.archive, "_open_output", lambda p: FullDisk(p, "wb"))
    archive = write(tmp_path, kind, {"a.bin": b"x" * 4000, "b.bin": b"y" * 4000})
    with pytest.raises(ArchiveError, match="no space left on the device") as e:
        extract_archive(archive, tmp_path / "out")
    assert "\n" not in str(e.value)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.bin"]  # b.bin removed
