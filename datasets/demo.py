"""Offline procedural demo datasets.

:func:`make_unpaired_demo` draws small scenes of shapes in two "styles" related by a fixed,
learnable mapping, so a CycleGAN can be trained end to end in a few CPU minutes without
downloading anything:

- domain A: warm shapes (red to orange) with soft shading on a dark blue-grey textured
  background;
- domain B: the same kind of scene with every shape's hue rotated by 180 degrees (cyan to blue),
  horizontal stripes inside the shapes, and a light warm-grey background.

The train folders hold independent scenes (unpaired); ``testA/k.png`` and ``testB/k.png`` show
the *same* scene in both styles, so test results can be compared with a ground truth.

:func:`make_paired_demo` draws aligned pairs for a "sketch -> photo" task (like edges2shoes) that
a Pix2Pix model learns in a few CPU minutes:

- A: a line drawing of the scene — black outlines of the shapes on white (nearer shapes hide the
  lines behind them);
- B: the "photo" — a sky-to-ground gradient background with a soft texture, and filled, shaded
  shapes with soft drop shadows whose colour depends on the shape type (circles red, rectangles
  blue, triangles green, with a little jitter).
"""

from __future__ import annotations

import colorsys
import dataclasses
import logging
import os
from pathlib import Path

import numpy as np
from PIL import Image

from i2i.errors import ConfigError, DatasetError

from .image_io import format_file_list, write_image

log = logging.getLogger(__name__)

DEMO_MARKER = "i2i unpaired demo dataset"
README_NAME = "README.txt"

PAIRED_DEMO_MARKER = "i2i paired demo dataset"
CLASSES_DEMO_MARKER = "i2i classes demo dataset"
IMAGES_DEMO_MARKER = "i2i images demo dataset"
_ALL_MARKERS = (DEMO_MARKER, PAIRED_DEMO_MARKER, CLASSES_DEMO_MARKER, IMAGES_DEMO_MARKER)

_STREAM_TRAIN_A, _STREAM_TRAIN_B, _STREAM_TEST = 1, 2, 3
_STREAM_PAIRED = {"train": 11, "val": 12, "test": 13}
_STREAM_CLASSES = {"train": 21, "test": 22}
_STREAM_IMAGES = {"train": 51, "test": 52}


@dataclasses.dataclass(frozen=True)
class _Shape:
    kind: str  # "circle", "rect" or "triangle"
    cx: float
    cy: float
    r: float
    aspect: float
    angle: float
    hue: float
    sat: float
    val: float


@dataclasses.dataclass(frozen=True)
class _Scene:
    texture: np.ndarray  # HxW in [0, 1]
    shapes: tuple[_Shape, ...]


def _random_scene(rng: np.random.Generator, size: int) -> _Scene:
    low = rng.random((5, 5)).astype(np.float32)
    texture = np.asarray(
        Image.fromarray(low).resize((size, size), Image.Resampling.BICUBIC),
        dtype=np.float32,
    )
    texture = np.clip(texture, 0.0, 1.0)
    shapes = []
    for _ in range(int(rng.integers(2, 5))):
        shapes.append(
            _Shape(
                kind=("circle", "rect", "triangle")[int(rng.integers(3))],
                cx=float(rng.uniform(0.15, 0.85) * size),
                cy=float(rng.uniform(0.15, 0.85) * size),
                r=float(rng.uniform(0.10, 0.22) * size),
                aspect=float(rng.uniform(0.6, 1.6)),
                angle=float(rng.uniform(0, 2 * np.pi)),
                hue=float(rng.uniform(0.0, 0.11)),
                sat=float(rng.uniform(0.65, 1.0)),
                val=float(rng.uniform(0.75, 1.0)),
            )
        )
    return _Scene(texture=texture, shapes=tuple(shapes))


