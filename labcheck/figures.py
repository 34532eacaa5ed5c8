"""The figures of the report: who answered each request sent to nginx, in time order.

One SVG per question (Q3, Q4), drawn from the observations: a mark per request on the
lane of the server that answered it (A, B) or on the « erreur » lane, and a vertical
line where A was stopped and where it was started again. A small hand-written SVG: the
figure is one kind of chart with a few dozen marks, which a plotting library would
neither simplify nor make lighter.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from labcheck.evidence import Question

_LANES = ("A", "B", "erreur")
_COLORS = {"A": "#1f77b4", "B": "#ff7f0e", "erreur": "#d62728", "?": "#7f7f7f"}
_EVENT_COLORS = {"arrêté": "#d62728", "redémarré": "#2ca02c"}
_LEFT, _TOP, _LANE, _BOTTOM = 100, 34, 28, 40


@dataclass(frozen=True)
class Mark:
    lane: str  # "A", "B" or "erreur"
    color: str
    tip: str  # shown on hover: what this request saw


def timeline(q: Question, title: str) -> str | None:
    """The SVG of the requests sent to nginx during ``q``; None if there were none."""
    requests = [o for o in q.observations if o.target == "nginx"]
    if not requests:
        return None
    items: list[tuple[str, Any]] = [(o.at, o) for o in requests]
    items += [(e["at"], e) for e in q.facts.get("events", [])]
    items.sort(key=lambda item: item[0])  # ISO times in UTC: text order is time order
    step = max(4.0, min(16.0, 760 / len(requests)))
    width = _LEFT + step * (len(requests) + 1) + 20
    height = _TOP + _LANE * len(_LANES) + _BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height}" '
        f'viewBox="0 0 {width:.0f} {height}" role="img" aria-label="{escape(title)}" '
        'font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{width:.0f}" height="{height}" fill="white"/>',
        f'<text x="{_LEFT}" y="18" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    for row, lane in enumerate(_LANES):
        y = _lane_y(row)
        name = "erreur / autre" if lane == "erreur" else lane
        parts.append(f'<text x="{_LEFT - 10}" y="{y + 4}" text-anchor="end">{name}</text>')
        parts.append(f'<line x1="{_LEFT}" y1="{y}" x2="{width - 10:.0f}" y2="{y}" stroke="#ddd"/>')
    index = 0
    for _, item in items:
        if isinstance(item, dict):  # an event: A stopped, A restarted
            x = _LEFT + step * (index + 0.5)
            color = next((c for k, c in _EVENT_COLORS.items() if k in item["what"]), "#333")
            bottom = _lane_y(len(_LANES) - 1) + 14
            parts.append(
                f'<line x1="{x:.1f}" y1="{_TOP - 6}" x2="{x:.1f}" y2="{bottom}" '
                f'stroke="{color}" stroke-width="2" stroke-dasharray="5,3"/>'
            )
            parts.append(
                f'<text x="{x + 3:.1f}" y="{bottom + 14}" fill="{color}">'
                f"{escape(item['what'])}</text>"
            )
            continue
        index += 1
        mark = _mark(item)
        x, y = _LEFT + step * index, _lane_y(_LANES.index(mark.lane))
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y}" r="{min(5.0, step / 2.5):.1f}" fill="{mark.color}">'
            f"<title>{escape(mark.tip)}</title></circle>"
        )
    parts.append(
        f'<text x="{width - 10:.0f}" y="{height - 6}" text-anchor="end" fill="#555">'
        f"{len(requests)} requêtes à nginx, dans l'ordre →</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _lane_y(row: int) -> int:
    return _TOP + _LANE * row + _LANE // 2


def _mark(o: Any) -> Mark:
    label = f" ({o.label})" if o.label else ""
    if not o.ok:
        return Mark("erreur", _COLORS["erreur"], f"{o.at} : {o.outcome}{label}")
    if o.server not in ("A", "B"):
        return Mark("erreur", _COLORS["?"], f"{o.at} : réponse non attribuée{label}")
    return Mark(o.server, _COLORS[o.server], f"{o.at} : {o.server}, {o.latency_ms} ms{label}")
