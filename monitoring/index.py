"""The reports index (``$CHURN_HOME/reports/index.html``): every run of every model by date,
model, version and verdict, linking its standalone reports; and the verdict banner put into each
report."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any


def verdict_text(entry: Mapping[str, Any]) -> str:
    """ "DRIFT: a, b" / "no drift", plus the retrain request when one was made."""
    drifted = entry.get("drifted") or []
    text = f"DRIFT: {', '.join(drifted)}" if entry.get("drift") else "no drift"
    if entry.get("prediction_drift"):
        text += " (score distribution drifted)"
    if entry.get("retrain"):
        text += " — retrain requested"
    return text


def render_index(entries: Sequence[Mapping[str, Any]], *, title: str) -> str:
    """A self-contained HTML page: one row per monitored window (its latest run), newest first."""
    rows = []
    for entry in sorted(entries, key=lambda e: str(e["at"]), reverse=True):
        links = " ".join(
            f'<a href="{html.escape(path)}">{html.escape(kind)}</a>'
            for kind, path in sorted(entry.get("reports", {}).items())
        )
        auc = entry.get("roc_auc")
        rows.append(
            "<tr>"
            f"<td>{html.escape(str(entry['at']))}</td>"
            f"<td>{html.escape(' – '.join(entry.get('window') or []))}</td>"
            f"<td>{html.escape(str(entry.get('model', '')))}</td>"
            f"<td>{html.escape(str(entry['model_version']))}</td>"
            f'<td class="verdict">{html.escape(verdict_text(entry))}</td>'
            f"<td>{entry.get('rows', '')}</td>"
            f"<td>{_auc_cell(auc, entry.get('performance_unavailable'))}</td>"
            f"<td>{links}</td>"
            "</tr>"
        )
    body = "\n".join(rows) or '<tr><td colspan="8">no monitoring run yet</td></tr>'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px}}</style></head>
<body><h1>{html.escape(title)}</h1>
<table><thead><tr><th>date (UTC)</th><th>window (UTC)</th><th>model</th><th>version</th>
<th>verdict</th><th>rows</th><th>ROC-AUC (labelled)</th><th>reports</th></tr></thead>
<tbody>
{body}
</tbody></table></body></html>
"""


def _auc_cell(auc: float | None, unavailable: str | None) -> str:
    if auc is not None:
        return f"{auc:.3f}"
    return "" if not unavailable else f'<span title="{html.escape(unavailable)}">n/a</span>'


def add_banner(report_html: str, *, verdict: str, subtitle: str) -> str:
    """Put the run's verdict at the top of an Evidently HTML report."""
    banner = (
        '<div id="churn-verdict" style="font-family:sans-serif;padding:8px;'
        'border-bottom:1px solid #ccc">'
        f'<strong>Verdict:</strong> <span class="verdict">{html.escape(verdict)}</span>'
        f" &middot; {html.escape(subtitle)}</div>"
    )
    marker = report_html.find("<body")
    if marker < 0:
        return banner + report_html
    end = report_html.index(">", marker) + 1
    return report_html[:end] + banner + report_html[end:]
