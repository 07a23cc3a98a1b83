"""What the insights page shows of a report: its stored metrics shaped for the templates.

Pure functions over the metrics JSON (already computed and stored), so showing a report costs one
query whatever the size of the workspace.
"""

from __future__ import annotations

import csv
import io

from insights import charts

VERDICT_LABELS = {"works": "works", "doesnt": "doesn't", "not_enough_data": "not enough data",
                  "no_difference_shown": "no difference shown"}
FEATURE_LABELS = {"length": "Length", "question": "Asks a question", "link": "Contains a link",
                  "booking_link": "Contains a booking link", "price": "Mentions price", "emoji": "Emoji",
                  "contact_name": "Uses the contact's name", "response_delay": "Response delay",
                  "hour": "Hour of day", "purpose": "Reply or follow-up"}
GROUP_LABELS = {"all": "All", "ai": "AI", "setter": "Setter"}


def synthesis_view(report) -> dict | None:
    """The written synthesis of a report, when it has one that succeeded (insights.synthesis stores
    {"status", "model", "output": {"headline", "findings": [{"text", "metric_keys"}], "caveats"}}).
    A skipped or failed synthesis, or a report without the field, shows nothing: the numbers stand alone."""
    synthesis = getattr(report, "synthesis", None)
    if not isinstance(synthesis, dict) or synthesis.get("status") != "done":
        return None
    output = synthesis.get("output") or {}
    findings = [f.get("text", "") for f in output.get("findings") or [] if isinstance(f, dict) and f.get("text")]
    if not (output.get("headline") or findings):
        return None
    return {"headline": output.get("headline", ""), "findings": findings,
            "caveats": [c for c in output.get("caveats") or [] if isinstance(c, str)],
            "model": synthesis.get("model", "")}


def _strata(pairs: dict, labels: dict | None = None) -> list[dict]:
    return [{"name": (labels or {}).get(name, name.replace("_", " ").capitalize()),
             "ai": pair.get("ai"), "setter": pair.get("setter")} for name, pair in sorted(pairs.items())]


def report_context(metrics: dict) -> dict:
    """Everything the report section of the page needs."""
    comparison = metrics.get("comparison", {})
    weekly = metrics.get("weekly")
    time_to_book = metrics.get("time_to_book")
    patterns = metrics.get("patterns", {})
    return {
        "metrics": metrics,
        "overall": comparison.get("overall", {}),
        "by_stage": _strata(comparison.get("by_stage", {})),
        "by_channel": _strata(comparison.get("by_channel", {}), charts.CHANNEL_LABELS),
        "simpson": comparison.get("simpson", {}),
        "reversed_in": [_stratum_label(name) for name in comparison.get("simpson", {}).get("reversed_in", [])],
        "rate_rows": charts.rate_rows(metrics),
        "rate_chart": charts.rate_chart(metrics),
        "weekly": weekly,
        "weekly_chart": charts.weekly_chart(weekly) if weekly else "",
        "weekly_rows": _weekly_rows(weekly) if weekly else [],
        "time_to_book": [{"side": side, "label": charts.SIDE_LABELS[side], **time_to_book[side]}
                         for side in ("all", "ai", "setter") if time_to_book and time_to_book.get(side)],
        "time_to_book_chart": charts.time_to_book_chart(time_to_book) if time_to_book else "",
        "patterns": patterns,
        "pattern_groups": [GROUP_LABELS[g] for g in PATTERN_GROUPS],
        "pattern_rows": pattern_rows(patterns.get("entries", [])),
    }


PATTERN_GROUPS = ("all", "ai", "setter")


def pattern_rows(entries: list[dict]) -> list[dict]:
    """One row per feature and value, with the entry of each group (all, AI, setter) side by side."""
    rows: dict[tuple[str, str], dict] = {}
    for entry in entries:
        row = rows.setdefault((entry["feature"], entry["value"]), {
            "feature_label": FEATURE_LABELS.get(entry["feature"], entry["feature"]),
            "value_label": entry["value"].replace("_", " "), "groups": dict.fromkeys(PATTERN_GROUPS)})
        row["groups"][entry["group"]] = {
            **entry, "verdict_label": VERDICT_LABELS.get(entry["verdict"], entry["verdict"])}
    return [{**row, "cells": [row["groups"][g] for g in PATTERN_GROUPS]} for row in rows.values()]


def _stratum_label(name: str) -> str:
    kind, _, value = name.partition(":")
    if kind == "channel":
        return charts.CHANNEL_LABELS.get(value, value)
    return f"the {value.replace('_', ' ')} stage"


def _weekly_rows(weekly: dict) -> list[dict]:
    by_week: dict[str, dict] = {}
    for side in ("all", "ai", "setter"):
        for point in weekly.get(side) or []:
            by_week.setdefault(point["week_start"], {"week_start": point["week_start"]})[side] = point
    return [by_week[week] for week in sorted(by_week)]


def cell_label(*, sender: str, purpose: str, channel: str) -> str:
    return (f"{charts.SENDER_LABELS.get(sender, sender)} · {charts.PURPOSE_LABELS.get(purpose, purpose)} · "
            f"{charts.CHANNEL_LABELS.get(channel, channel)}")


def _cell_key(cell: dict) -> tuple[str, str, str]:
    return cell["sender"], cell["purpose"], cell["channel"]


def compare_rows(first: dict, second: dict) -> list[dict]:
    """The cells of two reports side by side, by sender × purpose × channel (a cell may be in one only)."""
    a = {_cell_key(c): c for c in first.get("cells", [])}
    b = {_cell_key(c): c for c in second.get("cells", [])}
    order = {key: i for i, key in enumerate(list(a) + [k for k in b if k not in a])}
    rows = []
    for key in sorted(order, key=order.get):
        sender, purpose, channel = key
        rows.append({"label": cell_label(sender=sender, purpose=purpose, channel=channel),
                     "a": a.get(key), "b": b.get(key)})
    return rows


CSV_COLUMNS = ["sender", "purpose", "channel", "messages_total", "messages_booked", "messages_not_booked",
               "messages_pending", "people_total", "people_booked", "people_not_booked", "people_pending",
               "booked_rate", "booked_rate_low", "booked_rate_high", "booked_rate_n", "enough_data",
               "bookings_credited", "last_touch_bookings", "messages_per_booking", "reply_rate_24h",
               "reply_rate_24h_low", "reply_rate_24h_high", "reply_rate_24h_n"]


def cells_csv(metrics: dict) -> str:
    """The report's cells as CSV, one row per sender × purpose × channel, in the metrics' order."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for c in metrics.get("cells", []):
        m, p, r, rr = c["messages"], c["people"], c["booked_rate"], c["reply_rate_24h"]
        writer.writerow([c["sender"], c["purpose"], c["channel"], m["total"], m["booked"], m["not_booked"],
                         m["pending"], p["total"], p["booked"], p["not_booked"], p["pending"], r["value"], r["low"],
                         r["high"], r["n"], c["enough_data"], c["bookings_credited"], c["last_touch_bookings"],
                         c["messages_per_booking"], rr["value"], rr["low"], rr["high"], rr["n"]])
    return out.getvalue()
