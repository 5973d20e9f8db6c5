"""Safe extraction of zip and tar archives (``.tar``, ``.tar.gz``, ``.tgz``, ``.tar.bz2``,
``.tar.xz``), in one place.

:func:`extract_archive` refuses, before writing it, any member that would land outside the
destination: absolute paths (``/etc/x``, ``C:\\x``), ``..`` components, symbolic or hard links
whose target lies outside (or a member written *through* such a link), device files and FIFOs.
For tar archives Python's ``tarfile.data_filter`` (PEP 706) checks every member as well where
the running Python has it; zip archives get the same rules from this module (zip symlinks are
honoured only when they stay inside). The archive type is read from the file's content, not its
name.

Every file is streamed through one writer (:func:`_open_output`), so a full disk is reported as
one :class:`~i2i.errors.ArchiveError` line saying how much space the archive needs, and the file
being written is removed. Extraction is not atomic by itself: extract into a private staging
folder and rename it when everything succeeded (as ``i2i datasets download`` does).

Example:
    >>> from i2i.archive import extract_archive
    >>> stats = extract_archive("horse2zebra.zip", "staging/extract")  # doctest: +SKIP
    >>> stats.files, stats.bytes  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import errno
import os
import posixpath
import re
import shutil
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import IO

from i2i.errors import ArchiveError, CorruptArchiveError, UnsafeArchiveError

_CHUNK = 1 << 20
_DISK_FULL = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG})
_DRIVE = re.compile(r"^[A-Za-z]:")
_ARCHIVE_SUFFIXES = (".zip", ".tar", ".tgz", ".tar.gz", ".tar.bz2", ".tar.xz", ".tbz2", ".txz")


@dataclasses.dataclass(frozen=True)
class ExtractStats:
    """What :func:`extract_archive` wrote: regular files, their bytes, links, folders."""

    files: int
    bytes: int
    links: int = 0
    dirs: int = 0


def archive_kind(path: str | os.PathLike[str]) -> str | None:
    """``"zip"``, ``"tar"`` (any compression tarfile reads) or None, from the file's content."""
    path = Path(path)
    if not path.is_file():
        return None
    if zipfile.is_zipfile(path):
        return "zip"
    try:
        if tarfile.is_tarfile(path):
            return "tar"
    except (OSError, EOFError, zlib.error, tarfile.TarError):
        return None
    return None


def looks_like_archive(path: str | os.PathLike[str]) -> bool:
    """True for names ending in .zip, .tar, .tgz, .tar.gz, .tar.bz2, .tar.xz, .tbz2, .txz."""
    name = Path(path).name.lower()
    return name.endswith(_ARCHIVE_SUFFIXES)


def _open_output(path: Path) -> IO[bytes]:
    """The writer every extracted file goes through (one place to fail on a full disk)."""
    return open(path, "wb")


def _unsafe(archive: Path, member: str, why: str) -> UnsafeArchiveError:
    return UnsafeArchiveError(
        f"refusing to unpack '{archive.name}': member {member!r} {why}; the archive is unsafe "
        "(nothing of it is used): get the file from a trusted source"
    )


