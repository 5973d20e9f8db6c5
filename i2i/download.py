"""Safe, resumable HTTP(S) downloads with size and SHA-256 checks (standard library only).

:func:`download` fetches one URL to a file:

- streams in chunks to ``DEST.part`` (never holding the file in memory) and reports progress
  through a callback (``progress(DownloadProgress)``; the CLI draws a bar with bytes, speed and
  ETA from it; this module prints nothing);
- resumes a partial ``DEST.part`` with an HTTP range request (``Range: bytes=N-``, with
  ``If-Range`` when the server gave an ``ETag`` or ``Last-Modified``) — after a dropped
  connection, a timeout, or a crash of an earlier run; a server that ignores ranges is read from
  the start again;
- retries timeouts, dropped connections and HTTP 408/429/5xx with exponential backoff
  (``backoff * 2**k`` seconds, at most 60); a connection that made progress starts the count
  again, so a long download on a flaky link still completes; other HTTP errors (404, 403, ...)
  fail at once;
- checks the size (when known) and the SHA-256 (when known: the ``sha256`` argument or an entry
  of a :class:`LockFile`) *before* the file gets its final name, then renames ``DEST.part`` to
  ``DEST`` atomically: ``DEST`` exists only complete and verified;
- ``mirror``: fetch the same file name from another base URL, or from a local folder.

:class:`LockFile` records the SHA-256 of what was fetched under a key of the caller's choice (a
dataset file, a weights file), so a later download of the same key must give the same bytes
(trust on first use, as SSH's known_hosts); a mismatch is a :class:`~i2i.errors.DownloadError`
that names both hashes.

Nothing here runs at import time; nothing in i2i downloads during training.

Example:
    >>> from i2i.download import LockFile, download, default_lock_path
    >>> lock = LockFile(default_lock_path())  # doctest: +SKIP
    >>> result = download(  # doctest: +SKIP
    ...     "https://example.org/weights/inception.pth",
    ...     "weights/inception.pth",
    ...     sha256=None,              # or the published hash
    ...     lock=lock, lock_key="weights:inception",
    ... )
    >>> lock.record("weights:inception", result)  # doctest: +SKIP
    >>> result.sha256, result.size, result.reused  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import errno
import hashlib
import http.client
import json
import logging
import os
import re
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from i2i.errors import DownloadError, UnreachableError

log = logging.getLogger(__name__)

#: Bytes read per chunk.
CHUNK_SIZE = 1 << 20
#: URL schemes :func:`download` accepts.
SCHEMES = ("http", "https", "file")
#: Environment variable naming the lock file (else :func:`default_lock_path`'s default).
LOCK_ENV = "I2I_DOWNLOAD_LOCK"
_MAX_BACKOFF = 60.0
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_DISK_FULL = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG})


@dataclasses.dataclass(frozen=True)
class DownloadProgress:
    """One progress report.

    Attributes:
        url: The URL being fetched (the mirror's, when a mirror is used).
        dest: The final path.
        done: Bytes on disk so far (including bytes of an earlier, resumed attempt).
        total: Size of the file, or None when the server does not say.
        resumed_from: Bytes that were already on disk when this attempt started.
    """

    url: str
    dest: Path
    done: int
    total: int | None
    resumed_from: int = 0


@dataclasses.dataclass(frozen=True)
class DownloadResult:
    """What :func:`download` produced.

    Attributes:
        path: The complete, verified file.
        url: Where it came from (the mirror URL when a mirror was used).
        sha256: Its SHA-256 (hex).
        size: Its size in bytes.
        reused: True when ``path`` already existed (nothing was fetched; it was hashed and
            checked).
        resumed: True when a partial download was continued with a range request.
    """

    path: Path
    url: str
    sha256: str
    size: int
    reused: bool = False
    resumed: bool = False


ProgressCallback = Callable[[DownloadProgress], None]


def normalize_sha256(value: str | None) -> str | None:
    """Lower-case a SHA-256 hex digest.

    Raises:
        DownloadError: not 64 hex digits.
    """
    if value is None:
        return None
    text = value.strip().lower()
    if not _SHA256_RE.match(text):
        raise DownloadError(f"a SHA-256 is 64 hex digits, got {value!r}")
    return text


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_SIZE):
            h.update(chunk)
    return h.hexdigest()


def file_name(url: str) -> str:
    """The last path component of a URL (``.../a/b.zip?x=1`` -> ``b.zip``).

    Raises:
        DownloadError: the URL path has no file name.
    """
    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    if not name or name in (".", ".."):
        raise DownloadError(f"URL {url!r} does not end in a file name")
    return name


def mirror_url(url: str, base: str) -> str:
    """The URL of the same file name under ``base``: a base URL or a local folder.

    Example:
        >>> mirror_url("https://host/x/horse2zebra.zip", "http://proxy/cache/")
        'http://proxy/cache/horse2zebra.zip'
    """
    name = urllib.parse.quote(file_name(url))
    if "://" not in base:  # a local folder
        return Path(base).expanduser().resolve().as_uri().rstrip("/") + "/" + name
    return base.rstrip("/") + "/" + name


def _check_scheme(url: str) -> None:
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        raise DownloadError(
            f"cannot download {url!r}: only {', '.join(s + '://' for s in SCHEMES)} URLs are "
            "supported"
        )


def _disk_full(e: OSError, path: Path, done: int) -> DownloadError:
    return DownloadError(
        f"no space left on the device while writing '{path}' ({done} bytes so far); free some "
        "space and run the same command again to resume"
    )


# -- lock file ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LockEntry:
    """What a :class:`LockFile` recorded for one key."""

    sha256: str
    size: int
    url: str
    recorded: str


def default_lock_path() -> Path:
    """``$I2I_DOWNLOAD_LOCK``, else ``$XDG_CONFIG_HOME/i2i/downloads.lock.json`` (``~/.config``
    when unset)."""
    env = os.environ.get(LOCK_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "i2i" / "downloads.lock.json"


class LockFile:
    """A JSON file recording the SHA-256 of what was downloaded, by key.

    Format: ``{"version": 1, "files": {KEY: {"sha256", "size", "url", "recorded"}}}``. Writes are
    atomic (a temporary file renamed over the old one). Keys are the caller's: e.g.
    ``"dataset:cyclegan/horse2zebra/horse2zebra.zip"`` or ``"url:https://..."``.

    Args:
        path: The lock file (created on the first :meth:`record`).
    """

    VERSION = 1

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def _read(self) -> dict[str, Any]:
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            files = data["files"]
            if not isinstance(files, dict):
                raise TypeError("'files' is not an object")
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise DownloadError(
                f"lock file '{self.path}' is unreadable ({type(e).__name__}: {e}); fix it or "
                "delete it (the recorded hashes are then forgotten)"
            ) from None
        return files

    def get(self, key: str) -> LockEntry | None:
        """The entry recorded for ``key``, or None."""
        raw = self._read().get(key)
        if raw is None:
            return None
        return LockEntry(
            sha256=str(raw.get("sha256", "")),
            size=int(raw.get("size", -1)),
            url=str(raw.get("url", "")),
            recorded=str(raw.get("recorded", "")),
        )

    def mismatch(self, key: str, sha256: str, what: str = "the new file") -> DownloadError | None:
        """The error to raise when ``sha256`` differs from the recorded one (None if it matches
        or nothing is recorded)."""
        entry = self.get(key)
        if entry is None or entry.sha256 == sha256:
            return None
        return DownloadError(
            f"SHA-256 mismatch for '{key}': {what} has {sha256}, but the lock file "
            f"'{self.path}' recorded {entry.sha256} when it was first fetched from {entry.url} "
            f"({entry.recorded}); the file changed upstream, on the mirror or in transit: check "
            "it, and remove that entry from the lock file only if you trust the new file"
        )

    def record(self, key: str, result: DownloadResult) -> None:
        """Record ``result`` under ``key`` (no-op when the same hash is already recorded).

        Raises:
            DownloadError: a different hash is recorded for ``key``.
        """
        error = self.mismatch(key, result.sha256)
        if error is not None:
            raise error
        with self._exclusive():
            self._add(key, result)

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold an advisory lock on ``PATH.lock`` (POSIX), so concurrent records add up."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        with open(self.path.with_name(self.path.name + ".lock"), "a") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def _add(self, key: str, result: DownloadResult) -> None:
        files = self._read()
        if key in files:
            return
        files[key] = {
            "sha256": result.sha256,
            "size": result.size,
            "url": result.url,
            "recorded": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        payload = {"version": self.VERSION, "files": dict(sorted(files.items()))}
        tmp.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)


# -- the download ------------------------------------------------------------------------------


@dataclasses.dataclass
class _Expected:
    sha256: str | None
    size: int | None
    source: str  # "the catalogue" / "--sha256" / the lock file, for messages


class _Retry(Exception):  # noqa: N818 - internal control flow
    """A transient failure: try again after a pause."""


def _parse_content_range(value: str | None) -> tuple[int, int | None] | None:
    """``bytes 100-199/1000`` -> (100, 1000); ``bytes 100-199/*`` -> (100, None)."""
    m = re.match(r"^\s*bytes\s+(\d+)-\d+/(\d+|\*)\s*$", value or "")
    if not m:
        return None
    return int(m.group(1)), None if m.group(2) == "*" else int(m.group(2))


def _total_from_416(value: str | None) -> int | None:
    m = re.match(r"^\s*bytes\s+\*/(\d+)\s*$", value or "")
    return int(m.group(1)) if m else None


class _Fetch:
    """State of one :func:`download` call across its attempts."""

    def __init__(
        self,
        url: str,
        dest: Path,
        expected: _Expected,
        timeout: float,
        headers: Mapping[str, str],
        progress: ProgressCallback | None,
    ) -> None:
        self.url = url
        self.dest = dest
        self.part = dest.with_name(dest.name + ".part")
        self.meta = dest.with_name(dest.name + ".part.json")
        self.expected = expected
        self.timeout = timeout
        self.headers = dict(headers)
        self.progress = progress
        self.hasher = hashlib.sha256()
        self.hashed = 0  # bytes of .part already fed to the hasher
        self.total: int | None = None
        self.resumed = False

    # -- partial file bookkeeping

    def have(self) -> int:
        return self.part.stat().st_size if self.part.is_file() else 0

    def restart(self) -> None:
        self.part.unlink(missing_ok=True)
        self.meta.unlink(missing_ok=True)
        self.hasher = hashlib.sha256()
        self.hashed = 0

    def _sync_hasher(self, have: int) -> None:
        if self.hashed == have:
            return
        self.hasher = hashlib.sha256()
        self.hashed = 0
        with open(self.part, "rb") as f:
            while self.hashed < have and (chunk := f.read(min(CHUNK_SIZE, have - self.hashed))):
                self.hasher.update(chunk)
                self.hashed += len(chunk)

    def _validator(self) -> str | None:
        try:
            meta = json.loads(self.meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if meta.get("url") != self.url:
            return None
        return meta.get("etag") or meta.get("last_modified")

    def _save_meta(self, resp: Any) -> None:
        etag = resp.headers.get("ETag")
        meta = {
            "url": self.url,
            "etag": etag if etag and not etag.startswith("W/") else None,
            "last_modified": resp.headers.get("Last-Modified"),
        }
        self.meta.write_text(json.dumps(meta), encoding="utf-8")

    def _report(self, done: int, start: int) -> None:
        if self.progress is not None:
            self.progress(DownloadProgress(self.url, self.dest, done, self.total, start))

    # -- one attempt

    def attempt(self) -> bool:
        """Fetch from where ``.part`` ends; True when the file is complete. Raises _Retry for a
        transient failure and DownloadError for a permanent one."""
        have = self.have()
        if have:
            self._sync_hasher(have)
        else:
            self.restart()
        req = urllib.request.Request(self.url, headers=self.headers)
        if have:
            req.add_header("Range", f"bytes={have}-")
            validator = self._validator()
            if validator:
                req.add_header("If-Range", validator)
        try:
            resp = urllib.request.urlopen(req, timeout=self.timeout)  # noqa: S310 - schemes checked
        except urllib.error.HTTPError as e:
            return self._http_error(e, have)
        except TimeoutError as e:
            raise _Retry(f"timed out after {self.timeout:g} s waiting for the server") from e
        except urllib.error.URLError as e:
            reason = e.reason
            if isinstance(reason, (TimeoutError, socket.timeout)):
                raise _Retry(f"timed out after {self.timeout:g} s connecting") from e
            if isinstance(reason, FileNotFoundError) or "No such file" in str(reason):
                raise UnreachableError(f"{self.url} does not exist ({reason})") from None
            if isinstance(reason, ssl.SSLCertVerificationError):
                raise DownloadError(
                    f"the TLS certificate of {self.url} does not verify ({reason.verify_message}); "
                    "check the URL, the system's CA certificates or the proxy"
                ) from None
            raise _Retry(f"cannot connect: {reason}") from e
        except (ConnectionError, http.client.HTTPException) as e:
            raise _Retry(f"connection failed: {type(e).__name__}: {e}") from e
        with resp:
            return self._stream(resp, have)

    def _http_error(self, e: urllib.error.HTTPError, have: int) -> bool:
        code = e.code
        if code == 416 and have:
            total = _total_from_416(e.headers.get("Content-Range"))
            e.close()
            if total is not None and total == have:  # the part is already complete
                self.total = total
                return True
            log.info("server refused to resume %s at byte %d; starting again", self.url, have)
            self.restart()
            raise _Retry("the server refused the range request")
        e.close()
        if code in _RETRY_STATUS:
            raise _Retry(f"HTTP {code} {e.reason}")
        hint = {
            404: "the file is not there: check the name or URL, or use --mirror",
            401: "it needs a login: download it in a browser and use the prepare command",
            403: "access is refused: download it in a browser and use the prepare command",
        }.get(code, "check the URL")
        raise UnreachableError(f"HTTP {code} ({e.reason}) from {self.url}; {hint}")

    def _stream(self, resp: Any, have: int) -> bool:
        status = getattr(resp, "status", None)
        start = 0
        if have and status == 206:
            parsed = _parse_content_range(resp.headers.get("Content-Range"))
            if parsed is None or parsed[0] != have:
                log.info("server answered the range request for %s oddly; starting again", self.url)
                self.restart()
                raise _Retry("bad Content-Range in the server's answer")
            start = have
            self.total = parsed[1]
            self.resumed = True
        else:
            if have:
                log.info("server does not resume %s; downloading it from the start", self.url)
            self.restart()
            length = resp.headers.get("Content-Length")
            self.total = int(length) if length and length.isdigit() else None
        if self.total is None and status == 206:
            length = resp.headers.get("Content-Length")
            self.total = start + int(length) if length and length.isdigit() else None
        exp = self.expected
        if exp.size is not None and self.total is not None and self.total != exp.size:
            raise DownloadError(
                f"{self.url} is {self.total} bytes but {exp.source} expects {exp.size}; the "
                "file changed upstream or the URL/mirror serves another file"
            )
        if start == 0:
            self._save_meta(resp)
        done = start
        self._report(done, start)
        try:
            with open(self.part, "ab" if start else "wb") as out:
                while True:
                    try:
                        chunk = resp.read(CHUNK_SIZE)
                    except TimeoutError as e:
                        raise _Retry(
                            f"timed out after {self.timeout:g} s without data at byte {done}"
                        ) from e
                    except (ConnectionError, http.client.HTTPException, OSError) as e:
                        raise _Retry(
                            f"connection dropped at byte {done}: {type(e).__name__}: {e}"
                        ) from e
                    if not chunk:
                        break
                    out.write(chunk)
                    self.hasher.update(chunk)
                    done += len(chunk)
                    self.hashed = done
                    self._report(done, start)
                out.flush()
                os.fsync(out.fileno())
        except OSError as e:
            if e.errno in _DISK_FULL:
                raise _disk_full(e, self.part, done) from None
            raise
        if self.total is not None and done < self.total:
            raise _Retry(f"connection closed at byte {done} of {self.total}")
        if self.total is not None and done > self.total:
            self.restart()
            raise _Retry(f"server sent {done} bytes, more than the {self.total} it announced")
        self.total = done
        return True

    def finish(self) -> tuple[str, int]:
        """Verify and rename ``.part`` to ``dest``; returns (sha256, size)."""
        size = self.have()
        self._sync_hasher(size)
        digest = self.hasher.hexdigest()
        exp = self.expected
        problem = None
        if exp.size is not None and size != exp.size:
            problem = f"{self.url} gave {size} bytes but {exp.source} expects {exp.size}"
        elif exp.sha256 is not None and digest != exp.sha256:
            problem = (
                f"SHA-256 mismatch for {self.url}: the downloaded file has {digest}, "
                f"{exp.source} expects {exp.sha256}"
            )
        if problem is not None:
            self.restart()
            raise DownloadError(
                f"{problem}; the download was deleted. The file changed upstream, on the mirror "
                "or in transit: retry, or check the source"
            )
        os.replace(self.part, self.dest)
        self.meta.unlink(missing_ok=True)
        return digest, size


def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    sha256: str | None = None,
    size: int | None = None,
    mirror: str | None = None,
    timeout: float = 60.0,
    retries: int = 5,
    backoff: float = 1.0,
    progress: ProgressCallback | None = None,
    lock: LockFile | None = None,
    lock_key: str | None = None,
    headers: Mapping[str, str] | None = None,
    expected_from: str = "the expected hash",
) -> DownloadResult:
    """Download ``url`` to ``dest``: resumable, retried, verified, atomic.

    If ``dest`` exists it is not fetched again: it is hashed and checked against the expected
    hash (``reused=True``). Partial data lives in ``dest + ".part"`` (and ``.part.json``, the
    server's validators) until the file is complete and verified.

    Args:
        url: ``http://``, ``https://`` or ``file://`` URL.
        dest: Final path (its folder is created).
        sha256: Expected SHA-256 (hex), when known.
        size: Expected size in bytes, when known.
        mirror: Fetch the same file name from this base URL or local folder instead
            (:func:`mirror_url`).
        timeout: Seconds to wait for a connection or for data before an attempt fails.
        retries: Attempts after the first one that may fail without progress.
        backoff: First pause between attempts in seconds (doubled each time, at most 60).
        progress: Called with a :class:`DownloadProgress` after every chunk.
        lock: A :class:`LockFile`: the hash recorded under ``lock_key`` (if any) is expected too.
            Recording is the caller's step (:meth:`LockFile.record`), once the file proved usable.
        lock_key: The key of this file in ``lock``.
        headers: Extra request headers.
        expected_from: Who expects ``sha256``/``size``, for messages (e.g. "the catalogue").

    Returns:
        The :class:`DownloadResult`.

    Raises:
        DownloadError: bad URL or hash; HTTP errors other than 408/429/5xx; size or SHA-256
            mismatch (the partial file is deleted); the lock file recorded another hash; still
            failing after ``retries``; the disk is full (the partial file is kept for a resume).
    """
    dest = Path(dest)
    sha256 = normalize_sha256(sha256)
    fetch_url = mirror_url(url, mirror) if mirror else url
    _check_scheme(fetch_url)
    expected = _Expected(sha256, size, expected_from)
    if lock is not None and lock_key is not None:
        entry = lock.get(lock_key)
        if entry is not None:
            error = lock.mismatch(lock_key, sha256, expected_from) if sha256 else None
            if error is not None:
                raise error
            if sha256 is None:
                expected = _Expected(
                    entry.sha256,
                    size,
                    f"the lock file '{lock.path}' (recorded from {entry.url}, {entry.recorded})",
                )
    if dest.exists():
        digest = sha256_file(dest)
        if expected.sha256 is not None and digest != expected.sha256:
            raise DownloadError(
                f"'{dest}' already exists but its SHA-256 is {digest}, while {expected.source} "
                f"expects {expected.sha256}; delete it to download it again"
            )
        log.info("%s is already downloaded (SHA-256 %s)", dest, digest)
        return DownloadResult(dest, fetch_url, digest, dest.stat().st_size, reused=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    hdrs = {"User-Agent": "i2i-downloader/1", "Accept-Encoding": "identity", **(headers or {})}
    fetch = _Fetch(fetch_url, dest, expected, timeout, hdrs, progress)
    failures = 0
    while True:
        before = fetch.have()
        try:
            fetch.attempt()
            break
        except _Retry as e:
            if fetch.have() > before:
                failures = 0  # progress was made: the link works, keep going
            failures += 1
            if failures > retries:
                kept = fetch.have()
                where = (
                    f"; {kept} bytes are kept in '{fetch.part}': run the same command to resume"
                    if kept
                    else ""
                )
                raise UnreachableError(
                    f"download of {fetch_url} failed after {failures} tries: {e}{where}"
                ) from None
            pause = min(backoff * 2 ** (failures - 1), _MAX_BACKOFF)
            log.warning(
                "%s: %s; retrying in %.1f s (try %d of %d)", fetch_url, e, pause, failures + 1,
                retries + 1,
            )  # fmt: skip
            time.sleep(pause)
    digest, nbytes = fetch.finish()
    return DownloadResult(dest, fetch_url, digest, nbytes, reused=False, resumed=fetch.resumed)
