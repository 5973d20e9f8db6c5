"""The download / prepare pipeline: fetch -> verify -> unpack -> convert -> validate -> commit.

Everything happens in a private staging folder next to the target, ``.DIR.i2i-partial/``
(``files/`` downloads, ``extract/`` unpacked archives, ``out/`` the converted dataset); the
dataset appears at ``DIR`` only by one atomic rename once it validated, carrying a marker file
``.i2i-dataset.json`` (source, format, files with their SHA-256). So a crash, a full disk or a
failed check never leaves a half-written dataset at ``DIR``; partial downloads stay in
``files/`` and the next run resumes them. A second run for a complete ``DIR`` fetches nothing:
it validates it and prints the same report.

``DIR`` must be new, empty or a complete dataset of the same source: i2i never writes into a
folder it did not create. A lock (``fcntl``) on the staging folder keeps two processes from
preparing the same ``DIR`` at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import json
import logging
import os
import shlex
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from i2i.errors import (
    ArchiveError,
    ConfigError,
    CorruptArchiveError,
    DatasetError,
    UnknownNameError,
)
from i2i.specs import ConvertJob, DataOptions, DatasetReport, DatasetSource, SourceFile

from .layout import adopt

if TYPE_CHECKING:  # pragma: no cover
    from i2i.download import DownloadResult, LockFile, ProgressCallback
    from i2i.manager import Context

log = logging.getLogger(__name__)

MARKER = ".i2i-dataset.json"
STAGING_SUFFIX = ".i2i-partial"


@dataclasses.dataclass
class PreparedDataset:
    """The outcome of :func:`download_dataset` / :func:`prepare_dataset`.

    Attributes:
        source: The source.
        path: The dataset folder.
        report: The format's validation report.
        train_command: The ``i2i train ...`` command that starts training on it.
        notes: Lines worth printing (what the converter did).
        reused: True when the folder already held it (nothing was fetched or converted).
        files: What it was made from: ``{"name", "url", "sha256", "size"}`` per file.
    """

    source: DatasetSource
    path: Path
    report: DatasetReport
    train_command: str
    notes: list[str]
    reused: bool
    files: list[dict[str, Any]]


# -- sources -----------------------------------------------------------------------------------


def is_url(name: str) -> bool:
    return "://" in name


def resolve_source(ctx: Context, name: str) -> DatasetSource:
    """A catalogue source by full name (``cyclegan/horse2zebra``) or by the part after the last
    ``/`` when only one source has it (``horse2zebra``).

    Raises:
        ConfigError: the short name fits several sources (the message lists them).
        UnknownNameError: no source has that name.
    """
    reg = ctx.dataset_sources
    if name in reg:
        return reg.get(name)
    matches = [n for n in reg.names() if n.rsplit("/", 1)[-1] == name]
    if len(matches) == 1:
        return reg.get(matches[0])
    if matches:
        options = ", ".join(f"{m} ({reg.get(m).format})" for m in matches)
        raise ConfigError(f"dataset '{name}' is ambiguous: {options}; give the full name")
    raise UnknownNameError(
        f"unknown dataset '{name}'; 'i2i datasets list' shows the catalogue, or pass the URL of "
        "a zip/tar archive with --format"
    )


def _adopt_any(job: ConvertJob) -> None:
    """URL archives: the archive is already in the format's layout (wrapper folders skipped)."""
    adopt(job, (), "the archive")


def url_source(
    ctx: Context, url: str, fmt: str, *, sha256: str | None = None, family: str | None = None
) -> DatasetSource:
    """An ad-hoc source for ``i2i datasets download URL DIR --format F``: one archive already in
    format ``fmt``'s layout (below any wrapper folders).

    Raises:
        UnknownNameError: ``fmt`` or ``family`` is not registered.
    """
    from i2i.download import file_name, normalize_sha256

    ctx.dataset_formats.get(fmt)
    if family is not None:
        ctx.models.get(family)
    else:
        family = next((n for n, s in ctx.models.items() if s.dataset_format == fmt), "FAMILY")
    return DatasetSource(
        name=url,
        summary=f"the archive {file_name(url)}",
        family=family,
        format=fmt,
        convert=_adopt_any,
        files=(SourceFile(url, sha256=normalize_sha256(sha256)),),
        origin=url,
    )