def _sdf(shape: _Shape, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Signed distance in pixels (negative inside; approximate outside triangle corners)."""
    dx, dy = x - shape.cx, y - shape.cy
    if shape.kind == "circle":
        return np.sqrt(dx * dx + dy * dy) - shape.r
    if shape.kind == "rect":
        hw, hh = shape.r * shape.aspect, shape.r / shape.aspect
        qx, qy = np.abs(dx) - hw, np.abs(dy) - hh
        outside = np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2)
        return outside + np.minimum(np.maximum(qx, qy), 0)
    angles = shape.angle + np.array([0.0, 2.0, 4.0]) * np.pi / 3
    vx, vy = shape.cx + shape.r * np.cos(angles), shape.cy + shape.r * np.sin(angles)
    # Signed distance to each edge line, > 0 on the outer side; the maximum is the SDF.
    cross = (vx[1] - vx[0]) * (vy[2] - vy[0]) - (vy[1] - vy[0]) * (vx[2] - vx[0])
    sign = 1.0 if cross > 0 else -1.0
    edges = []
    for i in range(3):
        ax, ay, bx, by = vx[i], vy[i], vx[(i + 1) % 3], vy[(i + 1) % 3]
        ex, ey = bx - ax, by - ay
        edges.append(sign * ((x - ax) * ey - (y - ay) * ex) / np.hypot(ex, ey))
    return np.maximum.reduce(edges)


def render_scene(scene: _Scene, size: int, domain: str) -> np.ndarray:
    """Render a scene in domain ``"A"`` or ``"B"`` as an HxWx3 float32 image in [0, 1]."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    t = scene.texture[:, :, None] - 0.5
    if domain == "A":
        img = np.array([0.20, 0.24, 0.32], np.float32) + 0.14 * t
    else:
        img = np.array([0.90, 0.88, 0.82], np.float32) + 0.08 * t
    period = max(2, size // 16)
    stripes = np.where((y.astype(np.int64) // period) % 2 == 0, 1.0, 0.55).astype(np.float32)
    for shape in scene.shapes:
        sdf = _sdf(shape, x, y)
        alpha = np.clip(0.5 - sdf, 0.0, 1.0)[:, :, None]
        light = 1.0 - 0.3 * ((x - shape.cx) + (y - shape.cy)) / (2 * shape.r)
        light = np.clip(light, 0.6, 1.2)
        hue = shape.hue if domain == "A" else (shape.hue + 0.5) % 1.0
        rgb = np.array(colorsys.hsv_to_rgb(hue, shape.sat, shape.val), np.float32)
        shade = light if domain == "A" else light * stripes
        color = rgb[None, None, :] * shade[:, :, None]
        img = img * (1.0 - alpha) + color * alpha
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def _rng(seed: int, stream: int, k: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, stream, k]))


def _readme(seed: int, n_train: int, n_test: int, size: int) -> str:
    return (
        f"{DEMO_MARKER}\n"
        f"seed={seed} n_train={n_train} n_test={n_test} size={size}\n"
        "\n"
        "Made by i2i (i2i.datasets.make_unpaired_demo); procedural, no downloads.\n"
        "\n"
        "trainA/, testA/  domain A: warm shapes (red to orange circles, rectangles, triangles)\n"
        "                 with soft shading on a dark blue-grey textured background.\n"
        "trainB/, testB/  domain B: the same kind of scene with every shape's hue rotated by\n"
        "                 180 degrees (cyan to blue), horizontal stripes inside the shapes and a\n"
        "                 light warm-grey background.\n"
        "\n"
        "trainA and trainB hold independent scenes (unpaired). testA/k.png and testB/k.png show\n"
        "the same scene in both domains, so a model's A->B output can be compared with testB.\n"
    )


def _check_out_dir(out: Path, params: str, marker: str = DEMO_MARKER) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise DatasetError(f"demo output '{out}' is a file; pass a new or empty folder")
    entries = sorted(e.name for e in os.scandir(out) if not e.name.startswith("."))
    if not entries:
        return
    readme = out / README_NAME
    lines = readme.read_text(errors="replace").splitlines()[:2] if readme.is_file() else []
    first = lines[0].strip() if lines else ""
    if first in _ALL_MARKERS and first != marker:
        raise DatasetError(
            f"demo output folder '{out}' already holds another kind of demo ({first}), not an "
            f"{marker}; pass another folder — nothing was written"
        )
    if first != marker:
        raise DatasetError(
            f"demo output folder '{out}' is not empty and is not an i2i demo dataset (holds "
            f"{format_file_list(entries)}); pass a new or empty folder — nothing was written"
        )
    found = lines[1].strip() if len(lines) > 1 else "(unknown settings)"
    if found != params:
        raise DatasetError(
            f"demo output folder '{out}' already holds an i2i demo dataset made with {found}, "
            f"not {params}; pass another folder or delete this one"
        )


def begin_demo(
    maker: str, out_dir: Path, marker: str, *, seed: int, n_train: int, n_test: int, size: int
) -> tuple[Path, str]:
    """The common start of every ``make_*_demo``: check the counts and the output folder.

    Returns ``(out, params)``: the created output folder and the settings line its README must
    hold under ``marker`` (so a re-run with the same settings may rewrite it in place).

    Raises:
        ConfigError: a count or the size is out of range (the message names ``maker``).
        DatasetError: see :func:`_check_out_dir`.
    """
    if n_train < 1 or n_test < 0 or size < 16:
        raise ConfigError(
            f"{maker} needs n_train >= 1, n_test >= 0 and size >= 16, got "
            f"n_train={n_train}, n_test={n_test}, size={size}"
        )
    out = Path(out_dir)
    params = f"seed={seed} n_train={n_train} n_test={n_test} size={size}"
    _check_out_dir(out, params, marker)
    out.mkdir(parents=True, exist_ok=True)
    return out, params


def make_unpaired_demo(
    out_dir: Path, seed: int = 0, n_train: int = 200, n_test: int = 16, size: int = 64
) -> None:
    """Write the procedural unpaired demo dataset (trainA/B, testA/B PNGs and a README.txt).

    The output is byte-identical for the same arguments. An existing demo folder made with the
    same arguments is rewritten in place; any other non-empty folder is refused (nothing is
    ever deleted).

    Args:
        out_dir: Folder to create (or an empty one).
        seed: Random seed of the scenes.
        n_train: Images in each of trainA and trainB.
        n_test: Images in each of testA and testB (pairs of the same scenes).
        size: Width and height in pixels.

    Raises:
        DatasetError: ``out_dir`` is a file, a non-empty non-demo folder, or a demo made with
            other arguments.
        ConfigError: a count or the size is out of range.

    Example:
        >>> make_unpaired_demo(Path("data/demo"), seed=0)  # doctest: +SKIP
    """
    out, params = begin_demo(
        "make_unpaired_demo", out_dir, DEMO_MARKER,
        seed=seed, n_train=n_train, n_test=n_test, size=size,
    )  # fmt: skip
    (out / README_NAME).write_text(_readme(seed, n_train, n_test, size))  # marks the folder first
    for k in range(n_train):
        scene_a = _random_scene(_rng(seed, _STREAM_TRAIN_A, k), size)
        write_image(out / "trainA" / f"{k:04d}.png", render_scene(scene_a, size, "A"))
        scene_b = _random_scene(_rng(seed, _STREAM_TRAIN_B, k), size)
        write_image(out / "trainB" / f"{k:04d}.png", render_scene(scene_b, size, "B"))
    for split in ("testA", "testB"):
        (out / split).mkdir(exist_ok=True)
    for k in range(n_test):
        scene = _random_scene(_rng(seed, _STREAM_TEST, k), size)
        write_image(out / "testA" / f"{k:04d}.png", render_scene(scene, size, "A"))
        write_image(out / "testB" / f"{k:04d}.png", render_scene(scene, size, "B"))
    log.info("wrote the unpaired demo dataset to %s (%s)", out, params)


#: Base hue of each shape type in the paired demo's "photos" (red, blue, green).
PAIRED_TYPE_HUES: dict[str, float] = {"circle": 0.0, "rect": 0.6, "triangle": 0.3}


def render_paired_scene(scene: _Scene, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Render one scene as a (sketch, photo) pair of ``size x size`` float32 images in [0, 1].

    Returns:
        ``(sketch, photo)``: the sketch is ``HxWx1`` (black outlines on white, occluded lines
        hidden), the photo is ``HxWx3`` (gradient background, shaded shapes coloured by type,
        soft shadows).
    """
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    v = (y / size)[:, :, None]
    sky = np.array([0.55, 0.70, 0.92], np.float32)
    ground = np.array([0.86, 0.80, 0.66], np.float32)
    photo = sky * (1.0 - v) + ground * v + 0.10 * (scene.texture[:, :, None] - 0.5)
    sketch = np.ones((size, size), np.float32)
    line_w = max(1.0, size / 48.0)
    shadow_off = max(1.0, size / 24.0)
    for shape in scene.shapes:
        shadow = _sdf(dataclasses.replace(shape, cx=shape.cx + shadow_off), x, y - shadow_off)
        photo = photo * (1.0 - 0.35 * np.clip(0.5 - shadow / 3.0, 0.0, 1.0))[:, :, None]
        sdf = _sdf(shape, x, y)
        alpha = np.clip(0.5 - sdf, 0.0, 1.0)
        light = 1.0 - 0.3 * ((x - shape.cx) + (y - shape.cy)) / (2 * shape.r)
        light = np.clip(light, 0.6, 1.2) * (0.85 + 0.15 * np.clip(-sdf / 3.0, 0.0, 1.0))
        hue = (PAIRED_TYPE_HUES[shape.kind] + shape.hue - 0.055) % 1.0  # jitter +-0.055
        rgb = np.array(colorsys.hsv_to_rgb(hue, shape.sat, shape.val), np.float32)
        color = rgb[None, None, :] * light[:, :, None]
        photo = photo * (1.0 - alpha[:, :, None]) + color * alpha[:, :, None]
        line = np.clip(line_w / 2 + 0.5 - np.abs(sdf), 0.0, 1.0)
        sketch = np.maximum(sketch, alpha)  # the shape's white fill hides the lines behind it
        sketch = sketch * (1.0 - line)
    photo = np.clip(photo, 0.0, 1.0).astype(np.float32)
    return np.clip(sketch, 0.0, 1.0)[:, :, None].astype(np.float32), photo


def _paired_readme(params: str, layout: str) -> str:
    if layout == "aligned":
        files = (
            "train/, val/, test/  one PNG per pair, A|B side by side (A = left half, B = right\n"
            "                     half, each size x size): the 'aligned' dataset format.\n"
        )
    else:
        files = (
            "trainA/, testA/      A: the sketches (grayscale PNG)\n"
            "trainB/, testB/      B: the photos (RGB PNG); trainA/k.png pairs with trainB/k.png\n"
            "                     (the 'paired_folders' dataset format).\n"
        )
    return (
        f"{PAIRED_DEMO_MARKER}\n"
        f"{params}\n"
        "\n"
        "Made by i2i (i2i.datasets.make_paired_demo); procedural, no downloads.\n"
        "A sketch -> photo task (like edges2shoes) for Pix2Pix:\n"
        "\n"
        "A  line drawing: black outlines of circles, rectangles and triangles on white; nearer\n"
        "   shapes hide the lines behind them.\n"
        "B  'photo' of the same scene: sky-to-ground gradient background with a soft texture;\n"
        "   shapes filled and shaded with soft drop shadows, coloured by type: circles red,\n"
        "   rectangles blue, triangles green (small random hue, saturation and value jitter).\n"
        "\n"
        f"{files}"
    )


def make_paired_demo(
    out_dir: Path,
    seed: int = 0,
    n_train: int = 200,
    n_test: int = 16,
    size: int = 64,
    layout: str = "aligned",
) -> None:
    """Write the procedural paired demo dataset (sketch -> photo) and a README.txt.

    Layouts:

    - ``"aligned"``: ``train/`` (``n_train``), ``val/`` and ``test/`` (``n_test`` each) hold
      ``size x 2*size`` RGB PNGs, A (sketch) left and B (photo) right: the ``aligned`` format.
    - ``"folders"``: ``trainA/``, ``trainB/``, ``testA/``, ``testB/`` with the same file names
      on both sides (A grayscale, B RGB): the ``paired_folders`` format.

    The scenes are the same for both layouts and a seed. The output is byte-identical for the
    same arguments. An existing demo folder made with the same arguments is rewritten in place;
    any other non-empty folder is refused (nothing is ever deleted).

    Args:
        out_dir: Folder to create (or an empty one).
        seed: Random seed of the scenes.
        n_train: Training pairs.
        n_test: Test pairs (and validation pairs for the aligned layout).
        size: Width and height of each side in pixels.
        layout: ``"aligned"`` or ``"folders"``.

    Raises:
        DatasetError: ``out_dir`` is a file, a non-empty non-demo folder, or a demo made with
            other arguments.
        ConfigError: a count, the size or the layout is out of range.

    Example:
        >>> make_paired_demo(Path("data/sketch2photo"), seed=0)  # doctest: +SKIP
    """
    if n_train < 1 or n_test < 0 or size < 16 or layout not in ("aligned", "folders"):
        raise ConfigError(
            f"make_paired_demo needs n_train >= 1, n_test >= 0, size >= 16 and layout 'aligned' "
            f"or 'folders', got n_train={n_train}, n_test={n_test}, size={size}, "
            f"layout={layout!r}"
        )
    out = Path(out_dir)
    params = f"seed={seed} n_train={n_train} n_test={n_test} size={size} layout={layout}"
    _check_out_dir(out, params, PAIRED_DEMO_MARKER)
    out.mkdir(parents=True, exist_ok=True)
    (out / README_NAME).write_text(_paired_readme(params, layout))  # marks the folder first
    splits = {"train": n_train, "val": n_test, "test": n_test}
    if layout == "folders":
        del splits["val"]
    for split, count in splits.items():
        folders = [out / split] if layout == "aligned" else [out / f"{split}{k}" for k in "AB"]
        for folder in folders:
            folder.mkdir(exist_ok=True)
        for k in range(count):
            scene = _random_scene(_rng(seed, _STREAM_PAIRED[split], k), size)
            sketch, photo = render_paired_scene(scene, size)
            name = f"{k:04d}.png"
            if layout == "aligned":
                pair = np.concatenate([np.repeat(sketch, 3, axis=2), photo], axis=1)
                write_image(out / split / name, pair)
            else:
                write_image(out / f"{split}A" / name, sketch)
                write_image(out / f"{split}B" / name, photo)
    log.info("wrote the paired demo dataset to %s (%s)", out, params)


def make_images_demo(
    out_dir: Path, seed: int = 0, n_train: int = 48, n_test: int = 8, size: int = 64
) -> None:
    """Write procedural colour images to ``out_dir/train/`` and ``out_dir/test/``.

    The images are the "photos" of the paired demo (:func:`render_paired_scene`: a sky-to-ground
    gradient with shaded shapes whose colour follows their type). A building block for the demo
    of any format whose samples are made from plain images (colorization, denoising,
    super-resolution, ...): ``DatasetFormatSpec(..., demo=make_images_demo)``.

    Byte-identical for the same arguments, and as careful with ``out_dir`` as the other demos
    (see :func:`begin_demo`: nothing but an earlier identical demo is overwritten).
    """
    out, params = begin_demo(
        "make_images_demo", out_dir, IMAGES_DEMO_MARKER,
        seed=seed, n_train=n_train, n_test=n_test, size=size,
    )  # fmt: skip
    (out / README_NAME).write_text(
        f"{IMAGES_DEMO_MARKER}\n{params}\n\nMade by i2i (i2i.datasets.make_images_demo); "
        "procedural, no downloads.\ntrain/, test/  colour images: a sky-to-ground gradient with "
        "shaded, shadowed circles\n               (red), rectangles (blue) and triangles (green).\n"
    )  # the README marks the folder first
    for split, count in (("train", n_train), ("test", n_test)):
        for k in range(count):
            scene = _random_scene(_rng(seed, _STREAM_IMAGES[split], k), size)
            write_image(out / split / f"{k:04d}.png", render_paired_scene(scene, size)[1])
    log.info("wrote the images demo dataset to %s (%s)", out, params)


#: Shape types :func:`make_classes_demo` can draw (one per class).
CLASS_SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "cross", "ring", "diamond")


def _class_shape_sdf(
    kind: str, x: np.ndarray, y: np.ndarray, cx: float, cy: float, r: float, angle: float
) -> np.ndarray:
    """Signed distance (pixels, negative inside) of one class shape centred at (cx, cy)."""
    cos, sin = np.cos(angle), np.sin(angle)
    u = (x - cx) * cos + (y - cy) * sin  # rotated coordinates
    v = -(x - cx) * sin + (y - cy) * cos

    def box(hw: float, hh: float) -> np.ndarray:
        qx, qy = np.abs(u) - hw, np.abs(v) - hh
        outside = np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2)
        return outside + np.minimum(np.maximum(qx, qy), 0)

    if kind == "circle":
        return np.sqrt(u * u + v * v) - r
    if kind == "ring":
        return np.abs(np.sqrt(u * u + v * v) - 0.75 * r) - 0.25 * r
    if kind == "square":
        return box(0.8 * r, 0.8 * r)
    if kind == "diamond":
        return (np.abs(u) + np.abs(v) - r) / np.sqrt(2.0)
    if kind == "cross":
        return np.minimum(box(r, 0.3 * r), box(0.3 * r, r))
    if kind == "triangle":
        shape = _Shape("triangle", cx, cy, r, 1.0, angle, 0.0, 0.0, 0.0)
        return _sdf(shape, x, y)
    raise ConfigError(f"unknown demo shape {kind!r}; choose from {', '.join(CLASS_SHAPES)}")


def render_class_image(rng: np.random.Generator, kind: str, size: int) -> np.ndarray:
    """Draw one ``size x size`` RGB image (float32 in [0, 1]) of a shape of type ``kind``.

    The shape has a random colour (bright), size, position and rotation; the background is a
    darker random colour with a soft low-frequency texture and a little pixel noise.
    """
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    low = rng.random((4, 4)).astype(np.float32)
    texture = np.asarray(
        Image.fromarray(low).resize((size, size), Image.Resampling.BICUBIC), dtype=np.float32
    )
    bg_rgb = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.2, 0.7), rng.uniform(0.15, 0.4))
    img = np.array(bg_rgb, np.float32) + 0.15 * (np.clip(texture, 0.0, 1.0)[:, :, None] - 0.5)
    img = img + rng.normal(0.0, 0.02, (size, size, 1)).astype(np.float32)
    r = float(rng.uniform(0.22, 0.34) * size)
    cx, cy = (float(rng.uniform(0.5 * size - 0.12 * size, 0.5 * size + 0.12 * size)) for _ in "xy")
    sdf = _class_shape_sdf(kind, x, y, cx, cy, r, float(rng.uniform(0, 2 * np.pi)))
    alpha = np.clip(0.5 - sdf, 0.0, 1.0)[:, :, None]
    fg = np.array(
        colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.4, 1.0), rng.uniform(0.75, 1.0)),
        np.float32,
    )
    light = np.clip(1.0 - 0.25 * ((x - cx) + (y - cy)) / (2 * r), 0.7, 1.15)[:, :, None]
    img = img * (1.0 - alpha) + fg * light * alpha
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def _classes_readme(params: str, classes: tuple[str, ...]) -> str:
    return (
        f"{CLASSES_DEMO_MARKER}\n"
        f"{params}\n"
        "\n"
        "Made by i2i (i2i.datasets.make_classes_demo); procedural, no downloads.\n"
        "One class per shape type, for class-conditional GANs and the classifier metrics:\n"
        "\n"
        f"classes: {', '.join(classes)}\n"
        "Each image shows one bright shape of its class (random colour, size, position and\n"
        "rotation) on a darker, softly textured background of a random colour.\n"
        "\n"
        "train/<class>/  training images (the 'classes' dataset format)\n"
        "test/<class>/   held-out images of the same classes\n"
    )


def make_classes_demo(
    out_dir: Path,
    seed: int = 0,
    n_per_class: int = 120,
    n_test_per_class: int = 20,
    size: int = 32,
    classes: tuple[str, ...] = ("circle", "square", "triangle", "cross"),
) -> None:
    """Write the procedural class-folder demo dataset (``train/<class>/``, ``test/<class>/``).

    One shape type per class (see :data:`CLASS_SHAPES`), drawn with a random colour, size,
    position and rotation on a mildly textured background: a small classifier separates the
    classes with > 90 % accuracy and a conditional GAN learns them in a few CPU minutes. The
    output is byte-identical for the same arguments. An existing demo folder made with the same
    arguments is rewritten in place; any other non-empty folder is refused (nothing is ever
    deleted).

    Args:
        out_dir: Folder to create (or an empty one).
        seed: Random seed.
        n_per_class: Training images per class.
        n_test_per_class: Test images per class (0 = no test/ folder content).
        size: Width and height in pixels.
        classes: Shape types, one per class (at least 2, from :data:`CLASS_SHAPES`).

    Raises:
        DatasetError: ``out_dir`` is a file, a non-empty non-demo folder, or a demo made with
            other arguments.
        ConfigError: a count, the size or a class name is out of range.

    Example:
        >>> make_classes_demo(Path("data/shapes"), seed=0)  # doctest: +SKIP
    """
    classes = tuple(classes)
    unknown = [c for c in classes if c not in CLASS_SHAPES]
    if (
        n_per_class < 1
        or n_test_per_class < 0
        or size < 16
        or len(classes) < 2
        or len(set(classes)) != len(classes)
        or unknown
    ):
        raise ConfigError(
            f"make_classes_demo needs n_per_class >= 1, n_test_per_class >= 0, size >= 16 and "
            f"at least 2 distinct classes from {', '.join(CLASS_SHAPES)}, got "
            f"n_per_class={n_per_class}, n_test_per_class={n_test_per_class}, size={size}, "
            f"classes={list(classes)}"
        )
    out = Path(out_dir)
    params = (
        f"seed={seed} n_per_class={n_per_class} n_test_per_class={n_test_per_class} "
        f"size={size} classes={','.join(classes)}"
    )
    _check_out_dir(out, params, CLASSES_DEMO_MARKER)
    out.mkdir(parents=True, exist_ok=True)
    (out / README_NAME).write_text(_classes_readme(params, classes))  # marks the folder first
    for split, count in (("train", n_per_class), ("test", n_test_per_class)):
        for c, kind in enumerate(classes):
            folder = out / split / kind
            folder.mkdir(parents=True, exist_ok=True)
            for k in range(count):
                rng = np.random.default_rng(
                    np.random.SeedSequence([seed, _STREAM_CLASSES[split], c, k])
                )
                write_image(folder / f"{k:04d}.png", render_class_image(rng, kind, size))
    log.info("wrote the classes demo dataset to %s (%s)", out, params)
