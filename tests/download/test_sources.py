"""``i2i datasets prepare``: every built-in converter on tiny archives in the upstream layouts
(Cityscapes, DIV2K, ADE20K, COCO-Stuff, the CycleGAN / pix2pix archives)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import i2i
from i2i.cli.app import build_app
from i2i.datasets.labelmap import read_label_map, read_palette
from i2i.datasets.sources.coco_stuff import LABELS

from .conftest import layout, png, png16, tar_bytes, zip_bytes


@pytest.fixture(scope="module")
def app():
    return build_app(i2i.load_context())


def prepare(app, *args):
    return CliRunner().invoke(
        app, ["datasets", "prepare", *[str(a) for a in args]], catch_exceptions=False
    )


def ok(result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def jpeg(w: int = 16, h: int = 16, seed: int = 0) -> bytes:
    return png(w, h, seed, fmt="JPEG")


def label_png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr.astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


# -- Cityscapes --------------------------------------------------------------------------------

FRAMES = {
    "train": ["aachen_000000_000019", "aachen_000001_000019"],
    "val": ["lindau_000000_000019"],
}


def cityscapes_zips(folder: Path) -> Path:
    gt: dict = {"README": b"gtFine", "license.txt": b"terms"}
    photos: dict = {"license.txt": b"terms"}
    rng = np.random.default_rng(0)
    for split, keys in {**FRAMES, "test": ["berlin_000000_000019"]}.items():
        for key in keys:
            city = key.split("_")[0]
            base = f"gtFine/{split}/{city}/{key}_gtFine"
            gt[f"{base}_labelIds.png"] = label_png(rng.integers(0, 34, (16, 32)))
            inst = rng.integers(0, 3, (16, 32)) + 26000
            gt[f"{base}_instanceIds.png"] = png16(inst)
            gt[f"{base}_color.png"] = png(32, 16, seed=len(gt))
            gt[f"{base}_polygons.json"] = b"{}"
            photos[f"leftImg8bit/{split}/{city}/{key}_leftImg8bit.png"] = png(32, 16, seed=len(gt))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gtFine_trainvaltest.zip").write_bytes(zip_bytes(gt))
    (folder / "leftImg8bit_trainvaltest.zip").write_bytes(zip_bytes(photos))
    return folder


def test_cityscapes_to_labelmap_with_instances_and_palette(app, tmp_path: Path) -> None:
    downloads = cityscapes_zips(tmp_path / "Downloads")
    dest = tmp_path / "cityscapes"
    out = ok(prepare(app, "spade/cityscapes", dest, downloads))
    assert f"{dest} is a valid 'labelmap' dataset" in out
    assert f"train with: i2i train spade {dest} --set use_instances=true" in out
    key = FRAMES["train"][0]
    for sub in ("images", "labels", "instances"):
        assert sorted(p.stem for p in (dest / "train" / sub).iterdir()) == sorted(FRAMES["train"])
    assert sorted(p.stem for p in (dest / "test" / "labels").iterdir()) == FRAMES["val"]
    palette = read_palette(dest / "palette.txt")
    assert palette.label_nc == 34 and palette.names[26] == "car" and palette.names[7] == "road"
    assert len(set(palette.colors)) == 34  # unique, though Cityscapes repeats some colours
    assert read_label_map(dest / "train" / "instances" / f"{key}.png").min() >= 26000
    assert sorted(p.name for p in downloads.iterdir()) == [
        "gtFine_trainvaltest.zip",
        "leftImg8bit_trainvaltest.zip",
    ]  # inputs untouched


def test_cityscapes_to_pix2pix_aligned(app, tmp_path: Path) -> None:
    d = cityscapes_zips(tmp_path / "dl")
    dest = tmp_path / "cs"
    out = ok(prepare(app, "pix2pix/cityscapes", dest, d / "gtFine_trainvaltest.zip",
                     d / "leftImg8bit_trainvaltest.zip"))  # fmt: skip
    assert f"train with: i2i train pix2pix {dest} --set direction=BtoA" in out
    files = sorted((dest / "train").iterdir())
    assert len(files) == 2 and sorted((dest / "val").iterdir())
    with Image.open(files[0]) as im:
        assert im.size == (512, 256)


def test_cityscapes_to_cyclegan_from_unpacked_folders(app, tmp_path: Path) -> None:
    import zipfile

    d = cityscapes_zips(tmp_path / "dl")
    for name in ("gtFine_trainvaltest.zip", "leftImg8bit_trainvaltest.zip"):
        with zipfile.ZipFile(d / name) as zf:
            zf.extractall(tmp_path / "unpacked")
        (d / name).unlink()
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "unpacked").rglob("*"))
    dest = tmp_path / "c"
    ok(prepare(app, "cyclegan/cityscapes", dest, tmp_path / "unpacked" / "gtFine",
               tmp_path / "unpacked" / "leftImg8bit"))  # fmt: skip
    assert {p.name: len(list(p.iterdir())) for p in dest.iterdir() if p.is_dir()} == {
        "trainA": 2, "trainB": 2, "testA": 1, "testB": 1,
    }  # fmt: skip
    with Image.open(next((dest / "trainB").iterdir())) as im:
        assert im.size == (256, 256)
    after = sorted(p.relative_to(tmp_path) for p in (tmp_path / "unpacked").rglob("*"))
    assert before == after  # folders given by the user are copied from, never moved


def test_cityscapes_with_a_missing_half_is_a_clear_error(app, tmp_path: Path) -> None:
    d = cityscapes_zips(tmp_path / "dl")
    r = prepare(app, "spade/cityscapes", tmp_path / "cs", d / "gtFine_trainvaltest.zip")
    assert r.exit_code == 1 and "leftImg8bit/train/CITY/*_leftImg8bit.png" in r.output
    assert not (tmp_path / "cs").exists() and not (tmp_path / ".cs.i2i-partial").exists()


# -- DIV2K -------------------------------------------------------------------------------------


def div2k_zips(folder: Path, scale: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    zips = {
        "DIV2K_train_HR.zip": {f"DIV2K_train_HR/{i:04d}.png": png(16, 24, i) for i in (1, 2)},
        "DIV2K_valid_HR.zip": {"DIV2K_valid_HR/0801.png": png(16, 24, 801)},
        f"DIV2K_train_LR_bicubic_X{scale}.zip": {
            f"DIV2K_train_LR_bicubic/X{scale}/{i:04d}x{scale}.png": png(16 // scale, 24 // scale, i)
            for i in (1, 2)
        },
        f"DIV2K_valid_LR_bicubic_X{scale}.zip": {
            f"DIV2K_valid_LR_bicubic/X{scale}/0801x{scale}.png": png(16 // scale, 24 // scale, 9)
        },
    }
    paths = []
    for name, entries in zips.items():
        (folder / name).write_bytes(zip_bytes(entries))
        paths.append(folder / name)
    return paths


@pytest.mark.parametrize("scale", [2, 4])
def test_div2k_bicubic_pairs(app, tmp_path: Path, scale: int) -> None:
    zips = div2k_zips(tmp_path / "dl", scale)
    dest = tmp_path / "div2k"
    out = ok(prepare(app, f"div2k/bicubic_x{scale}", dest, *zips))
    assert f"train with: i2i train srgan {dest} --set scale={scale}" in out
    assert sorted(p.name for p in (dest / "train" / "LR").iterdir()) == ["0001.png", "0002.png"]
    assert sorted(p.name for p in (dest / "val" / "HR").iterdir()) == ["0801.png"]


def test_div2k_hr_only(app, tmp_path: Path) -> None:
    zips = div2k_zips(tmp_path / "dl", 4)[:2]
    dest = tmp_path / "hr"
    out = ok(prepare(app, "div2k/hr", dest, *zips))
    assert f"train with: i2i train srgan {dest}\n" in out
    assert sorted(p.name for p in (dest / "train").iterdir()) == ["0001.png", "0002.png"]


# -- ADE20K ------------------------------------------------------------------------------------


def test_ade20k_shifts_ids_and_names_classes(app, tmp_path: Path) -> None:
    info = "Idx\tRatio\tTrain\tVal\tName\n" + "".join(
        f"{i}\t0.01\t10\t1\t{'wall' if i == 1 else f'thing{i}'};synonym\n" for i in range(1, 151)
    )
    label = np.array([[0, 1, 150, 2]] * 4, dtype=np.uint8)
    entries = {"ADEChallengeData2016/objectInfo150.txt": info.encode()}
    for split, stem in (("training", "ADE_train_00000001"), ("validation", "ADE_val_00000001")):
        entries[f"ADEChallengeData2016/images/{split}/{stem}.jpg"] = jpeg(4, 4)
        entries[f"ADEChallengeData2016/annotations/{split}/{stem}.png"] = label_png(label)
    (tmp_path / "ADEChallengeData2016.zip").write_bytes(zip_bytes(entries))
    dest = tmp_path / "ade"
    out = ok(prepare(app, "ade20k", dest, tmp_path / "ADEChallengeData2016.zip"))
    assert f"train with: i2i train spade {dest} --set dontcare=255" in out
    ids = read_label_map(dest / "train" / "labels" / "ADE_train_00000001.png")
    assert ids[0].tolist() == [255, 0, 149, 1]
    palette = read_palette(dest / "palette.txt")
    assert palette.label_nc == 150 and palette.names[0] == "wall" and palette.names[9] == "thing10"
    assert (dest / "test" / "images" / "ADE_val_00000001.jpg").is_file()


# -- COCO-Stuff --------------------------------------------------------------------------------


def test_coco_stuff_with_panoptic_instances(app, tmp_path: Path) -> None:
    stems = {"train2017": ["000000000009", "000000000025"], "val2017": ["000000000139"]}
    photos = {s: {f"{s}/{k}.jpg": jpeg(8, 8) for k in ks} for s, ks in stems.items()}
    stuff = np.array([[0, 181, 255, 5]] * 8, dtype=np.uint8).repeat(2, axis=1)
    labels = {f"{s}/{k}.png": label_png(stuff) for s, ks in stems.items() for k in ks}
    panoptic_png = np.zeros((8, 8, 3), np.uint8)
    panoptic_png[:, 4:] = (1, 2, 3)  # two segments: id 0 (void) and 1 + 2*256 + 3*65536
    inner = {
        s: zip_bytes({f"panoptic_{s}/{k}.png": label_png(panoptic_png) for k in ks})
        for s, ks in stems.items()
    }
    d = tmp_path / "coco"
    d.mkdir()
    (d / "train2017.zip").write_bytes(zip_bytes(photos["train2017"]))
    (d / "val2017.zip").write_bytes(zip_bytes(photos["val2017"]))
    (d / "stuffthingmaps_trainval2017.zip").write_bytes(zip_bytes(labels))
    (d / "panoptic_annotations_trainval2017.zip").write_bytes(
        zip_bytes({f"annotations/panoptic_{s}.zip": b for s, b in inner.items()})
    )
    dest = tmp_path / "coco_stuff"
    out = ok(prepare(app, "spade/coco_stuff", dest, d))
    assert f"i2i train spade {dest} --set dontcare=255 --set use_instances=true" in out
    inst = read_label_map(dest / "train" / "instances" / "000000000009.png")
    assert inst[0, 0] == 0 and inst[0, 7] == 1
    assert (dest / "test" / "labels" / "000000000139.png").is_file()
    assert read_palette(dest / "palette.txt").names[181] == "wood" and len(LABELS) == 182


# -- the archives that already are a layout ----------------------------------------------------


def test_cyclegan_and_pix2pix_archives_from_local_files(app, tmp_path: Path) -> None:
    (tmp_path / "horse2zebra.zip").write_bytes(zip_bytes(layout("unpaired", "horse2zebra")))
    (tmp_path / "maps.tar.gz").write_bytes(tar_bytes(layout("aligned", "maps")))
    out = ok(prepare(app, "horse2zebra", tmp_path / "h2z", tmp_path / "horse2zebra.zip"))
    assert "is a valid 'unpaired' dataset (trainA: 2, trainB: 1, testA: 1, testB: 1)" in out
    out = ok(prepare(app, "pix2pix/maps", tmp_path / "maps", tmp_path))  # folder with the tarball
    assert f"train with: i2i train pix2pix {tmp_path / 'maps'}\n" in out


def test_prepare_input_errors(app, tmp_path: Path) -> None:
    r = prepare(app, "horse2zebra", tmp_path / "h", tmp_path / "missing.zip")
    assert r.exit_code == 1 and "does not exist" in r.output
    (tmp_path / "notes.txt").write_text("hello")
    r = prepare(app, "horse2zebra", tmp_path / "h", tmp_path / "notes.txt")
    assert r.exit_code == 1 and "neither a folder nor a zip/tar archive" in r.output
    r = prepare(app, "horse2zebra", tmp_path, tmp_path / "notes.txt")
    assert r.exit_code == 1 and "inside the target" in r.output
    (tmp_path / "h.zip").write_bytes(zip_bytes({"x/readme.txt": b"hi"}))
    r = prepare(app, "horse2zebra", tmp_path / "h", tmp_path / "h.zip")
    assert r.exit_code == 1 and "found no folder holding trainA/, trainB/" in r.output
    assert not (tmp_path / "h").exists()
