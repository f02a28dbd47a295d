#!/usr/bin/env python3
"""bench/surge.py runs, tells today's settings from the proposed ones, and
models the template as it is: the proposed settings of bench/surge_limits.toml
are the ones template.yaml declares (run by `make test`, infra/test.sh)."""

import io
import re
import sys
import time
import unittest
from contextlib import redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import surge  # noqa: E402

TEMPLATE = Path(__file__).parent.parent / "template.yaml"


def template_resource(name):
    """The text of one resource of template.yaml, up to the next one."""
    text = TEMPLATE.read_text()
    start = text.index(f"\n  {name}:\n")
    end = re.compile(r"\n  [A-Za-z]+:\n").search(text, start + 1)
    return text[start : end.start() if end else len(text)]


class Surge(unittest.TestCase):
    def setUp(self):
        self.data = surge.load()

    def test_it_runs_in_seconds_and_prints_a_verdict_for_each_setting(self):
        started = time.monotonic()
        out = io.StringIO()
        with redirect_stdout(out):
            self.assertEqual(surge.main(["--every", "10"]), 0)
        # A hang-catching bound, not a performance figure.
        self.assertLess(time.monotonic() - started, 120)
        text = out.getvalue()
        self.assertEqual(text.count("verdict: "), len(self.data["settings"]))
        self.assertIn("## settings: today", text)
        self.assertIn("## settings: proposed", text)

    def test_today_throttles_and_the_proposed_settings_do_not(self):
        today, _ = surge.simulate(self.data, "today")
        proposed, totals = surge.simulate(self.data, "proposed")
        self.assertEqual(surge.verdict(today)[0], "FAIL")
        self.assertEqual(surge.verdict(proposed)[0], "PASS", surge.verdict(proposed)[1])
        # The proposed morning serves what it is offered, every minute.
        for row in proposed:
            self.assertAlmostEqual(row["served"], row["offered"], delta=1)
        self.assertGreater(sum(totals["served"].values()), 300e6)

    def test_each_proposed_setting_is_needed(self):
        # Taking back any one of them fails the morning again.
        today = self.data["settings"]["today"]
        for key in ("api_stage_rate", "api_account_rate", "table_quota_units", "venue_log_shards"):
            with self.subTest(key=key):
                data = surge.load()
                data["settings"]["proposed"][key] = today[key]
                self.assertEqual(surge.verdict(surge.simulate(data, "proposed")[0])[0], "FAIL")
        for table in today["warm"]:
            with self.subTest(table=table):
                data = surge.load()
                data["settings"]["proposed"]["warm"][table] = today["warm"][table]
                data["settings"]["proposed"]["stream_batch_size"] = today["stream_batch_size"]
                self.assertEqual(surge.verdict(surge.simulate(data, "proposed")[0])[0], "FAIL")

    def test_bad_settings_are_refused(self):
        err = io.StringIO()
        with redirect_stdout(io.StringIO()):
            import contextlib

            with contextlib.redirect_stderr(err):
                self.assertEqual(surge.main(["--settings", "tomorrow"]), 2)
                self.assertEqual(surge.main(["--set", "warm.nowhere=5"]), 2)
                self.assertEqual(surge.main(["--set", "api_stage_rate=fast"]), 2)
        self.assertIn("no settings named", err.getvalue())

    def test_the_proposed_settings_are_the_templates(self):
        proposed = self.data["settings"]["proposed"]
        tables = {"log": ("LogTable", "Write"), "subjects": ("SubjectsTable", "Read"),
                  "accounts": ("AccountsTable", "Read"), "venues": ("VenuesTable", "Read"),
                  "stats": ("StatsTable", "Write")}
        for key, (resource, kind) in tables.items():
            text = template_resource(resource)
            if key == "log":
                text = text[: text.index("GlobalSecondaryIndexes")] + text[text.index("TimeToLiveSpecification"):]
            found = re.findall(rf"WarmThroughput: !If \[Prewarm, \{{{kind}UnitsPerSecond: (\d+)\}}", text)
            self.assertEqual(found, [str(proposed["warm"][key])], resource)
        log = template_resource("LogTable")
        index = log[log.index("GlobalSecondaryIndexes") : log.index("TimeToLiveSpecification")]
        self.assertEqual(re.findall(r"WriteUnitsPerSecond: (\d+)", index), [str(proposed["warm"]["gsi"])])
        venue = template_resource("VenueFunction")
        self.assertEqual(re.findall(r'HC_VENUE_LOG_SHARDS: "(\d+)"', venue), [str(proposed["venue_log_shards"])])
        aggregator = template_resource("AggregatorFunction")
        log_stream = aggregator[aggregator.index("LogStream:") : aggregator.index("SubjectsStream:")]
        self.assertEqual(re.findall(r"BatchSize: (\d+)", log_stream), [str(proposed["stream_batch_size"])])
        # Today's settings are the template's defaults: the stage throttle and no warm throughput.
        today = self.data["settings"]["today"]
        params = TEMPLATE.read_text()
        for name, key in (("ApiThrottleRate", "api_stage_rate"), ("ApiThrottleBurst", "api_stage_burst")):
            default = re.search(rf"\n  {name}:\n    Type: Number\n    Default: (\d+)", params).group(1)
            self.assertEqual(int(default), today[key], name)
        self.assertRegex(params, r'PrewarmForReopening:\n    Type: String\n    Default: "false"')

    def test_every_limit_names_its_source(self):
        for name, limit in self.data["limits"].items():
            sources = [v for k, v in limit.items() if k.endswith("source")]
            self.assertTrue(sources, name)
            for url in sources:
                self.assertTrue(url.startswith("https://docs.aws.amazon.com/"), url)


if __name__ == "__main__":
    unittest.main()
