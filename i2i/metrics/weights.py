"""Weight files of the metric networks: what they are, where i2i looks for them, how to get them.

i2i never downloads weights while it computes a metric. Each network reads a local file, found
in this order (:func:`resolve_weights`):

1. the path given explicitly (``--inception-weights``, ``--lpips-weights``, ...);
2. the ``[weights]`` table of the settings file: ``NAME = "/path/to/file"``;
3. ``DIR/FILENAME`` for the weights folder ``DIR``: the settings file's ``[weights] dir``, else
   ``$I2I_WEIGHTS_DIR``, else ``~/.cache/i2i/weights`` (``$XDG_CACHE_HOME/i2i/weights``).

The settings file is ``$I2I_SETTINGS`` or ``~/.config/i2i/settings.toml``
(``$XDG_CONFIG_HOME/i2i/settings.toml``)::

    [weights]
    dir = "/data/weights"                       # where `i2i weights download` writes
    inception = "/models/pt_inception-2015-12-05-6726825d.pth"

``i2i weights download NAME`` fetches a known file (:data:`KNOWN_WEIGHTS`: the same files the
reference implementations download) into the weights folder and checks its SHA-256. Where the
reference publishes only the first hex digits of the SHA-256 (pytorch-fid and torchvision put
them in the file name, as ``torch.hub`` expects), only those digits are checked;
:attr:`KnownWeights.sha256` is then that prefix. A metric asked for without its file raises
:class:`WeightsMissingError`, one line naming the file and the command that fetches it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from i2i.errors import ConfigError

__all__ = [
    "KNOWN_WEIGHTS",
    "KnownWeights",
    "WeightsMissingError",
    "download_weights",
    "load_settings",
    "resolve_weights",
    "settings_path",
    "sha256_file",
    "verify_file",
    "weights_dir",
]


class WeightsMissingError(ConfigError):
    """A metric network's weights file is not on this machine."""


@dataclasses.dataclass(frozen=True)
class KnownWeights:
    """A weights file a metric network reads.

    Attributes:
        name: Short name (``i2i weights download NAME``, settings key).
        filename: The file's name, as the reference implementation names it.
        urls: Where the reference implementations fetch it (tried in order).
        sha256: Its SHA-256 in hex, or the published prefix of it (see the module docstring).
        used_by: What needs it (one line).
        option: The command-line option that points at it.
        source: Where the URL and hash come from.
    """

    name: str
    filename: str
    urls: tuple[str, ...]
    sha256: str
    used_by: str
    option: str
    source: str

    @property
    def full_hash(self) -> bool:
        """Whether :attr:`sha256` is the whole digest (64 hex digits), not a prefix."""
        return len(self.sha256) == 64


_TORCHVISION = "https://download.pytorch.org/models/"
_LPIPS = "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/"