def lock_key(source: DatasetSource, file: SourceFile) -> str:
    """The lock-file key of one file: ``url:URL`` for URL downloads, else
    ``dataset:SOURCE/FILE``."""
    if is_url(source.name):
        return f"url:{file.url}"
    return f"dataset:{source.name}/{file.filename}"


def train_command(ctx: Context, source: DatasetSource, path: Path, extra: Sequence[str]) -> str:
    """The ``i2i train FAMILY DIR ...`` command (``--format`` added when it is not the family's
    default)."""
    args = ["i2i", "train", source.family, str(path)]
    spec = ctx.models.get(source.family) if source.family in ctx.models else None
    if spec is not None and spec.dataset_format != source.format:
        args += ["--format", source.format]
    elif spec is None and source.family == "FAMILY":
        args += ["--format", source.format]
    return " ".join(shlex.quote(a) for a in [*args, *extra])


# -- validation --------------------------------------------------------------------------------


def validate(ctx: Context, fmt: str, root: Path, params: dict[str, Any]) -> DatasetReport:
    """Run format ``fmt``'s validation (train split, any size) as ``i2i datasets check`` does.

    Raises:
        DatasetError: the folder is not a valid dataset of that format.
    """
    spec = ctx.dataset_formats.get(fmt)
    options = DataOptions(
        split="train",
        size=0,
        load_size=0,
        channels={k: 3 for k in spec.keys},
        load_image=ctx.load_image,
        params=params,
    )
    report = spec.validate(root, options)
    if not report.ok:
        raise DatasetError("; ".join(report.problems))
    return report


# -- the target folder and the staging area ----------------------------------------------------


def _read_marker(dest: Path) -> dict[str, Any] | None:
    path = dest / MARKER
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _check_dest(dest: Path, source: DatasetSource) -> dict[str, Any] | None:
    """The marker when ``dest`` already holds this source; None when ``dest`` is new or empty.

    Raises:
        DatasetError: ``dest`` is a file, holds another dataset, or is a non-empty folder.
    """
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise DatasetError(f"'{dest}' exists and is not a folder; choose a new folder for DIR")
    if not dest.exists():
        return None
    marker = _read_marker(dest)
    if marker is not None:
        if marker.get("source") == source.name and marker.get("format") == source.format:
            return marker
        raise DatasetError(
            f"'{dest}' already holds the dataset {marker.get('source')!r} "
            f"(format {marker.get('format')!r}); choose another folder for {source.name}"
        )
    if any(dest.iterdir()):
        raise DatasetError(
            f"'{dest}' exists and is not empty; i2i writes a dataset only into a new or empty "
            "folder: choose another DIR or move that folder away"
        )
    return None


