"""``i2i datasets list | info | download | prepare``: the dataset catalogue.

The work is done by :mod:`i2i.datasets.sources` (pipeline) and :mod:`i2i.download`; this module
parses options, draws the download progress bar (bytes, speed, ETA) and prints the validation
report and the ``i2i train`` command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from i2i.cli.common import check_summary, err_console, handle_errors, say
from i2i.errors import ConfigError
from i2i.manager import Context
from i2i.specs import DatasetSource


class DownloadBar:
    """A rich progress bar per downloaded file, fed by :func:`i2i.download.download`."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.progress: Any = None
        self.tasks: dict[Path, Any] = {}

    def __enter__(self) -> DownloadBar:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self.progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=err_console,
            )
            self.progress.start()
        return self

    def __call__(self, event: Any) -> None:
        if self.progress is None:
            return
        task = self.tasks.get(event.dest)
        if task is None:
            task = self.progress.add_task(event.dest.name, total=event.total)
            self.tasks[event.dest] = task
        self.progress.update(task, completed=event.done, total=event.total)

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.stop()


def human_size(n: int) -> str:
    """``1234567`` -> ``"1.2 MB"`` (decimal units)."""
    for unit, step in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= step:
            return f"{n / step:.1f} {unit}"
    return f"{n} B"


def _print_result(prepared: Any) -> None:
    for f in prepared.files:
        if prepared.reused:
            break
        size = f" {human_size(f['size'])}" if f.get("size") is not None else ""
        sha = f", SHA-256 {f['sha256']}" if f.get("sha256") else ""
        say(f"  {f['name']}{size}{sha}")
    for note in prepared.notes:
        say(f"  {note}")
    say(check_summary(prepared.path, prepared.source.format, prepared.report))
    say(f"train with: {prepared.train_command}")


def _row_get(source: DatasetSource) -> str:
    return "download" if source.downloadable else "prepare"


def _info_lines(ctx: Context, source: DatasetSource) -> list[str]:
    lines = [
        f"{source.name}: {source.summary}",
        f"  family {source.family}, format {source.format}, size {source.size or 'unknown'}",
        f"  licence: {source.licence or 'see the terms'} ({source.terms_url or 'no link'})",
        f"  origin: {source.origin or 'unknown'}",
        f"  registered by plugin '{ctx.dataset_sources.owner(source.name)}'",
    ]
    for f in source.files:
        lines.append(f"  file {f.filename}: {f.url}")
        size = f"{f.size} bytes" if f.size is not None else "size unknown"
        if f.sha256:
            lines.append(f"    {size}, SHA-256 {f.sha256} (from {f.checksum_origin or '?'})")
        else:
            lines.append(f"    {size}, SHA-256 unknown: the lock file records the first download's")
    if source.manual:
        lines.append("  how to get it:" if not source.files else "  from the official files:")
        lines += [f"    {line}" for line in source.manual.splitlines()]
    return lines


