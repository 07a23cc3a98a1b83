"""manage.py insights_report --workspace SLUG --start YYYY-MM-DD --end YYYY-MM-DD [--as-of ISO] [--json] [--synthesize]"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Workspace
from insights.report import metrics_json
from insights.services import ReportInputError, report_run


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--{name}: {value!r} is not a date (YYYY-MM-DD).") from None


class Command(BaseCommand):
    help = ("Run a message-performance report for a workspace and store it. Dates are midnights in the "
            "workspace's time zone; the window is [start, end). With --json, print only the metrics JSON.")

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="The workspace slug.")
        parser.add_argument("--start", required=True, help="First day of the window (YYYY-MM-DD).")
        parser.add_argument("--end", required=True, help="The day after the window (YYYY-MM-DD), excluded.")
        parser.add_argument("--as-of", dest="as_of", help="ISO time the data is taken at (default: now).")
        parser.add_argument("--json", action="store_true", help="Print the metrics JSON only.")
        parser.add_argument("--synthesize", action="store_true",
                            help="Then write the synthesis with the workspace's model (a failure keeps the numbers).")

    def handle(self, *args, **options):
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug {options['workspace']!r}.")
        tz = zoneinfo.ZoneInfo(workspace.timezone)
        start = datetime.combine(_day(options["start"], "start"), time.min, tzinfo=tz)
        end = datetime.combine(_day(options["end"], "end"), time.min, tzinfo=tz)
        as_of = None
        if options["as_of"]:
            try:
                as_of = datetime.fromisoformat(options["as_of"])
            except ValueError:
                raise CommandError(f"--as-of: {options['as_of']!r} is not an ISO 8601 time.") from None
            if as_of.tzinfo is None:
                as_of = as_of.replace(tzinfo=tz)
        try:
            report = report_run(workspace=workspace, start=start, end=end, as_of=as_of,
                                synthesize=options["synthesize"])
        except ReportInputError as exc:
            raise CommandError(str(exc)) from None
        except Exception as exc:
            raise CommandError(f"The report failed ({type(exc).__name__}: {exc}); it is stored as failed.") from exc
        if options["json"]:
            self.stdout.write(metrics_json(report.metrics))
            return
        self._summary(report)

    def _summary(self, report) -> None:
        m = report.metrics
        b = m["bookings"]
        self.stdout.write(f"Report {report.pk} for {m['workspace']}: {m['window']['start']} to {m['window']['end']}, "
                          f"as of {m['as_of']} ({report.duration.total_seconds():.2f} s)")
        self.stdout.write(f"Outbound messages: {m['counts']['cohort_messages']} counted, "
                          f"{m['counts']['outbound_dropped']} dropped (not delivered or deleted)")
        self.stdout.write(f"Bookings: {b['booked']} ({b['attributed']} attributed, {b['unattributed']} unattributed)")
        for cell in m["cells"]:
            if cell["purpose"] != "all":
                continue
            rate = cell["booked_rate"]
            shown = (f"{rate['value']:.1%} [{rate['low']:.1%}, {rate['high']:.1%}]" if cell["enough_data"]
                     else "not enough data")
            self.stdout.write(f"  {cell['sender']:<17} {cell['channel']:<10} {cell['people']['total']:>6} people  "
                              f"{shown}")
        if report.synthesis is not None:
            synthesis = report.synthesis
            reason = f" ({synthesis['reason']})" if synthesis["reason"] else ""
            self.stdout.write(f"Synthesis: {synthesis['status']}{reason}")
            if synthesis["status"] == "done":
                self.stdout.write(f"  {synthesis['output']['headline']}")
