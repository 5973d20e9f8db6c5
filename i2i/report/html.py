"""The results page of a run: ``RUN/index.html``.

One self-contained HTML file (inline CSS and SVG, no scripts, no network) that links to the run's
files with relative paths only, so the run folder can be moved, zipped or served as is. The page
is rebuilt from what is on disk, so it can be written at any time during training; every optional
file (status, metrics, samples, translations, checkpoints, even the config) may be missing or
damaged without making it fail.

Example:
    >>> write_run_page(Path("runs/horse2zebra"))
    PosixPath('runs/horse2zebra/index.html')
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from i2i import __version__
from i2i.errors import I2IError
from i2i.files import atomic_write_text
from i2i.report._html import (
    esc,
    href,
    read_json,
    read_text,
    rel,
    size_text,
    to_int,
    value_text,
)
from i2i.report.evaluation import evaluation_section
from i2i.report.plots import charts_for_run, read_metrics
from i2i.report.records import evaluations_section, exports_table, tracking_facts

try:  # Python >= 3.11
    import tomllib as _toml
except ModuleNotFoundError:  # pragma: no cover - Python 3.10 without tomli
    try:
        import tomli as _toml  # type: ignore[no-redef]
    except ModuleNotFoundError:
        _toml = None  # type: ignore[assignment]

__all__ = ["write_run_page"]

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")
MAX_HISTORY = 48  # earlier sample grids shown (evenly spaced over the run)
MAX_TRANSLATIONS = 24  # translation pairs shown
REFRESH_SECONDS = 60  # a running run's page reloads itself this often


# ---------------------------------------------------------------------------------------------
# Tolerant readers


def _parse_toml(text: str | None) -> dict[str, Any]:
    if not text or _toml is None:
        return {}
    try:
        return _toml.loads(text)
    except Exception as exc:  # noqa: BLE001 - any parse problem only loses fallbacks
        log.debug("config.toml could not be parsed: %s", exc)
        return {}


def _number_in(name: str) -> int | None:
    found = re.findall(r"\d+", name)
    return int(found[-1]) if found else None


# ---------------------------------------------------------------------------------------------
# What the page shows


@dataclass
class _Status:
    family: str | None = None
    status: str | None = None
    step: int | None = None
    total_steps: int | None = None
    message: str | None = None
    skipped_images: int | None = None


def _status(run_dir: Path, config: Mapping[str, Any], records: list[dict[str, Any]]) -> _Status:
    raw = read_json(run_dir / "status.json")
    st = _Status()
    if isinstance(raw, Mapping):
        st.family = str(raw["family"]) if raw.get("family") else None
        st.status = str(raw["status"]) if raw.get("status") else None
        st.step = to_int(raw.get("step"))
        st.total_steps = to_int(raw.get("total_steps"))
        st.message = str(raw["message"]) if raw.get("message") else None
        st.skipped_images = to_int(raw.get("skipped_images"))
    # Fallbacks for a run without status.json (very early, or written by an older version).
    if st.family is None:
        for key in ("family", "model"):
            if isinstance(config.get(key), str):
                st.family = config[key]
                break
    if st.step is None:
        steps = [to_int(r.get("step")) for r in records]
        st.step = max((s for s in steps if s is not None), default=None)
    if st.total_steps is None:
        train = config.get("train")
        steps = to_int(train.get("steps")) if isinstance(train, Mapping) else None
        st.total_steps = steps if steps else None
    return st


@dataclass
class _Image:
    rel: str
    name: str
    step: int | None
    size: tuple[int, int] | None


def _image_size(path: Path) -> tuple[int, int] | None:
    try:
        with Image.open(path) as im:
            return im.size
    except Exception:  # noqa: BLE001 - a broken image only loses its size hint
        return None


def _samples(run_dir: Path) -> list[_Image]:
    folder = run_dir / "samples"
    try:
        files = [
            p
            for p in folder.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
        ]
    except OSError:
        return []

    def order(p: Path) -> tuple[int, str]:
        n = _number_in(p.stem)
        return (n if n is not None else -1, p.name)

    return [
        _Image(rel(p, run_dir), p.name, _number_in(p.stem), None) for p in sorted(files, key=order)
    ]


def _spread(items: list[Any], count: int) -> list[Any]:
    """At most ``count`` items evenly spaced over ``items``, first and last included."""
    if len(items) <= count:
        return items
    idx = sorted({round(i * (len(items) - 1) / (count - 1)) for i in range(count)})
    return [items[i] for i in idx]


@dataclass
class _Pair:
    input_rel: str | None  # None: the file is missing
    input_name: str
    output_rel: str | None
    output_name: str


def _locate(value: Any, run_dir: Path, allow_cwd: bool) -> tuple[str | None, str]:
    """(relative link or None when missing, display name) of a path from an index file."""
    if not isinstance(value, str) or not value:
        return None, "?"
    path = Path(value)
    name = path.name or value
    candidates = [path] if path.is_absolute() else [run_dir / path]
    if allow_cwd and not path.is_absolute():
        candidates.append(Path.cwd() / path)
    for cand in candidates:
        try:
            if cand.is_file():
                return rel(cand.resolve(), run_dir.resolve()), name
        except (OSError, ValueError):  # e.g. another drive on Windows
            continue
    return None, name


def _translations(run_dir: Path) -> tuple[list[_Pair], int]:
    """The first translation pairs and how many there are in all."""
    root = run_dir / "translations"
    indexes = [root / "index.json"]
    try:
        indexes += sorted(p / "index.json" for p in root.iterdir() if p.is_dir())
    except OSError:
        pass
    entries: list[Mapping[str, Any]] = []
    for index in indexes:
        data = read_json(index)
        if isinstance(data, Mapping):
            data = data.get("items", data.get("pairs"))
        if isinstance(data, list):
            entries += [e for e in data if isinstance(e, Mapping)]
    pairs = []
    for entry in entries[:MAX_TRANSLATIONS]:
        in_rel, in_name = _locate(entry.get("input"), run_dir, allow_cwd=True)
        out_rel, out_name = _locate(entry.get("output"), run_dir, allow_cwd=False)
        pairs.append(_Pair(in_rel, in_name, out_rel, out_name))
    return pairs, len(entries)


@dataclass
class _Checkpoint:
    name: str
    step: int | None
    latest: bool
    size: int
    modified: float | None


def _checkpoints(run_dir: Path) -> list[_Checkpoint]:
    folder = run_dir / "checkpoints"
    latest = (read_text(folder / "latest") or "").strip()
    out = []
    try:
        dirs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except OSError:
        return []
    for d in dirs:
        size, modified = 0, None
        try:
            for f in d.rglob("*"):
                if f.is_file():
                    size += f.stat().st_size
            modified = d.stat().st_mtime
        except OSError:
            pass
        out.append(_Checkpoint(d.name, _number_in(d.name), d.name == latest, size, modified))
    return sorted(out, key=lambda c: (c.step if c.step is not None else -1, c.name))


# ---------------------------------------------------------------------------------------------
# Formatting


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}h {m:02d}m"
    if m:
        return f"{m}m {s:02d}s"
    return f"{s}s"


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return _dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


STATUS_CLASSES = {
    "running": "running",
    "completed": "completed",
    "interrupted": "interrupted",
    "failed": "failed",
}

CSS = """
:root { --fg: #1d1f23; --muted: #626873; --line: #e2e4e8; --bg: #f6f7f9; --card: #ffffff;
  --accent: #2f6fdb; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 20px 48px; }
header.top h1 { margin: 0 0 6px; font-size: 26px; font-weight: 650; word-break: break-all; }
header.top .sub { display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: center;
  color: var(--muted); }
.badge { display: inline-block; padding: 1px 10px; border-radius: 999px; font-size: 13px;
  font-weight: 600; background: #e9ecf1; color: #39404a; }
.badge.family { background: #ece8fb; color: #4b3a99; }
.badge.running { background: #e1ecff; color: #1d56b8; }
.badge.completed { background: #def5e5; color: #17703a; }
.badge.interrupted { background: #fff1d6; color: #8a5a00; }
.badge.failed { background: #fde2e1; color: #a3221b; }
.progress { margin: 14px 0 4px; height: 10px; background: #e3e6eb; border-radius: 999px;
  overflow: hidden; }
.progress > div { height: 100%; background: var(--accent); border-radius: 999px; }
.progress.completed > div { background: #2e9d5b; }
.progress.failed > div { background: #d2473f; }
.progress.interrupted > div { background: #d99a1c; }
.facts { display: flex; flex-wrap: wrap; gap: 6px 22px; margin: 8px 0 0; padding: 0;
  list-style: none; color: var(--muted); font-size: 14px; }
.facts b { color: var(--fg); font-weight: 600; }
.message { margin: 14px 0 0; padding: 10px 14px; border-radius: 8px; background: #eef3fb;
  border: 1px solid #d6e2f5; white-space: pre-wrap; word-break: break-word; }
.message.failed { background: #fdeeed; border-color: #f3c9c6; }
.message.warn { background: #fff6e3; border-color: #f1dcae; }
nav { margin: 18px 0 0; display: flex; flex-wrap: wrap; gap: 6px; }
nav a { padding: 3px 12px; border-radius: 6px; background: var(--card);
  border: 1px solid var(--line); color: var(--fg); text-decoration: none; font-size: 14px; }
nav a:hover { border-color: var(--accent); color: var(--accent); }
section { margin-top: 22px; background: var(--card); border: 1px solid var(--line);
  border-radius: 12px; padding: 16px 20px 20px; }
section > h2 { margin: 0 0 12px; font-size: 18px; font-weight: 650; }
section > h2 small { font-weight: 400; color: var(--muted); font-size: 14px; margin-left: 6px; }
.empty { color: var(--muted); font-style: italic; margin: 0; }
.latest { margin: 0; text-align: center; }
.latest img { max-width: 100%; height: auto; border-radius: 4px; background: #202024; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
figcaption a, td a { color: inherit; }
.pixelated { image-rendering: pixelated; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 14px; }
.charts figure { margin: 0; border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
.charts svg { display: block; width: 100%; height: auto; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr));
  gap: 12px; }
.gallery figure { margin: 0; }
.gallery img { width: 100%; height: auto; border-radius: 4px; border: 1px solid var(--line);
  background: #202024; }
.pairs { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 14px; }
.pair { margin: 0; }
h3 { font-size: 15px; margin: 16px 0 8px; }
h3 small { font-weight: 400; color: var(--muted); }
.pair .sides { display: grid; grid-template-columns: 1fr 1fr; gap: 4px; }
.pair img { width: 100%; height: auto; border-radius: 4px; border: 1px solid var(--line);
  background: #202024; }
.missing { display: flex; align-items: center; justify-content: center; min-height: 90px;
  border: 1px dashed #c9ccd2; border-radius: 4px; color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: 600; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.metrics { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr));
  gap: 4px 18px; margin: 0; font-size: 14px; }
.metrics div { display: flex; justify-content: space-between; border-bottom: 1px dotted #d8dbe0;
  padding: 2px 0; gap: 8px; }
.metrics dt { color: var(--muted); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.metrics dd { margin: 0; font-variant-numeric: tabular-nums; }
pre.config { margin: 0; padding: 14px 16px; background: #f3f4f7; border-radius: 8px;
  border: 1px solid var(--line); overflow: auto; max-height: 640px;
  font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
footer { margin-top: 28px; color: var(--muted); font-size: 13px; text-align: center; }
"""


# ---------------------------------------------------------------------------------------------
# Sections


def _header(name: str, st: _Status, records: list[dict[str, Any]]) -> list[str]:
    status_cls = STATUS_CLASSES.get((st.status or "").lower(), "")
    out = ['<header class="top">', f"<h1>{esc(name)}</h1>", '<div class="sub">']
    if st.family:
        out.append(f'<span class="badge family">{esc(st.family)}</span>')
    out.append(f'<span class="badge {status_cls}">{esc(st.status or "status unknown")}</span>')
    out.append("</div>")

    if st.step is not None and st.total_steps:
        frac = min(max(st.step / st.total_steps, 0.0), 1.0)
        out.append(
            f'<div class="progress {status_cls}" role="progressbar" aria-valuemin="0" '
            f'aria-valuemax="{st.total_steps}" aria-valuenow="{st.step}">'
            f'<div style="width: {frac * 100:.1f}%"></div></div>'
        )

    facts = []
    if st.step is not None:
        total = f" / {st.total_steps:,}" if st.total_steps else ""
        pct = f" ({st.step / st.total_steps:.0%})" if st.total_steps else ""
        facts.append(f"step <b>{st.step:,}{esc(total)}</b>{esc(pct)}")
    elapsed, t_step = None, None
    for rec in reversed(records):
        t = rec.get("time")
        if isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t):
            elapsed, t_step = float(t), to_int(rec.get("step"))
            break
    if elapsed is not None and elapsed > 0:
        facts.append(f"elapsed <b>{esc(_duration(elapsed))}</b>")
        if t_step:
            rate = t_step / elapsed
            facts.append(f"<b>{rate:.3g}</b> steps/s")
            if (st.status or "").lower() == "running" and st.total_steps and st.step is not None:
                left = max(st.total_steps - st.step, 0) / rate if rate > 0 else None
                if left:
                    facts.append(f"about <b>{esc(_duration(left))}</b> left")
    if st.skipped_images is not None:
        facts.append(f"skipped images <b>{st.skipped_images:,}</b>")
    if facts:
        out.append('<ul class="facts">' + "".join(f"<li>{f}</li>" for f in facts) + "</ul>")
    if st.message:
        kind = (
            "failed" if status_cls == "failed" else ("warn" if status_cls == "interrupted" else "")
        )
        out.append(f'<p class="message {kind}">{esc(st.message)}</p>')
    if st.skipped_images:
        out.append(
            f'<p class="message warn">{st.skipped_images:,} image(s) could not be read and were '
            "skipped; see the training log for their names.</p>"
        )
    out.append("</header>")
    return out


def _latest_sample(run_dir: Path, samples: list[_Image]) -> list[str]:
    out = ['<section id="samples">', "<h2>Latest samples</h2>"]
    if not samples:
        out.append('<p class="empty">No sample grids yet.</p></section>')
        return out
    last = samples[-1]
    size = _image_size(run_dir / last.rel)
    attrs, cls = "", ""
    if size:
        w, h = size
        scale = max(1, min(4, 800 // max(w, 1)))  # blow small grids up, crisply
        attrs = f' width="{w * scale}" height="{h * scale}"'
        cls = ' class="pixelated"' if scale > 1 else ""
    caption = f"step {last.step:,}" if last.step is not None else last.name
    out.append(
        f'<figure class="latest"><a href="{href(last.rel)}"><img src="{href(last.rel)}"'
        f'{attrs}{cls} alt="{esc("sample grid " + last.name)}"></a>'
        f'<figcaption>{esc(caption)} &middot; <a href="{href(last.rel)}">{esc(last.rel)}</a>'
        "</figcaption></figure>"
    )
    out.append("</section>")
    return out


def _charts(records: list[dict[str, Any]]) -> list[str]:
    out = ['<section id="losses">', "<h2>Losses</h2>"]
    try:
        charts = charts_for_run(records)
    except Exception:  # noqa: BLE001 - a chart bug must not cost the whole page
        log.exception("could not draw the loss charts")
        charts = []
    if not charts:
        out.append('<p class="empty">No metrics logged yet.</p></section>')
        return out
    out.append('<div class="charts">')
    for title, svg in charts:
        out.append(f'<figure aria-label="{esc(title)}">{svg}</figure>')
    out.append("</div>")
    last = {k: v for k, v in records[-1].items() if k != "step"} if records else {}
    if last:
        step = to_int(records[-1].get("step"))
        where = f" at step {step:,}" if step is not None else ""
        out.append(f"<h2 style='margin-top:18px'>Latest values<small>{esc(where)}</small></h2>")
        out.append('<dl class="metrics">')
        for k, v in last.items():
            if isinstance(v, (dict, list)):
                continue
            out.append(
                f"<div><dt title='{esc(k)}'>{esc(k)}</dt><dd>{esc(value_text(v))}</dd></div>"
            )
        out.append("</dl>")
    out.append("</section>")
    return out


def _history(samples: list[_Image]) -> list[str]:
    earlier = samples[:-1]
    if not earlier:
        return []
    shown = _spread(earlier, MAX_HISTORY)
    note = f"{len(shown)} of {len(earlier)}, evenly spaced" if len(shown) < len(earlier) else ""
    out = [
        '<section id="history">',
        f"<h2>Sample history<small>{esc(note)}</small></h2>",
        '<div class="gallery">',
    ]
    for img in reversed(shown):
        caption = f"step {img.step:,}" if img.step is not None else img.name
        out.append(
            f'<figure><a href="{href(img.rel)}"><img src="{href(img.rel)}" loading="lazy" '
            f'alt="{esc("sample grid " + img.name)}"></a>'
            f"<figcaption>{esc(caption)}</figcaption></figure>"
        )
    out.append("</div></section>")
    return out


def _side(rel: str | None, name: str, what: str) -> str:
    if rel is None:
        return f'<div class="missing" title="{esc(name)}">{esc(what)} missing</div>'
    return (
        f'<a href="{href(rel)}"><img src="{href(rel)}" loading="lazy" '
        f'alt="{esc(what + " " + name)}" title="{esc(name)}"></a>'
    )


def _translations_section(pairs: list[_Pair], total: int) -> list[str]:
    if not total:
        return []
    note = f"first {len(pairs)} of {total}" if total > len(pairs) else f"{total}"
    out = [
        '<section id="translations">',
        f"<h2>Translations<small>{esc(note)} &middot; input | output</small></h2>",
        '<div class="pairs">',
    ]
    for p in pairs:
        out.append(
            '<figure class="pair"><div class="sides">'
            f"{_side(p.input_rel, p.input_name, 'input')}"
            f"{_side(p.output_rel, p.output_name, 'output')}</div>"
            f"<figcaption>{esc(p.input_name)} &rarr; {esc(p.output_name)}</figcaption></figure>"
        )
    out.append("</div></section>")
    return out


def _checkpoints_section(checkpoints: list[_Checkpoint], exports: list[str]) -> list[str]:
    out = ['<section id="checkpoints">', "<h2>Checkpoints</h2>"]
    if not checkpoints:
        out.append('<p class="empty">No checkpoints yet.</p>')
        return [*out, *exports, "</section>"]
    out.append(
        '<table><thead><tr><th>checkpoint</th><th class="num">step</th><th class="num">size</th>'
        "<th>saved</th><th></th></tr></thead><tbody>"
    )
    for c in reversed(checkpoints):
        rel = f"checkpoints/{c.name}/"
        step = f"{c.step:,}" if c.step is not None else ""
        latest = '<span class="badge completed">latest</span>' if c.latest else ""
        out.append(
            f'<tr><td><a href="{href(rel)}">{esc(c.name)}</a></td><td class="num">{step}</td>'
            f'<td class="num">{esc(size_text(c.size))}</td><td>{esc(_when(c.modified))}</td>'
            f"<td>{latest}</td></tr>"
        )
    out.append("</tbody></table>")
    return [*out, *exports, "</section>"]


def _config_section(config_text: str | None) -> list[str]:
    out = ['<section id="config">', "<h2>Configuration<small>config.toml</small></h2>"]
    if config_text is None:
        out.append('<p class="empty">No config.toml in this run folder.</p>')
    else:
        out.append(f'<pre class="config">{esc(config_text)}</pre>')
    out.append("</section>")
    return out


# ---------------------------------------------------------------------------------------------
# Page


def render_run_page(run_dir: str | Path) -> str:
    """The HTML of a run's results page (what :func:`write_run_page` writes).

    Args:
        run_dir: The run folder.

    Returns:
        The complete HTML document.
    """
    run_dir = Path(run_dir)
    name = run_dir.resolve().name or str(run_dir)
    config_text = read_text(run_dir / "config.toml")
    config = _parse_toml(config_text)
    records = read_metrics(run_dir / "metrics.jsonl")
    st = _status(run_dir, config, records)
    samples = _samples(run_dir)
    pairs, n_pairs = _translations(run_dir)
    checkpoints = _checkpoints(run_dir)

    title = " · ".join(x for x in (name, st.family, st.status) if x)
    refresh = (
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">\n'
        if (st.status or "").lower() == "running"
        else ""
    )
    links = [("samples", "Samples"), ("losses", "Losses")]
    if len(samples) > 1:
        links.append(("history", "History"))
    # the last evaluation (eval/eval.json, the score curve of --eval-every) and the table of
    # every evaluation the hook recorded (evaluations.jsonl)
    last_eval, all_evals = evaluation_section(run_dir), evaluations_section(run_dir)
    evaluation = last_eval + all_evals
    if evaluation:
        links.append(("evaluation" if last_eval else "evaluations", "Evaluation"))
    if n_pairs:
        links.append(("translations", "Translations"))
    links += [("checkpoints", "Checkpoints"), ("config", "Config")]

    body: list[str] = []
    body += _header(name, st, records)
    tracked = tracking_facts(run_dir)
    if tracked:
        body.append('<ul class="facts">' + "".join(f"<li>{t}</li>" for t in tracked) + "</ul>")
    body.append("<nav>" + "".join(f'<a href="#{i}">{esc(t)}</a>' for i, t in links) + "</nav>")
    body += _latest_sample(run_dir, samples)
    body += _charts(records)
    body += evaluation
    body += _history(samples)
    body += _translations_section(pairs, n_pairs)
    body += _checkpoints_section(checkpoints, exports_table(run_dir))
    body += _config_section(config_text)
    now = _dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    auto = f" &middot; reloads every {REFRESH_SECONDS} s while running" if refresh else ""
    body.append(f"<footer>written by i2i {esc(__version__)} on {esc(now)}{auto}</footer>")

    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"{refresh}"
        f"<title>{esc(title)}</title>\n"
        f"<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + "\n</main>\n</body>\n</html>\n"
    )


def write_run_page(run_dir: str | Path) -> Path:
    """Write ``RUN/index.html``, the run's results page, atomically.

    The page shows the family, status and progress (``status.json``), skipped images, loss
    charts (``metrics.jsonl``, inline SVG), the latest sample grid large and earlier ones as a
    gallery (``samples/``), evaluations (``evaluations.jsonl``), input/output pairs of
    ``i2i translate`` (``translations/index.json``, the first 24), the checkpoints and exported
    models (``artifacts.jsonl``), where the experiment trackers put the run and what they lost
    (``tracking.json``) and the ``config.toml`` text. It is self-contained and uses relative
    links only (tracker links excepted), so the folder can be moved or zipped. Any optional
    file may be missing
    or damaged; a run folder holding only ``config.toml`` gives a valid page.

    Args:
        run_dir: The run folder.

    Returns:
        The path of the written ``index.html``.

    Raises:
        I2IError: ``run_dir`` is not an existing folder.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise I2IError(
            f"run folder {str(run_dir)!r} does not exist or is not a folder; pass the folder that "
            "holds config.toml (e.g. runs/NAME)"
        )
    page = render_run_page(run_dir)
    path = atomic_write_text(run_dir / "index.html", page)
    log.debug("wrote results page %s", path)
    return path