def register(ds: typer.Typer, ctx: Context) -> None:
    """Add ``list``, ``info``, ``download`` and ``prepare`` to the ``datasets`` group."""
    console = Console()

    @ds.command("list")
    @handle_errors
    def list_cmd(
        format: str = typer.Option(None, "--format", "-f", help="only this dataset format"),  # noqa: A002
        family: str = typer.Option(None, "--family", help="only datasets of this model family"),
    ) -> None:
        """List the dataset catalogue (built-in and plugin sources): name, family, format,
        size, how to get it, licence / terms and origin."""
        rows = [
            (n, s)
            for n, s in ctx.dataset_sources.items()
            if not (format and s.format != format) and not (family and s.family != family)
        ]
        width = max((len(n) for n, _ in rows), default=4)
        header = f"{'name':<{width}}  {'family':<9} {'format':<14} {'size':<9} get"
        console.print(header, style="bold", highlight=False)
        for name, s in rows:
            console.print(
                f"{name:<{width}}  {s.family:<9} {s.format:<14} {s.size or '?':<9} {_row_get(s)}",
                highlight=False,
            )
            for line in (
                s.summary,
                f"licence: {s.licence or 'see the terms'}  {s.terms_url}".rstrip(),
                f"origin: {s.origin}" if s.origin else "",
            ):
                if line:
                    console.print(f"    {escape(line)}", highlight=False, soft_wrap=True)
        console.print(
            "get = download: 'i2i datasets download NAME DIR'; prepare: needs an account or the "
            "acceptance of terms ('i2i datasets info NAME' says which files to get, then 'i2i "
            "datasets prepare NAME DIR FROM...'). A name's last part works alone when unique "
            "(horse2zebra).",
            highlight=False,
        )

    @ds.command("info")
    @handle_errors
    def info_cmd(name: str = typer.Argument(..., metavar="NAME", help="catalogue name")) -> None:
        """Show a source's files, hashes, licence and how to get it."""
        from i2i.datasets.sources import resolve_source

        source = resolve_source(ctx, name)
        for line in _info_lines(ctx, source):
            console.print(escape(line), highlight=False, soft_wrap=True)

    @ds.command("download")
    @handle_errors
    def download_cmd(
        name: str = typer.Argument(
            ..., metavar="NAME|URL", help="catalogue name (i2i datasets list) or archive URL"
        ),
        out: Path = typer.Argument(..., metavar="DIR", help="new folder for the dataset"),
        format: str = typer.Option(  # noqa: A002
            None, "--format", "-f", help="URL downloads: the archive's dataset format"
        ),
        sha256: str = typer.Option(None, "--sha256", help="URL downloads: expected SHA-256"),
        family: str = typer.Option(
            None, "--family", help="URL downloads: model family for the printed train command"
        ),
        mirror: str = typer.Option(
            None, "--mirror", help="fetch the same file names from this base URL or local folder"
        ),
        timeout: float = typer.Option(60.0, help="seconds without a connection or data"),
        retries: int = typer.Option(5, help="tries after the first one that may fail"),
        backoff: float = typer.Option(
            1.0, help="seconds to wait before the first retry (doubled each time, at most 60)"
        ),
        lock: Path = typer.Option(
            None,
            "--lock",
            help="lock file of SHA-256s [default: $I2I_DOWNLOAD_LOCK or "
            "~/.config/i2i/downloads.lock.json]",
        ),
        archives: Path = typer.Option(
            None, "--archives", help="keep (and reuse) the downloaded archives in this folder"
        ),
        no_progress: bool = typer.Option(False, "--no-progress", help="no progress bar"),
    ) -> None:
        """Download a dataset, verify it, convert it to an i2i format and validate it.

        Resumable (run it again after an interruption), retried with backoff, checked against
        the catalogue's SHA-256 (when known) and the lock file; the dataset appears in DIR only
        when complete and valid.
        """
        from i2i.datasets.sources import download_dataset, is_url, resolve_source, url_source
        from i2i.download import LockFile, default_lock_path

        if is_url(name):
            if not format:
                raise ConfigError(
                    "a URL download needs --format (the archive's layout): "
                    f"{', '.join(ctx.dataset_formats.names())}"
                )
            source = url_source(ctx, name, format, sha256=sha256, family=family)
        else:
            url_only = (("--format", format), ("--sha256", sha256), ("--family", family))
            given = [option for option, value in url_only if value]
            if given:
                raise ConfigError(
                    f"{', '.join(given)} apply to URL downloads only; catalogue datasets have "
                    "their own (see 'i2i datasets info NAME')"
                )
            source = resolve_source(ctx, name)
        if timeout <= 0 or retries < 0 or backoff < 0:
            raise ConfigError("--timeout must be > 0, --retries and --backoff >= 0")
        if not source.downloadable:
            for line in _info_lines(ctx, source):
                say(line)
        say(f"{source.name} -> {out} ('{source.format}' format)")
        with DownloadBar(not no_progress and err_console.is_terminal) as bar:
            prepared = download_dataset(
                ctx,
                source,
                out,
                mirror=mirror,
                timeout=timeout,
                retries=retries,
                backoff=backoff,
                lock=LockFile(lock or default_lock_path()),
                archives=archives,
                progress=bar,
            )
        _print_result(prepared)

    @ds.command("prepare")
    @handle_errors
    def prepare_cmd(
        name: str = typer.Argument(..., metavar="NAME", help="catalogue name"),
        out: Path = typer.Argument(..., metavar="DIR", help="new folder for the dataset"),
        inputs: list[Path] = typer.Argument(
            ..., metavar="FROM...", help="the downloaded archives, or folders holding them"
        ),
    ) -> None:
        """Convert files you downloaded (e.g. after accepting a dataset's terms) into an i2i
        dataset, then validate it."""
        from i2i.datasets.sources import prepare_dataset, resolve_source

        source = resolve_source(ctx, name)
        say(f"{source.name} -> {out} ('{source.format}' format) from {len(inputs)} input(s)")
        prepared = prepare_dataset(ctx, source, out, inputs)
        _print_result(prepared)