def _safe_relpath(archive: Path, name: str) -> str:
    """The member's relative POSIX path, or UnsafeArchiveError."""
    if "\x00" in name:
        raise _unsafe(archive, name, "has a NUL byte in its name")
    unified = name.replace("\\", "/")
    if unified.startswith("/") or _DRIVE.match(unified):
        raise _unsafe(archive, name, "has an absolute path")
    parts = [p for p in unified.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _unsafe(archive, name, "has a '..' component (it would land outside the folder)")
    return "/".join(parts)


def _inside(root_real: str, path: str) -> bool:
    real = os.path.realpath(path)
    return real == root_real or real.startswith(root_real + os.sep)


def _check_link(archive: Path, name: str, rel: str, target: str, *, hard: bool) -> str:
    """The link target relative to the root (hard links: relative to the root already)."""
    unified = target.replace("\\", "/")
    if not unified or unified.startswith("/") or _DRIVE.match(unified):
        raise _unsafe(archive, name, f"is a link to the absolute path {target!r}")
    base = "" if hard else posixpath.dirname(rel)
    joined = posixpath.normpath(posixpath.join(base, unified))
    if joined == ".." or joined.startswith("../"):
        raise _unsafe(archive, name, f"is a link to {target!r}, outside the destination")
    return joined


class _Writer:
    """Writes members below ``dest`` and counts them."""

    def __init__(self, archive: Path, dest: Path, total: int | None) -> None:
        self.archive = archive
        self.dest = dest
        self.root_real = os.path.realpath(dest)
        self.total = total
        self.files = self.bytes = self.links = self.dirs = 0

    def target(self, name: str, rel: str) -> Path:
        path = self.dest / rel
        if not _inside(self.root_real, str(path.parent)):
            raise _unsafe(self.archive, name, "would be written through a link outside")
        if path.is_symlink():
            raise _unsafe(self.archive, name, "would overwrite a link")
        return path

    def mkdir(self, name: str, rel: str) -> None:
        if not rel:
            return
        path = self.target(name, rel)
        path.mkdir(parents=True, exist_ok=True)
        self.dirs += 1

    def file(self, name: str, rel: str, src: IO[bytes]) -> None:
        path = self.target(name, rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not _inside(self.root_real, str(path.parent)):
            raise _unsafe(self.archive, name, "would be written through a link outside")
        try:
            with _open_output(path) as out:
                while chunk := src.read(_CHUNK):
                    out.write(chunk)
                    self.bytes += len(chunk)
        except OSError as e:
            path.unlink(missing_ok=True)
            if e.errno in _DISK_FULL:
                need = f"; it unpacks to {self.total / 1e6:.1f} MB" if self.total else ""
                raise ArchiveError(
                    f"no space left on the device while unpacking '{self.archive.name}' into "
                    f"'{self.dest}' ({self.bytes / 1e6:.1f} MB written{need}); free some space "
                    "and run the command again"
                ) from None
            raise
        self.files += 1

    def symlink(self, name: str, rel: str, target: str) -> None:
        resolved = _check_link(self.archive, name, rel, target, hard=False)
        path = self.target(name, rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not _inside(self.root_real, str(self.dest / resolved)):
            raise _unsafe(self.archive, name, f"is a link to {target!r}, outside the destination")
        if path.exists() or path.is_symlink():
            path.unlink()
        os.symlink(target, path)
        self.links += 1

    def hardlink(self, name: str, rel: str, target: str) -> None:
        resolved = _check_link(self.archive, name, rel, target, hard=True)
        src = self.dest / resolved
        if not _inside(self.root_real, str(src)) or not src.is_file():
            raise _unsafe(self.archive, name, f"is a hard link to {target!r}, not a file inside")
        with open(src, "rb") as f:  # a copy: the archive's links never alias files outside
            self.file(name, rel, f)
        self.files -= 1
        self.links += 1

    def stats(self) -> ExtractStats:
        return ExtractStats(self.files, self.bytes, self.links, self.dirs)


def _corrupt(archive: Path, e: BaseException) -> CorruptArchiveError:
    return CorruptArchiveError(
        f"archive '{archive.name}' is corrupt or truncated ({type(e).__name__}: {e}); "
        "download it again"
    )


def _check_space(archive: Path, dest: Path, total: int) -> None:
    free = shutil.disk_usage(dest).free
    if total > free:
        raise ArchiveError(
            f"'{archive.name}' unpacks to {total / 1e6:.1f} MB but only {free / 1e6:.1f} MB are "
            f"free where '{dest}' is; free some space and run the command again"
        )


def _extract_zip(archive: Path, dest: Path) -> ExtractStats:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        total = sum(i.file_size for i in infos)
        _check_space(archive, dest, total)
        w = _Writer(archive, dest, total)
        for info in infos:
            rel = _safe_relpath(archive, info.filename)
            mode = info.external_attr >> 16
            if info.is_dir() or stat.S_ISDIR(mode):
                w.mkdir(info.filename, rel)
            elif stat.S_ISLNK(mode):
                target = zf.read(info).decode("utf-8", "surrogateescape")
                w.symlink(info.filename, rel, target)
            elif mode and not stat.S_ISREG(mode) and stat.S_IFMT(mode):
                raise _unsafe(archive, info.filename, "is not a regular file, folder or link")
            elif rel:
                with zf.open(info) as src:
                    w.file(info.filename, rel, src)
        return w.stats()


def _data_filter(archive: Path, member: tarfile.TarInfo, dest: Path) -> None:
    check = getattr(tarfile, "data_filter", None)
    if check is None:  # Python without PEP 706: this module's own checks apply alone
        return
    try:
        check(member, str(dest))
    except tarfile.FilterError as e:
        raise _unsafe(archive, member.name, f"is refused by tarfile's data filter ({e})") from None


def _extract_tar(archive: Path, dest: Path) -> ExtractStats:
    w = _Writer(archive, dest, None)
    with tarfile.open(archive, mode="r:*") as tf:
        for member in tf:
            rel = _safe_relpath(archive, member.name)
            if member.issym():
                _check_link(archive, member.name, rel, member.linkname, hard=False)
            elif member.islnk():
                _check_link(archive, member.name, rel, member.linkname, hard=True)
            elif not (member.isreg() or member.isdir()):
                raise _unsafe(archive, member.name, "is a device file, FIFO or other special file")
            _data_filter(archive, member, dest)
            if member.isdir():
                w.mkdir(member.name, rel)
            elif member.issym():
                w.symlink(member.name, rel, member.linkname)
            elif member.islnk():
                w.hardlink(member.name, rel, member.linkname)
            elif rel:
                src = tf.extractfile(member)
                if src is None:  # pragma: no cover - regular members always have data
                    raise _corrupt(archive, ValueError(f"no data for {member.name!r}"))
                with src:
                    w.file(member.name, rel, src)
    return w.stats()


def extract_archive(archive: str | os.PathLike[str], dest: str | os.PathLike[str]) -> ExtractStats:
    """Unpack a zip or tar archive below ``dest``, refusing unsafe members.

    Args:
        archive: The archive file (type detected from its content).
        dest: Destination folder (created); use a private staging folder and rename it when
            done, since a failure leaves what was unpacked so far.

    Returns:
        :class:`ExtractStats`.

    Raises:
        UnsafeArchiveError: a member with an absolute path, a ``..`` component, a link outside
            ``dest``, or a special file.
        ArchiveError: the file is not a zip/tar archive, is corrupt or truncated, or the disk
            filled up (the message says how much the archive needs).
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise ArchiveError(f"archive '{archive}' does not exist")
    dest.mkdir(parents=True, exist_ok=True)
    kind = archive_kind(archive)
    if kind is None:
        raise CorruptArchiveError(
            f"'{archive.name}' is not a zip or tar archive (or it is corrupt); expected .zip, "
            ".tar, .tar.gz, .tgz, .tar.bz2 or .tar.xz"
        )
    try:
        return _extract_zip(archive, dest) if kind == "zip" else _extract_tar(archive, dest)
    except (ArchiveError, UnsafeArchiveError):
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, tarfile.TarError, EOFError, zlib.error) as e:
        raise _corrupt(archive, e) from None
    except OSError as e:
        if e.errno in _DISK_FULL:
            raise ArchiveError(
                f"no space left on the device while unpacking '{archive.name}' into '{dest}'; "
                "free some space and run the command again"
            ) from None
        if e.errno is None:  # gzip/bz2/lzma decoding errors are OSErrors without an errno
            raise _corrupt(archive, e) from None
        raise ArchiveError(f"cannot unpack '{archive.name}' into '{dest}': {e}") from None


__all__ = [
    "ExtractStats",
    "archive_kind",
    "extract_archive",
    "looks_like_archive",
]
