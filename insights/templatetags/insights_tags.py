"""Formatting for the insights page: rates with their intervals, a report's window in local days."""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.formats import date_format

register = template.Library()


@register.filter
def pct(value) -> str:
    # A missing key renders as "" in a template: anything but a number is a dash.
    return f"{100 * value:.1f}%" if isinstance(value, int | float) else "—"


@register.filter
def rate(rate: dict | None) -> str:
    """A rate with its 95 % interval: "12.5% (8.1–18.0%, n 40)"; a dash with no decided people."""
    if not isinstance(rate, dict) or rate.get("value") is None:
        return "—"
    return f"{pct(rate['value'])} ({100 * rate['low']:.1f}–{100 * rate['high']:.1f}%, n {rate['n']})"


@register.filter
def window(report) -> str:
    """The report's window as days in the current (workspace) time zone; the end is exclusive."""
    first = timezone.localtime(report.window_start).date()
    last = (timezone.localtime(report.window_end) - timedelta(microseconds=1)).date()
    if first == last:
        return date_format(first, "j M Y")
    return f"{date_format(first, 'j M')} – {date_format(last, 'j M Y')}"


@register.filter
def seconds(duration) -> str:
    return "—" if duration is None else f"{duration.total_seconds():.1f} s"
