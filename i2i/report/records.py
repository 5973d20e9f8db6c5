"""Results-page sections drawn from what the run's observers recorded: evaluations
(``evaluations.jsonl``), files made from the model (``artifacts.jsonl``) and the experiment
trackers (``tracking.json``). Every file may be missing or damaged: a section then says less.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from i2i.report._html import esc, href, read_json, read_text, size_text, to_int, value_text

#: Evaluations shown in the table (the most recent ones).
MAX_EVALUATIONS = 50
#: Metric columns shown in the evaluation table.
MAX_METRIC_COLUMNS = 8


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSON-lines file; bad lines (a truncated last one) are skipped."""
    out = []
    for line in (read_text(path) or "").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


def evaluations(run_dir: Path) -> list[dict[str, Any]]:
    """``RUN/evaluations.jsonl``: ``{"step", "time", "metrics", "out_dir"}`` per evaluation."""
    return [
        r for r in read_jsonl(run_dir / "evaluations.jsonl") if isinstance(r.get("metrics"), dict)
    ]


def evaluations_section(run_dir: Path) -> list[str]:
    recs = evaluations(run_dir)
    if not recs:
        return []
    shown = recs[-MAX_EVALUATIONS:]
    columns: dict[str, None] = {}
    for r in shown:
        for k, v in r["metrics"].items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                columns.setdefault(str(k), None)
    names = list(columns)[:MAX_METRIC_COLUMNS]
    note = f"last {len(shown)} of {len(recs)}" if len(shown) < len(recs) else ""
    out = [
        '<section id="evaluations">',
        f"<h2>Evaluations<small>{esc(note)}</small></h2>",
        '<table><thead><tr><th class="num">step</th>',
    ]
    out += [f'<th class="num">{esc(n)}</th>' for n in names]
    out.append("<th>report</th><th>when</th></tr></thead><tbody>")
    for r in reversed(shown):
        step = to_int(r.get("step"))
        cells = []
        for n in names:
            v = r["metrics"].get(n)
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            cells.append(f'<td class="num">{esc(value_text(float(v))) if ok else ""}</td>')
        where = r.get("out_dir")
        link = f'<a href="{href(where)}/">{esc(where)}</a>' if isinstance(where, str) else ""
        when = str(r.get("time", ""))[:16].replace("T", " ")
        out.append(
            f'<tr><td class="num">{f"{step:,}" if step is not None else ""}</td>'
            + "".join(cells)
            + f"<td>{link}</td><td>{esc(when)}</td></tr>"
        )
    out.append("</tbody></table></section>")
    return out


def exports_table(run_dir: Path) -> list[str]:
    """Files made from the run's model (``artifacts.jsonl``), newest first, for the
    checkpoints section."""
    recs = read_jsonl(run_dir / "artifacts.jsonl")
    if not recs:
        return []
    out = [
        "<h2 style='margin-top:18px'>Exported models</h2>",
        '<table><thead><tr><th>file</th><th>kind</th><th class="num">from step</th>'
        '<th class="num">size</th><th>when</th></tr></thead><tbody>',
    ]
    for r in reversed(recs[-MAX_EVALUATIONS:]):
        path = str(r.get("path", "?"))
        step, size = to_int(r.get("step")), to_int(r.get("size"))
        exists = (run_dir / path).is_file()
        name = f'<a href="{href(path)}">{esc(path)}</a>' if exists else f"{esc(path)} (gone)"
        out.append(
            f"<tr><td>{name}</td><td>{esc(r.get('kind', ''))}</td>"
            f'<td class="num">{f"{step:,}" if step is not None else ""}</td>'
            f'<td class="num">{esc(size_text(size)) if size is not None else ""}</td>'
            f"<td>{esc(str(r.get('time', ''))[:16].replace('T', ' '))}</td></tr>"
        )
    out.append("</tbody></table>")
    return out


def tracking_facts(run_dir: Path) -> list[str]:
    """One line per experiment tracker of ``tracking.json`` for the page header: where the
    run went and, when a tracker failed, what was lost."""
    data = read_json(run_dir / "tracking.json")
    if not isinstance(data, dict):
        return []
    out = []
    for name, rec in sorted(data.items()):
        if not isinstance(rec, dict):
            continue
        where = str(rec.get("where") or "")
        url = rec.get("url")
        run_id = rec.get("run_id")
        if isinstance(url, str) and url.startswith("http") and run_id and name == "mlflow":
            where = f'<a href="{esc(url)}/runs/{esc(run_id)}">{esc(where)}</a>'
        elif isinstance(url, str) and url.startswith("http"):
            where = f'<a href="{esc(url)}">{esc(where)}</a>'
        else:
            where = esc(where)
        line = f"<b>{esc(name)}</b>: {where}"
        dropped, errors = to_int(rec.get("dropped")) or 0, to_int(rec.get("errors")) or 0
        if dropped or errors:
            line += (
                f' <span class="badge failed">{dropped:,} record(s) dropped, {errors:,} '
                f"error(s)</span> {esc(rec.get('last_error', ''))}"
            )
        out.append(line)
    return out