#: Name -> the weight files i2i's metrics (and the VGG perceptual loss) can use.
KNOWN_WEIGHTS: dict[str, KnownWeights] = {
    w.name: w
    for w in (
        KnownWeights(
            "inception",
            "pt_inception-2015-12-05-6726825d.pth",
            (
                "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                "pt_inception-2015-12-05-6726825d.pth",
                "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                "weights-inception-2015-12-05-6726825d.pth",
            ),
            "6726825d",
            "FID, KID and IS (the 2015 TensorFlow Inception v3, ported to PyTorch)",
            "--inception-weights",
            "pytorch-fid's FID_WEIGHTS_URL and torch-fidelity's URL_INCEPTION_V3 (the same "
            "SHA-256 prefix); the prefix is the torch.hub hash in the file name",
        ),
        KnownWeights(
            "lpips-alex",
            "lpips-v0.1-alex.pth",
            (_LPIPS + "alex.pth",),
            "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
            "LPIPS (AlexNet): the linear layers calibrated on human judgements, v0.1",
            "--lpips-weights",
            "lpips 0.1.4 (PyPI) lpips/weights/v0.1/alex.pth; torchmetrics ships the same bytes",
        ),
        KnownWeights(
            "lpips-vgg",
            "lpips-v0.1-vgg.pth",
            (_LPIPS + "vgg.pth",),
            "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
            "LPIPS (VGG): the linear layers calibrated on human judgements, v0.1",
            "--lpips-weights",
            "lpips 0.1.4 (PyPI) lpips/weights/v0.1/vgg.pth; torchmetrics ships the same bytes",
        ),
        KnownWeights(
            "alexnet",
            "alexnet-owt-7be5be79.pth",
            (_TORCHVISION + "alexnet-owt-7be5be79.pth",),
            "7be5be79",
            "LPIPS (AlexNet): the ImageNet AlexNet backbone (torchvision IMAGENET1K_V1)",
            "--lpips-backbone",
            "torchvision AlexNet_Weights.IMAGENET1K_V1 (hash prefix in the file name)",
        ),
        KnownWeights(
            "vgg16",
            "vgg16-397923af.pth",
            (_TORCHVISION + "vgg16-397923af.pth",),
            "397923af",
            "LPIPS (VGG): the ImageNet VGG16 backbone (torchvision IMAGENET1K_V1)",
            "--lpips-backbone",
            "torchvision VGG16_Weights.IMAGENET1K_V1 (hash prefix in the file name)",
        ),
        KnownWeights(
            "vgg19",
            "vgg19-dcbb9e9d.pth",
            (_TORCHVISION + "vgg19-dcbb9e9d.pth",),
            "dcbb9e9d",
            "the VGG19 perceptual loss of spade / srgan (--set vgg_weights=PATH)",
            "--set vgg_weights",
            "torchvision VGG19_Weights.IMAGENET1K_V1 (hash prefix in the file name)",
        ),
    )
}


def _env_path(env: Mapping[str, str], var: str, default: Path) -> Path:
    value = env.get(var)
    return Path(value).expanduser() if value else default


def settings_path(env: Mapping[str, str] | None = None) -> Path:
    """``$I2I_SETTINGS``, else ``$XDG_CONFIG_HOME/i2i/settings.toml`` (``~/.config/...``)."""
    env = os.environ if env is None else env
    if env.get("I2I_SETTINGS"):
        return Path(env["I2I_SETTINGS"]).expanduser()
    return _env_path(env, "XDG_CONFIG_HOME", Path.home() / ".config") / "i2i" / "settings.toml"


