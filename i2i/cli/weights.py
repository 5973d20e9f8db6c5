"""``i2i weights list|verify``: the weight files of the metric networks (see
:mod:`i2i.metrics.weights`)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from i2i.cli.common import handle_errors, say
from i2i.errors import ConfigError
from i2i.manager import Context


def register(app: typer.Typer, ctx: Context) -> None:
    w = typer.Typer(
        name="weights",
        help="Weight files of the metric networks: where i2i looks, whether they are here.",
        no_args_is_help=True,
    )
    app.add_typer(w, name="weights")

    @w.command("list")
    @handle_errors
    def list_cmd() -> None:
        """Known weight files, what uses them and where i2i finds them."""
        from i2i.metrics.weights import (
            KNOWN_WEIGHTS,
            WeightsMissingError,
            resolve_weights,
            settings_path,
            weights_dir,
        )

        table = Table(title=f"weights (folder {weights_dir()}, settings {settings_path()})")
        for col in ("name", "file", "found", "used by"):
            table.add_column(col)
        for name, spec in KNOWN_WEIGHTS.items():
            try:
                found = str(resolve_weights(name))
            except WeightsMissingError:
                found = "missing"
            table.add_row(name, spec.filename, found, spec.used_by)
        Console().print(table)

    @w.command("download")
    @handle_errors
    def download_cmd(
        names: list[str] = typer.Argument(None, help="names (i2i weights list); see --all"),
        all_: bool = typer.Option(False, "--all", help="every known weights file"),
        folder: Path = typer.Option(
            None, "--dir", help="where to write (default: the weights folder of i2i weights list)"
        ),
        mirror: str = typer.Option(
            None, "--mirror", help="fetch the same file names from this base URL or local folder"
        ),
        timeout: float = typer.Option(60.0, help="seconds without data before an attempt fails"),
        retries: int = typer.Option(5, help="attempts after the first that may fail"),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="progress bar"),
    ) -> None:
        """Fetch metric / perceptual-loss weights (the files the reference implementations
        download) into the weights folder, resumably, and check their SHA-256. Runs only when
        asked: no metric ever downloads by itself."""
        from i2i.cli.dataset_sources import DownloadBar, human_size
        from i2i.metrics.weights import KNOWN_WEIGHTS, download_weights, known

        if all_ == bool(names):
            raise ConfigError(
                "give weights names or --all, not both and not neither "
                "(e.g. i2i weights download inception; names: i2i weights list)"
            )
        specs = [known(n) for n in (list(KNOWN_WEIGHTS) if all_ else names)]
        with DownloadBar(progress) as bar:
            for spec in specs:
                result = download_weights(
                    spec, folder, mirror=mirror, timeout=timeout, retries=retries, progress=bar
                )
                how = "already there" if result.reused else f"fetched from {result.url}"
                say(
                    f"{spec.name}: {result.path} ({human_size(result.size)}, {how}; "
                    f"SHA-256 {result.sha256})"
                )

    @w.command("verify")
    @handle_errors
    def verify_cmd(
        names: list[str] = typer.Argument(None, help="names to check (default: every file found)"),
    ) -> None:
        """Check the SHA-256 of local weight files against the references' published hashes."""
        from i2i.errors import CheckpointError
        from i2i.metrics.weights import (
            KNOWN_WEIGHTS,
            WeightsMissingError,
            known,
            resolve_weights,
            verify_file,
        )

        bad = []
        for name in names or list(KNOWN_WEIGHTS):
            spec = known(name)
            try:
                path = resolve_weights(name)
            except WeightsMissingError:
                if names:
                    raise
                continue
            ok, digest = verify_file(name, path)
            scope = "SHA-256" if spec.full_hash else f"SHA-256 prefix {spec.sha256}"
            say(f"{name}: {path}: {scope} {'ok' if ok else 'MISMATCH'} ({digest})")
            if not ok:
                bad.append(name)
        if bad:
            raise CheckpointError(
                f"weights with an unexpected SHA-256: {', '.join(bad)}; delete and fetch them again"
            )
