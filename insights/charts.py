"""The insights page's charts as inline SVG, drawn on the server from a report's metrics.

Why SVG from the server rather than the vendored Chart.js of the overview: the result of a run is
swapped into the page by HTMX, and markup needs no script to re-initialise after a swap; interval
whiskers are three lines here where Chart.js needs a plugin; and the page works without JavaScript.
Every chart has a table or text next to it with the same numbers (the SVG is `role="img"` with a
label). Coordinates are in a fixed viewBox; the SVG scales to its container's width.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

SENDER_LABELS = {"all": "All senders", "ai_auto": "AI, sent automatically", "ai_approved": "AI draft, approved",
                 "ai_edited": "AI draft, edited", "setter": "Setter", "business_outside": "Outside Sidekick"}
CHANNEL_LABELS = {"all": "All channels", "instagram": "Instagram", "messenger": "Messenger"}
PURPOSE_LABELS = {"all": "All", "reply": "Replies", "follow_up": "Follow-ups"}
SIDE_LABELS = {"all": "All", "ai": "AI", "setter": "Setter"}
SIDE_COLOURS = {"all": "#4b5563", "ai": "#2563eb", "setter": "#ea580c"}
SENDER_ORDER = list(SENDER_LABELS)
CHANNEL_ORDER = list(CHANNEL_LABELS)

WIDTH = 420
FONT = 12


def _html(template: str, *args) -> SafeString:
    """format_html with floats written to one decimal (format_html escapes its arguments to strings
    first, so the template cannot carry number formats)."""
    return format_html(template.replace(":.1f", ""), *(f"{a:.1f}" if isinstance(a, float) else a for a in args))


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _axis_max(highs: list[float]) -> float:
    """The x (or y) range: up to the largest interval end, rounded up to a tenth (at least 10 %)."""
    top = max([h for h in highs if h is not None] or [0.1])
    return min(1.0, max(0.1, -(-round(top * 100) // 10) / 10))


def _svg(height: float, label: str, body: SafeString | str) -> SafeString:
    return _html('<svg class="insights-chart" viewBox="0 0 {} {}" role="img" aria-label="{}" '
                       'font-size="{}" xmlns="http://www.w3.org/2000/svg">{}</svg>', WIDTH, round(height), label,
                       FONT, body)


def _gridlines(*, x0: float, x1: float, y0: float, y1: float, top: float, vertical: bool) -> SafeString:
    """Four gridlines with their percentage labels, along x (vertical lines) or along y."""
    parts = []
    for i in range(5):
        share = i / 4
        text = f"{round(100 * top * share)}%"
        if vertical:
            x = x0 + share * (x1 - x0)
            parts.append(_html('<line x1="{0:.1f}" x2="{0:.1f}" y1="{1}" y2="{2}" class="grid"/>'
                                     '<text x="{0:.1f}" y="{3}" text-anchor="middle" class="tick">{4}</text>',
                                     x, y0, y1, y1 + 12, text))
        else:
            y = y1 - share * (y1 - y0)
            parts.append(_html('<line x1="{0}" x2="{1}" y1="{2:.1f}" y2="{2:.1f}" class="grid"/>'
                                     '<text x="{3}" y="{4:.1f}" text-anchor="end" class="tick">{5}</text>',
                                     x0, x1, y, x0 - 4, y + 4, text))
    return mark_safe("".join(parts))  # noqa: S308 - each part was built by format_html


def _whisker(*, x_low: float, x_high: float, x_value: float, y: float, colour: str, faded: bool) -> SafeString:
    return _html(
        '<g class="whisker{}" stroke="{}"><line x1="{:.1f}" x2="{:.1f}" y1="{:.1f}" y2="{:.1f}"/>'
        '<line x1="{:.1f}" x2="{:.1f}" y1="{:.1f}" y2="{:.1f}"/><line x1="{:.1f}" x2="{:.1f}" y1="{:.1f}" y2="{:.1f}"/>'
        '<circle cx="{:.1f}" cy="{:.1f}" r="3.5" fill="{}"/></g>',
        " faded" if faded else "", colour, x_low, x_high, y, y, x_low, x_low, y - 4, y + 4, x_high, x_high, y - 4,
        y + 4, x_value, y, "none" if faded else colour)


@dataclass(frozen=True)
class RateRow:
    sender: str
    channel: str
    cell: dict

    @property
    def label(self) -> str:
        return f"{SENDER_LABELS.get(self.sender, self.sender)} · {CHANNEL_LABELS.get(self.channel, self.channel)}"


def rate_rows(metrics: dict) -> list[RateRow]:
    """The cells of every sender × channel (replies and follow-ups together), in display order."""
    found = {(c["sender"], c["channel"]): c for c in metrics.get("cells", []) if c["purpose"] == "all"}
    return [RateRow(s, ch, found[(s, ch)]) for s in SENDER_ORDER for ch in CHANNEL_ORDER if (s, ch) in found]


def rate_chart(metrics: dict) -> SafeString:
    """Booked rate per sender and channel: a point and its Wilson interval per cell, grouped by sender.
    Cells without enough data are drawn hollow, dashed and faded, with "few (n …)" instead of a number."""
    rows = [r for r in rate_rows(metrics) if r.cell["booked_rate"]["n"]]
    if not rows:
        return mark_safe("")
    x0, x1, label_x, value_x, line = 92, 330, 88, 336, 18
    top = _axis_max([r.cell["booked_rate"]["high"] for r in rows])
    scale = (x1 - x0) / top
    parts, y, sender = [], 8, None
    for row in rows:
        if row.sender != sender:
            sender = row.sender
            y += line + (4 if len(parts) else 0)
            parts.append(_html('<text x="2" y="{:.1f}" class="group">{}</text>', y, SENDER_LABELS.get(sender, sender)))
        y += line
        rate = row.cell["booked_rate"]
        faded = not row.cell["enough_data"]
        colour = SIDE_COLOURS["ai"] if sender.startswith("ai") else SIDE_COLOURS["setter"] if sender == "setter" \
            else SIDE_COLOURS["all"]
        parts.append(_html('<text x="{}" y="{:.1f}" text-anchor="end">{}</text>', label_x, y + 4,
                                 CHANNEL_LABELS.get(row.channel, row.channel)))
        parts.append(_whisker(x_low=x0 + rate["low"] * scale, x_high=x0 + min(rate["high"], top) * scale,
                              x_value=x0 + rate["value"] * scale, y=y, colour=colour, faded=faded))
        parts.append(_html('<text x="{}" y="{:.1f}" class="value">{}</text>', value_x, y + 4,
                                 f"few (n {rate['n']})" if faded else _pct(rate["value"])))
    y += 10
    body = _gridlines(x0=x0, x1=x1, y0=4, y1=y, top=top, vertical=True) + mark_safe("".join(parts))  # noqa: S308
    return _svg(y + 16, "Booked rate by sender and channel with 95% intervals; the numbers are in the table below",
                body)


def weekly_chart(weekly: dict) -> SafeString:
    """The booked rate per week for all senders, the AI and setters; the band is the interval of "all"."""
    series = {side: [w for w in weekly.get(side) or [] if w.get("booked_rate", {}).get("value") is not None]
              for side in ("all", "ai", "setter")}
    weeks = sorted({w["week_start"] for points in series.values() for w in points})
    if not weeks:
        return mark_safe("")
    x0, x1, y0, y1 = 40, WIDTH - 10, 8, 170
    top = _axis_max([w["booked_rate"]["high"] for points in series.values() for w in points])
    step = (x1 - x0) / max(1, len(weeks) - 1)
    x_of = {week: x0 + (i * step if len(weeks) > 1 else (x1 - x0) / 2) for i, week in enumerate(weeks)}

    def y_of(value: float) -> float:
        return y1 - min(value, top) / top * (y1 - y0)

    parts = [_gridlines(x0=x0, x1=x1, y0=y0, y1=y1, top=top, vertical=False)]
    band = series["all"]
    if band:
        upper = [f"{x_of[w['week_start']]:.1f},{y_of(w['booked_rate']['high']):.1f}" for w in band]
        lower = [f"{x_of[w['week_start']]:.1f},{y_of(w['booked_rate']['low']):.1f}" for w in reversed(band)]
        parts.append(_html('<polygon points="{}" class="band"/>', " ".join(upper + lower)))
    for side, points in series.items():
        if not points:
            continue
        coords = " ".join(f"{x_of[w['week_start']]:.1f},{y_of(w['booked_rate']['value']):.1f}" for w in points)
        parts.append(_html('<polyline points="{}" fill="none" stroke="{}" stroke-width="2" class="series-{}"/>',
                                 coords, SIDE_COLOURS[side], side))
        parts.append(format_html_join("", '<circle cx="{}" cy="{}" r="2.5" fill="{}"/>',
                                      ((f"{x_of[w['week_start']]:.1f}", f"{y_of(w['booked_rate']['value']):.1f}",
                                        SIDE_COLOURS[side]) for w in points)))
    every = max(1, -(-len(weeks) // 6))  # at most about six date labels
    parts.append(format_html_join("", '<text x="{}" y="{}" text-anchor="middle" class="tick">{}</text>',
                                  ((f"{x_of[week]:.1f}", y1 + 14, week[5:]) for i, week in enumerate(weeks)
                                   if (len(weeks) - 1 - i) % every == 0)))
    return _svg(y1 + 22, "Booked rate per week: all senders, AI and setters; the numbers are in the table below",
                mark_safe("".join(parts)))  # noqa: S308


def time_to_book_chart(time_to_book: dict) -> SafeString:
    """Share of people booked by day since their first message (Kaplan–Meier), a step line per side."""
    curves = {side: [p for p in (time_to_book.get(side) or {}).get("curve") or [] if p.get("booked") is not None]
              for side in ("all", "ai", "setter")}
    points = [p for curve in curves.values() for p in curve]
    if not points:
        return mark_safe("")
    x0, x1, y0, y1 = 40, WIDTH - 10, 8, 150
    last_day = max(p["day"] for p in points) or 1
    top = _axis_max([p.get("high") or p["booked"] for p in points])

    def xy(day: float, share: float) -> str:
        return f"{x0 + day / last_day * (x1 - x0):.1f},{y1 - min(share, top) / top * (y1 - y0):.1f}"

    parts = [_gridlines(x0=x0, x1=x1, y0=y0, y1=y1, top=top, vertical=False)]
    for side, curve in curves.items():
        if not curve:
            continue
        steps, previous = [xy(0, 0)], 0.0
        for p in sorted(curve, key=lambda p: p["day"]):
            steps += [xy(p["day"], previous), xy(p["day"], p["booked"])]
            previous = p["booked"]
        parts.append(_html('<polyline points="{}" fill="none" stroke="{}" stroke-width="2" class="series-{}"/>',
                                 " ".join(steps), SIDE_COLOURS[side], side))
    parts.append(_html('<text x="{}" y="{}" class="tick">day 0</text><text x="{}" y="{}" text-anchor="end" '
                             'class="tick">day {}</text>', x0, y1 + 14, x1, y1 + 14, last_day))
    return _svg(y1 + 22, "Share of people booked by days since the message, AI and setters",
                mark_safe("".join(parts)))  # noqa: S308