def load_settings(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The settings file as a dict (empty when there is none).

    Raises:
        ConfigError: the file exists but is not valid TOML, or ``[weights]`` is not a table of
            strings.
    """
    path = settings_path(env)
    if not path.is_file():
        return {}
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read the settings file {path}: {e}; fix or remove it") from None
    weights = data.get("weights", {})
    if not isinstance(weights, dict) or not all(isinstance(v, str) for v in weights.values()):
        raise ConfigError(
            f"{path}: [weights] must map names to paths (strings), e.g. "
            'inception = "/models/pt_inception-2015-12-05-6726825d.pth"'
        )
    return data


def weights_dir(
    env: Mapping[str, str] | None = None, settings: Mapping[str, Any] | None = None
) -> Path:
    """The weights folder: settings ``[weights] dir``, ``$I2I_WEIGHTS_DIR`` or the cache folder."""
    env = os.environ if env is None else env
    settings = load_settings(env) if settings is None else settings
    configured = settings.get("weights", {}).get("dir")
    if configured:
        return Path(configured).expanduser()
    if env.get("I2I_WEIGHTS_DIR"):
        return Path(env["I2I_WEIGHTS_DIR"]).expanduser()
    return _env_path(env, "XDG_CACHE_HOME", Path.home() / ".cache") / "i2i" / "weights"


def known(name: str) -> KnownWeights:
    """The :class:`KnownWeights` called ``name``.

    Raises:
        ConfigError: an unknown name (the message lists the known ones).
    """
    if name not in KNOWN_WEIGHTS:
        raise ConfigError(
            f"unknown weights '{name}'; known: {', '.join(KNOWN_WEIGHTS)} (i2i weights list)"
        )
    return KNOWN_WEIGHTS[name]


def resolve_weights(
    name: str,
    explicit: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> Path:
    """The local file of the known weights ``name`` (see the module docstring for the order).

    Args:
        name: A key of :data:`KNOWN_WEIGHTS`.
        explicit: A path given on the command line or in code; it must exist.
        env: Environment to read (default ``os.environ``).

    Returns:
        An existing file.

    Raises:
        WeightsMissingError: no file found; the message names the file and the command (or
            the option) that provides it.
        ConfigError: an unknown name, or an unreadable settings file.
    """
    spec = known(name)
    how = f"run `i2i weights download {name}` or pass {spec.option} PATH"
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            what = "is not a file" if path.exists() else "does not exist"
            raise WeightsMissingError(
                f"{spec.option} {path} {what}; give the {spec.filename} file ({spec.used_by})"
            )
        return path
    env = os.environ if env is None else env
    settings = load_settings(env)
    configured = settings.get("weights", {}).get(name)
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise WeightsMissingError(
                f"{settings_path(env)} sets {name} = {path}, which is not a file; fix the path "
                f"or {how}"
            )
        return path
    path = weights_dir(env, settings) / spec.filename
    if not path.is_file():
        raise WeightsMissingError(
            f"{spec.used_by} needs {spec.filename}, not found at {path}; {how}"
        )
    return path


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """The SHA-256 of a file, in hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify_file(name: str, path: str | os.PathLike[str]) -> tuple[bool, str]:
    """Whether ``path`` has the known SHA-256 (or its published prefix) of weights ``name``.

    Returns:
        ``(ok, digest)`` with the file's full SHA-256.
    """
    digest = sha256_file(path)
    return digest.startswith(known(name).sha256), digest


def download_weights(
    spec: KnownWeights,
    folder: str | os.PathLike[str] | None = None,
    *,
    mirror: str | None = None,
    timeout: float = 60.0,
    retries: int = 5,
    progress: Any = None,
    lock: Any = None,
) -> Any:
    """Fetch the weights file ``spec`` into ``folder`` (default: :func:`weights_dir`) with
    :func:`i2i.download.download` (resumable, retried, atomic) and check its SHA-256.

    Each of ``spec.urls`` is tried in turn, the next one only when a URL fails. With
    ``mirror`` (a base URL or a local folder) the file is fetched from there instead: first
    under its weights-folder name (``spec.filename``, so a copy of a weights folder is a
    mirror), then under the upstream URLs' file names. A full published hash is checked before the
    file gets its name; a published prefix is checked right after, and a file that does not
    match is deleted. The lock file (``lock``, default the user's) records the hash under
    ``weights:NAME``, so a later download of the name must give the same bytes.

    Returns:
        The :class:`i2i.download.DownloadResult` (``reused`` when the file was already there).

    Raises:
        DownloadError: every URL failed (the message names the last failure), or the file's
            SHA-256 does not match the published one.
    """
    from i2i.download import LockFile, default_lock_path, download, mirror_url
    from i2i.errors import DownloadError, UnreachableError

    lock = LockFile(default_lock_path()) if lock is None else lock
    dest = Path(folder).expanduser() if folder is not None else weights_dir()
    dest = dest / spec.filename
    key = f"weights:{spec.name}"
    urls = list(spec.urls)
    if mirror:  # the weights folder's file name first (a copied weights folder is a mirror)
        names = [mirror_url("/" + spec.filename, mirror)]
        urls = list(dict.fromkeys(names + [mirror_url(u, mirror) for u in spec.urls]))
    last: UnreachableError | None = None
    for url in urls:
        existed = dest.exists()
        try:
            result = download(
                url,
                dest,
                sha256=spec.sha256 if spec.full_hash else None,
                timeout=timeout,
                retries=retries,
                progress=progress,
                lock=lock,
                lock_key=key,
                expected_from=f"{spec.name}'s published hash ({spec.source})",
            )
        except UnreachableError as e:  # another URL may have it; a wrong file is final
            last = e
            continue
        if not result.sha256.startswith(spec.sha256):
            if not existed:
                dest.unlink(missing_ok=True)
            where = "was deleted" if not existed else "is kept; delete it to download it again"
            raise DownloadError(
                f"{spec.name}: {result.url} gave a file whose SHA-256 {result.sha256} does not "
                f"start with the published {spec.sha256} ({spec.source}); {dest} {where}"
            )
        lock.record(key, result)
        return result
    assert last is not None
    raise last
