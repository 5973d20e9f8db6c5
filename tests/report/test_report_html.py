"""Tests of i2i.report.html: the run results page."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import torch
from PIL import Image

from i2i.errors import I2IError
from i2i.report import save_grid, write_run_page

VOID = {"meta", "link", "img", "br", "hr", "input", "source", "col", "area", "base", "wbr"}

CONFIG = 'family = "cyclegan"\n\n[train]\nsteps = 400\n\n[model]\nnote = "<b>tags</b> & more"\n'


class _Page(HTMLParser):
    """Collects links and checks that non-void tags are balanced."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.tags: list[str] = []
        self.stack: list[str] = []
        self.imgs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.links.append(value)
                if tag == "img" and name == "src":
                    self.imgs.append(value)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()


def _parse(path: Path) -> tuple[str, _Page]:
    text = path.read_text(encoding="utf-8")
    page = _Page()
    page.feed(text)
    page.close()
    assert page.stack == [], f"unclosed tags: {page.stack}"
    return text, page


def _image(path: Path, size: tuple[int, int] = (24, 16)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (200, 40, 40)).save(path)


def _fake_run(root: Path) -> Path:
    run = root / "runs" / "horse2zebra"
    run.mkdir(parents=True)
    (run / "config.toml").write_text(CONFIG)
    lines = [
        json.dumps(
            {
                "step": s,
                "time": s * 0.5,
                "G/total": 1.0 / s,
                "G/gan_A": 0.3,
                "D/total": 0.6,
                "lr/G": 2e-4,
            }
        )
        for s in range(10, 130, 10)
    ]
    (run / "metrics.jsonl").write_text("\n".join(lines) + '\n{"step": 130, "G/')
    for step in (200, 400):
        images = {"real_A": torch.zeros(2, 3, 16, 16), "fake_B": torch.zeros(2, 1, 16, 16)}
        save_grid(images, run / "samples" / f"step_{step:06d}.png")
    for step in (500, 1000):
        ckpt = run / "checkpoints" / f"step_{step:06d}"
        ckpt.mkdir(parents=True)
        (ckpt / "model.safetensors").write_bytes(b"0" * 2048)
    (run / "checkpoints" / "latest").write_text("step_001000\n")
    (run / "status.json").write_text(
        json.dumps(
            {
                "family": "cyclegan",
                "status": "running",
                "step": 120,
                "total_steps": 400,
                "message": "training on <cpu>",
                "skipped_images": 3,
            }
        )
    )
    # translations: inputs outside the run (relative to it), inside it (absolute) and missing
    data = root / "data"
    _image(data / "photo 1.png")
    _image(run / "translations" / "inputs" / "b.png")
    _image(run / "translations" / "out" / "photo 1.png")
    _image(run / "translations" / "out" / "b.png")
    index = [
        {"input": str(data / "photo 1.png"), "output": "translations/out/photo 1.png"},
        {
            "input": str(run / "translations" / "inputs" / "b.png"),
            "output": "translations/out/b.png",
        },
        {"input": "gone.png", "output": "translations/out/gone.png"},
    ] + [{"input": "x.png", "output": f"translations/out/{i}.png"} for i in range(40)]
    (run / "translations" / "index.json").write_text(json.dumps(index))
    return run


def _assert_relative_links(run: Path, page: _Page) -> None:
    for link in page.links:
        parts = urlsplit(link)
        assert not parts.scheme and not parts.netloc, link
        assert not link.startswith("/"), link
        if parts.fragment and not parts.path:
            continue
        assert (run / unquote(parts.path)).exists(), f"broken link {link}"


def test_full_run_page(tmp_path: Path) -> None:
    run = _fake_run(tmp_path)
    path = write_run_page(run)
    assert path == run / "index.html"
    text, page = _parse(path)

    assert "<title>horse2zebra · cyclegan · running</title>" in text
    assert "120 / 400" in text and "30%" in text
    assert "skipped images <b>3</b>" in text
    assert "training on &lt;cpu&gt;" in text
    assert 'http-equiv="refresh"' in text  # running pages reload themselves
    # charts: one inline SVG per group
    assert text.count("<svg") == 3
    assert 'data-key="G/gan_A"' in text
    # latest sample large, earlier one in the history gallery
    assert page.imgs[0] == "samples/step_000400.png"
    assert "samples/step_000200.png" in page.imgs
    # translations: at most 24 pairs, the rest counted; inputs linked relatively
    assert "first 24 of 43" in text
    assert "../../data/photo%201.png" in page.imgs
    assert "translations/inputs/b.png" in page.imgs
    assert "translations/out/photo%201.png" in page.imgs
    assert "input missing" in text
    # checkpoints, latest marked
    assert "step_000500" in text and "step_001000" in text
    assert text.index("step_001000") < text.index("step_000500")
    assert "latest</span>" in text
    # config verbatim, escaped
    assert "note = &quot;&lt;b&gt;tags&lt;/b&gt; &amp; more&quot;" in text
    assert "<b>tags</b>" not in text
    # self-contained
    assert "script" not in page.tags and "link" not in page.tags
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text
    _assert_relative_links(run, page)
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []


def test_page_survives_moving_the_folder(tmp_path: Path) -> None:
    run = _fake_run(tmp_path)
    shutil.rmtree(run / "translations")  # its inputs point outside the run
    write_run_page(run)
    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(run, moved)
    _, page = _parse(moved / "index.html")
    _assert_relative_links(moved, page)


def test_run_with_only_config(tmp_path: Path) -> None:
    run = tmp_path / "early"
    run.mkdir()
    (run / "config.toml").write_text(CONFIG)
    text, page = _parse(write_run_page(run))
    assert "cyclegan" in text  # family from the config when status.json is missing
    assert "No sample grids yet." in text
    assert "No metrics logged yet." in text
    assert "No checkpoints yet." in text
    assert "&lt;b&gt;tags" in text
    assert "<svg" not in text and 'http-equiv="refresh"' not in text
    _assert_relative_links(run, page)


def test_empty_folder_and_damaged_files_never_raise(tmp_path: Path) -> None:
    run = tmp_path / "broken"
    run.mkdir()
    text, _ = _parse(write_run_page(run))
    assert "No config.toml" in text

    (run / "config.toml").write_text("this is [not toml")
    (run / "status.json").write_text("{not json")
    (run / "metrics.jsonl").write_text('garbage\n{"step": "x"}\n{"step": 3, "G/a": null}\n{"st')
    (run / "samples").write_text("a file, not a folder")
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "latest").write_text("nothing")
    (run / "translations").mkdir()
    (run / "translations" / "index.json").write_text('{"items": [1, {"input": 3}]}')
    text, page = _parse(write_run_page(run))
    assert "status unknown" in text
    assert "this is [not toml" in text
    _assert_relative_links(run, page)


def test_failed_status_is_shown(tmp_path: Path) -> None:
    run = tmp_path / "r"
    run.mkdir()
    (run / "status.json").write_text(
        json.dumps({"family": "pix2pix", "status": "failed", "message": "loss became NaN"})
    )
    text, _ = _parse(write_run_page(run))
    assert 'class="badge failed"' in text and 'class="message failed"' in text
    assert "loss became NaN" in text


def test_missing_run_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(I2IError, match="does not exist"):
        write_run_page(tmp_path / "nope")


def test_evaluations_exports_and_trackers_are_shown_and_damage_is_tolerated(tmp_path: Path):
    run = tmp_path / "r"
    (run / "checkpoints" / "step_0000004").mkdir(parents=True)
    (run / "config.toml").write_text(CONFIG)
    (run / "eval").mkdir()
    (run / "model.onnx").write_bytes(b"x" * 2048)
    lines = [
        {"step": 2, "metrics": {"psnr": 20.25, "fid": 80.5}, "out_dir": "eval"},
        {"step": 4, "metrics": {"psnr": 22.75, "fid": None}, "out_dir": None},
    ]
    (run / "evaluations.jsonl").write_text(
        "\n".join(json.dumps(x) for x in lines) + '\n{"step": 6, "metr'  # cut mid-write
    )
    (run / "artifacts.jsonl").write_text(
        json.dumps({"kind": "onnx", "path": "model.onnx", "step": 4, "size": 2048}) + "\nbad\n"
    )
    (run / "tracking.json").write_text(
        json.dumps(
            {
                "mlflow": {"where": "run abc", "url": "http://h:5000/#/experiments/1",
                           "run_id": "abc", "dropped": 7, "errors": 2, "last_error": "<gone>"},
                "tensorboard": {"where": "event files in /x"},
                "junk": 3,
            }
        )
    )  # fmt: skip
    text, page = _parse(write_run_page(run))
    assert "Evaluation" in text and "22.75" in text and "80.5" in text
    assert "Exported models" in text and "model.onnx" in text and "2.0 KB" in text
    assert "7 record(s) dropped, 2 error(s)" in text and "&lt;gone&gt;" in text  # escaped
    assert "http://h:5000/#/experiments/1/runs/abc" in page.links  # the one absolute link
    page.links = [x for x in page.links if not x.startswith("http://h:5000/")]
    _assert_relative_links(run, page)
    for name in ("evaluations.jsonl", "artifacts.jsonl", "tracking.json"):
        (run / name).write_text("{[ damaged")
    text, _ = _parse(write_run_page(run))
    assert "Exported models" not in text and "record(s) dropped" not in text
