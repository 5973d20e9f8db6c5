"""The results page's evaluation section: ``RUN/eval/eval.json`` and ``RUN/eval/history.jsonl``.

Shows the numbers of the last ``i2i eval`` as a table (with the metrics skipped for lack of
weights), the best and worst examples it picked, the nearest-training-neighbour grid, and the
headline score over the training steps (evaluation during training) with the best step marked.
Every file is optional; damaged ones are ignored.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from i2i.report._html import esc, href, read_json

__all__ = ["evaluation_section", "read_history"]

_SKIP = {"family", "step", "score", "examples", "nearest", "skipped", "per_class", "fid_note"}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    return str(v)


def read_history(run_dir: Path) -> list[dict[str, Any]]:
    """The lines of ``RUN/eval/history.jsonl`` (unreadable lines skipped), by step."""
    path = Path(run_dir) / "eval" / "history.jsonl"
    out: dict[int, dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
                out[int(rec["step"])] = rec
            except (ValueError, KeyError, TypeError):
                continue
    return [out[k] for k in sorted(out)]


def _history(run_dir: Path) -> list[dict[str, Any]]:
    return [h for h in read_history(run_dir) if isinstance(h.get("score"), dict)]


def _curve(history: list[dict[str, Any]], best_step: int | None) -> list[str]:
    from i2i.report.plots import loss_chart_svg

    name = history[-1]["score"].get("name", "score")
    records = [{"step": h["step"], name: h["score"].get("value")} for h in history]
    best = next((h for h in history if h["step"] == best_step), None)
    keys = [name]
    if best is not None:  # one point of its own: drawn as a dot on the curve
        records.append({"step": best["step"], f"best ({name})": best["score"]["value"]})
        keys.append(f"best ({name})")
    svg = loss_chart_svg(records, keys=keys, title=f"{name} over training steps")
    cap = f"best: step {best_step:,}" if best is not None else ""
    return [f'<div class="charts"><figure>{svg}<figcaption>{esc(cap)}</figcaption></figure></div>']


def _examples(ex: dict[str, Any]) -> list[str]:
    out = []
    for kind in ("best", "worst"):
        entries = ex.get(kind) or []
        if not entries:
            continue
        direction = "lowest" if ex.get("lower_is_better", True) == (kind == "best") else "highest"
        out.append(f"<h3>{kind} <small>({esc(direction)} {esc(ex.get('metric', ''))})</small></h3>")
        out.append('<div class="pairs">')
        for e in entries:
            imgs = "".join(
                f'<a href="{href("eval/" + f)}"><img src="{href("eval/" + f)}" loading="lazy" '
                f'alt="{esc(f)}" title="{esc(f)}"></a>'
                for f in e.get("files", [])
            )
            cols = max(1, len(e.get("files", [])))
            out.append(
                f'<figure class="pair"><div class="sides" style="grid-template-columns: '
                f'repeat({cols}, 1fr)">{imgs}</div><figcaption>{esc(e.get("image"))}: '
                f"{esc(_fmt(e.get('value')))}</figcaption></figure>"
            )
        out.append("</div>")
    return out


def evaluation_section(run_dir: Path) -> list[str]:
    """HTML lines of the ``#evaluation`` section (empty when the run has no evaluation)."""
    run_dir = Path(run_dir)
    result = read_json(run_dir / "eval" / "eval.json")
    history = _history(run_dir)
    if not isinstance(result, dict) and not history:
        return []
    best = (run_dir / "checkpoints" / "best").read_text().strip() if (
        run_dir / "checkpoints" / "best"
    ).is_file() else ""  # fmt: skip
    best_step = int(best[5:]) if best.startswith("step_") and best[5:].isdigit() else None
    sub = []
    if isinstance(result, dict) and result.get("step"):
        sub.append(f"step {result['step']:,}")
    if isinstance(result, dict) and result.get("fid_protocol"):
        sub.append(f"FID protocol {result['fid_protocol']}")
    out = [
        '<section id="evaluation">',
        f"<h2>Evaluation<small>{esc(' · '.join(sub))}</small></h2>",
    ]
    if history:
        out += _curve(history, best_step)
    if isinstance(result, dict):
        rows = [
            (k, v) for k, v in result.items() if k not in _SKIP and not isinstance(v, (dict, list))
        ]
        if rows:
            out.append('<dl class="metrics">')
            out += [f"<div><dt>{esc(k)}</dt><dd>{esc(_fmt(v))}</dd></div>" for k, v in rows]
            out.append("</dl>")
        if result.get("fid_note"):
            out.append(f'<p class="message warn">{esc(result["fid_note"])}</p>')
        for metric, why in (result.get("skipped") or {}).items():
            out.append(f'<p class="message warn">{esc(metric)} not computed: {esc(why)}</p>')
        if isinstance(result.get("examples"), dict):
            out += _examples(result["examples"])
        if result.get("nearest") and (run_dir / "eval" / str(result["nearest"])).is_file():
            rel = f"eval/{result['nearest']}"
            out.append(
                f'<h3>nearest training images</h3><figure class="latest"><a href="{href(rel)}">'
                f'<img class="pixelated" src="{href(rel)}" alt="nearest training images"></a>'
                "<figcaption>each output (left) beside its nearest training images (pixel L2): "
                "copies of training images mean memorization</figcaption></figure>"
            )
        if (run_dir / "eval" / "per_image.csv").is_file():
            out.append('<p><a href="eval/per_image.csv">per-image values (CSV)</a></p>')
    out.append("</section>")
    return out