class _Staging:
    """``.DIR.i2i-partial/``: files/ (downloads), extract/, scratch/ and out/; locked."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.root = dest.parent / f".{dest.name}{STAGING_SUFFIX}"
        self.files = self.root / "files"
        self.extract = self.root / "extract"
        self.scratch = self.root / "scratch"
        self.out = self.root / "out"
        self._lock_fd: int | None = None

    def _derived(self) -> tuple[Path, ...]:
        return (self.extract, self.scratch, self.out)

    def __enter__(self) -> _Staging:
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock()
        for p in self._derived():  # left over by a crash: rebuilt from the downloads
            _remove(p)
        self.extract.mkdir()
        return self

    def _lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no cross-process lock
            return
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise DatasetError(
                f"another i2i process is preparing '{self.dest}' (its staging folder "
                f"'{self.root}' is locked); wait for it to finish"
            ) from None
        self._lock_fd = fd

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        for p in self._derived():
            _remove(p)
        keep = exc is not None and self.files.is_dir() and any(self.files.iterdir())
        if self._lock_fd is not None:
            os.close(self._lock_fd)
        if not keep:
            _remove(self.root)

    def commit(self, marker: dict[str, Any]) -> None:
        """Write the marker into out/ and rename out/ to DIR (atomically)."""
        (self.out / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        if self.dest.is_dir():
            self.dest.rmdir()  # empty (checked before)
        self.out.rename(self.dest)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def _unpack(archive: Path, dest: Path, *, ours: bool) -> Path:
    """Unpack one archive below ``dest``; a corrupt archive we downloaded is deleted. A file
    that is no archive by name or content (e.g. a single data file) is copied into ``dest``."""
    from i2i.archive import archive_kind, extract_archive, looks_like_archive

    if archive_kind(archive) is None and not looks_like_archive(archive):
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(archive, dest / archive.name)
        return dest
    log.info("unpacking %s", archive.name)
    try:
        extract_archive(archive, dest)
    except CorruptArchiveError as e:
        if ours:
            archive.unlink(missing_ok=True)
            raise CorruptArchiveError(
                f"{e}: it was deleted, run the same command to download it again"
            ) from None
        raise
    return dest


def _build(
    ctx: Context,
    source: DatasetSource,
    st: _Staging,
    inputs: list[Path],
    movable: list[Path],
    files: list[dict[str, Any]],
) -> PreparedDataset:
    st.out.mkdir()
    job = ConvertJob(
        inputs,
        st.out,
        movable=movable,
        params=source.params,
        train_args=source.train_args,
        scratch=st.scratch,
    )
    log.info("converting %s to the '%s' format", source.name, source.format)
    source.convert(job)
    log.info("validating the '%s' dataset", source.format)
    try:
        report = validate(ctx, source.format, st.out, job.params)
    except DatasetError as e:
        hint = (
            f" (is the archive in the '{source.format}' layout? see docs/datasets.md)"
            if is_url(source.name)
            else ""
        )
        raise DatasetError(
            f"{source.name} did not become a valid '{source.format}' dataset{hint}: {e}; "
            f"nothing was written to '{st.dest}'"
        ) from None
    marker = {
        "source": source.name,
        "format": source.format,
        "family": source.family,
        "params": job.params,
        "train_args": job.train_args,
        "notes": job.notes,
        "files": files,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    st.commit(marker)
    report.root = st.dest
    return PreparedDataset(
        source,
        st.dest,
        report,
        train_command(ctx, source, st.dest, job.train_args),
        list(job.notes),
        False,
        files,
    )


def _existing(
    ctx: Context, source: DatasetSource, dest: Path, marker: dict[str, Any]
) -> PreparedDataset:
    staging = dest.parent / f".{dest.name}{STAGING_SUFFIX}"
    if staging.is_dir():  # a crash after the rename left it
        shutil.rmtree(staging, ignore_errors=True)
    params = marker.get("params") or {}
    report = validate(ctx, source.format, dest, dict(params))
    args = [str(a) for a in marker.get("train_args") or []]
    notes = [f"'{dest}' already holds {source.name} (made {marker.get('created', '?')}); "
             "nothing was downloaded"]  # fmt: skip
    return PreparedDataset(
        source, dest, report, train_command(ctx, source, dest, args), notes, True,
        list(marker.get("files") or []),
    )  # fmt: skip


@contextlib.contextmanager
def _staging(dest: Path) -> Iterator[_Staging]:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _Staging(dest) as st:
        yield st


# -- the two entry points ----------------------------------------------------------------------


def download_dataset(
    ctx: Context,
    source: DatasetSource,
    dest: str | os.PathLike[str],
    *,
    mirror: str | None = None,
    timeout: float = 60.0,
    retries: int = 5,
    backoff: float = 1.0,
    lock: LockFile | None = None,
    archives: str | os.PathLike[str] | None = None,
    progress: ProgressCallback | None = None,
) -> PreparedDataset:
    """Download a source's files, verify them, unpack, convert, validate and commit to ``dest``.

    Args:
        ctx: The plugin context (formats for validation, families for the command).
        source: A catalogue source (:func:`resolve_source`) or :func:`url_source`.
        dest: The dataset folder to create.
        mirror: Fetch each file name from this base URL or local folder instead.
        timeout: Seconds without a connection or data before a try fails.
        retries: Tries after the first one (see :func:`i2i.download.download`).
        backoff: First pause between tries in seconds.
        lock: Lock file checked (and, after success, updated) with each file's SHA-256.
        archives: Keep the downloaded archives in this folder (and reuse them from there);
            by default they are deleted once the dataset is complete.
        progress: Download progress callback.

    Raises:
        DownloadError: see :func:`i2i.download.download`; also for sources that must be
            downloaded by hand (the message says to use ``prepare``).
        ArchiveError: corrupt or unsafe archive, disk full while unpacking.
        DatasetError: ``dest`` is not new/empty, or the result does not validate.
    """
    from i2i.download import DownloadError, download

    dest = Path(dest)
    marker = _check_dest(dest, source)
    if marker is not None:
        return _existing(ctx, source, dest, marker)
    if not source.downloadable:
        raise DownloadError(
            f"{source.name} cannot be downloaded directly (it needs an account or the "
            f"acceptance of terms: {source.terms_url}); get the files as 'i2i datasets info "
            f"{source.name}' explains, then run 'i2i datasets prepare {source.name} {dest} FROM...'"
        )
    expected_from = "--sha256" if is_url(source.name) else "the catalogue"
    with _staging(dest) as st:
        folder = Path(archives) if archives is not None else st.files
        results: list[tuple[str, DownloadResult]] = []
        for f in source.files:
            key = lock_key(source, f)
            result = download(
                f.url,
                folder / f.filename,
                sha256=f.sha256,
                size=f.size,
                mirror=mirror,
                timeout=timeout,
                retries=retries,
                backoff=backoff,
                progress=progress,
                lock=lock,
                lock_key=key,
                expected_from=expected_from,
            )
            results.append((key, result))
        inputs = []
        for i, (_, r) in enumerate(results):
            inputs.append(_unpack(r.path, st.extract / f"{i}-{r.path.name}", ours=archives is None))
        files = [
            {"name": r.path.name, "url": r.url, "sha256": r.sha256, "size": r.size}
            for _, r in results
        ]
        prepared = _build(ctx, source, st, inputs, [st.extract], files)
        if lock is not None:
            for key, r in results:
                lock.record(key, r)
    return prepared


def prepare_dataset(
    ctx: Context,
    source: DatasetSource,
    dest: str | os.PathLike[str],
    inputs: Sequence[str | os.PathLike[str]],
) -> PreparedDataset:
    """Convert files the user downloaded into ``dest`` (unpack, convert, validate, commit).

    Each input is an archive (unpacked into the staging area) or a folder: its files are read
    (copied, never moved or changed), and archives in it named like the source's files
    (``manual_files``, ``files``) are unpacked too. No hashes are checked: prepare trusts the
    files it is given.

    Raises:
        DatasetError: an input is missing or inside ``dest``, ``dest`` is not new/empty, or the
            result does not validate.
        ArchiveError: an input archive is corrupt or unsafe, or the disk filled up.
    """
    from i2i.archive import archive_kind

    dest = Path(dest)
    paths = [Path(p) for p in inputs]
    if not paths:
        raise DatasetError(f"give the downloaded files or folders of {source.name} (FROM...)")
    for p in paths:
        if not p.exists():
            raise DatasetError(f"input '{p}' does not exist")
        real, dreal = p.resolve(), dest.resolve()
        if real == dreal or dreal in real.parents:
            raise DatasetError(f"input '{p}' lies inside the target '{dest}'; choose another DIR")
    marker = _check_dest(dest, source)
    if marker is not None:
        return _existing(ctx, source, dest, marker)
    wanted = {*source.manual_files, *(f.filename for f in source.files)}
    with _staging(dest) as st:
        roots: list[Path] = []
        files: list[dict[str, Any]] = []
        archives = []
        for p in paths:
            if p.is_dir():
                roots.append(p)
                archives += [p / n for n in sorted(wanted) if (p / n).is_file()]
                files.append({"name": p.name, "url": p.resolve().as_uri()})
            elif archive_kind(p) is None:
                raise ArchiveError(
                    f"input '{p}' is neither a folder nor a zip/tar archive (or it is corrupt)"
                )
            else:
                archives.append(p)
        for i, a in enumerate(archives):
            roots.append(_unpack(a, st.extract / f"{i}-{a.name}", ours=False))
            files.append({"name": a.name, "url": a.resolve().as_uri(), "size": a.stat().st_size})
        return _build(ctx, source, st, roots, [st.extract], files)
