#!/usr/bin/env python3
"""The reopening morning, second by second, over the limits of docs/capacity.md.

A time-stepped model, standard library only, no AWS: the offered scans,
check-ins and code fetches of bench/surge_limits.toml's [workload] go through
API Gateway (the stage's route throttle, then the account's quota, each a
token bucket), Lambda (the account's concurrency, each function's scaling
rate), the DynamoDB tables they read and write (on-demand: the warm
throughput, then up to double the peak reached 30 minutes earlier, under the
per-table quota), the by-venue index (its back-pressure on check-ins, and the
busiest venue's shards on partitions of 1,000 write units) and the
aggregator's stream (batches, their counter writes, the lag). It prints, per
minute, the offered and served requests a second, the requests each
component throttled in that minute, the stream's lag, and a verdict.

    python3 bench/surge.py                      # today's settings and the proposed ones
    python3 bench/surge.py --settings proposed  # one of them
    python3 bench/surge.py --every 5            # one minute in five, the last, and where throttling starts
    python3 bench/surge.py --settings today --set api_stage_rate=100000 --set warm.log=90000
                                                # one setting changed: what binds next

Exit status: 0 whatever the verdict (it is a model, not a test); 2 on bad input.
"""

import argparse
import math
import sys
import tomllib
from pathlib import Path

LIMITS = Path(__file__).with_name("surge_limits.toml")
READ_TABLES = ("subjects", "accounts", "venues")
WRITE_TABLES = ("log", "gsi", "stats")
# The components a request can be throttled by, in the order it meets them.
COMPONENTS = ("api-stage", "api-account", "lambda", "subjects", "accounts", "venues", "log", "gsi", "station")
# Stream lag past which the rankings are late enough to call it a failure:
# well inside the event source's MaximumRecordAgeInSeconds (3,600 s).
LAG_LIMIT_S = 60


class Bucket:
    """A token bucket: `rate` tokens a second, at most `burst` kept."""

    def __init__(self, rate, burst):
        self.rate, self.burst, self.tokens = rate, burst, burst

    def take(self, wanted):
        available = self.tokens + self.rate
        passed = min(wanted, available)
        self.tokens = min(self.burst, available - passed)
        return passed


class OnDemand:
    """An on-demand table or index, one kind of unit: it serves at once up to its warm
    throughput or double the highest rate it served at least `window` seconds ago,
    whichever is more, and never more than the per-table quota."""

    def __init__(self, warm, window_s, quota):
        self.warm, self.window, self.quota = warm, window_s, quota
        self.history = []  # served units, a second each
        self.old_peak = 0.0

    def ceiling(self):
        t = len(self.history)
        if t > self.window:
            self.old_peak = max(self.old_peak, self.history[t - self.window - 1])
        return min(self.quota, max(self.warm, 2 * self.old_peak))

    def partitions(self, unit_limit):
        return max(1, math.ceil(self.ceiling() / unit_limit))

    def record(self, served):
        self.history.append(served)


def load(path=LIMITS):
    with open(path, "rb") as f:
        return tomllib.load(f)


def offered(w, t):
    """Scans + check-ins offered at second `t` (from the start of the quiet base)."""
    quiet, ramp = w["quiet_minutes"] * 60, w["ramp_minutes"] * 60
    if t < quiet:
        return w["base_ops"]
    if t < quiet + ramp:
        return w["base_ops"] + (w["peak_ops"] - w["base_ops"]) * (t - quiet + 1) / ramp
    return w["peak_ops"]


def simulate(data, name):
    lim, w, ops, s = data["limits"], data["workload"], data["operations"], data["settings"][name]
    ddb = lim["dynamodb"]
    window = ddb["double_window_minutes"] * 60
    duration = {op: (ops[op]["handler_ms"] + ops[op]["calls"] * ops["dynamodb_call_ms"]) / 1000 for op in ("checkin", "scan", "code")}
    stage = Bucket(s["api_stage_rate"], s["api_stage_burst"])
    account = Bucket(s["api_account_rate"], s["api_account_burst"])
    tables = {k: OnDemand(s["warm"][k], window, s["table_quota_units"]) for k in READ_TABLES + WRITE_TABLES}
    envs = {}  # execution environments of each function
    scale_per_s = lim["lambda"]["scale_per_10s"] / 10
    backlog = 0.0
    seconds = (w["quiet_minutes"] + w["ramp_minutes"] + w["hold_minutes"]) * 60
    rows, minute = [], None
    totals = {"served": {op: 0.0 for op in duration}, "throttled": 0.0, "stats_wru": 0.0}
    for t in range(seconds):
        if t % 60 == 0:
            minute = {"minute": t // 60, "offered": 0.0, "served": 0.0, "lag": 0.0, "concurrency": 0.0,
                      "throttled": {c: 0.0 for c in COMPONENTS}}
            rows.append(minute)
        total = offered(w, t)
        want = {"checkin": total * w["checkin_share"], "scan": total * (1 - w["checkin_share"])}
        want["code"] = want["scan"] * w["code_per_scan"]
        station = min(w["station_checkins"] * total / w["peak_ops"], want["checkin"])
        minute["offered"] += sum(want.values()) / 60
        throttled = minute["throttled"]

        def cut(got, fraction, component):
            """Serves `fraction` of each operation in `got`, counting the rest as throttled by `component`."""
            fraction = max(0.0, min(1.0, fraction))
            throttled[component] += sum(got.values()) * (1 - fraction)
            return {op: n * fraction for op, n in got.items()}

        # API Gateway: the stage's default route throttle, then the account's quota.
        got = dict(want)
        for bucket, component in ((stage, "api-stage"), (account, "api-account")):
            asked = sum(got.values())
            got = cut(got, bucket.take(asked) / asked if asked else 1, component)
        # Lambda: each function grows by its scaling rate; together within the account's concurrency.
        needed = {}
        for op in got:
            needed[ops[op]["function"]] = needed.get(ops[op]["function"], 0.0) + got[op] * duration[op]
        for fn in needed:
            envs[fn] = min(needed[fn], envs.get(fn, 0.0) + scale_per_s)
        busy = sum(envs.values())
        share = min(1.0, s["lambda_account_concurrency"] / busy) if busy else 1.0
        for fn in needed:
            envs[fn] *= share
            users = {op: got[op] for op in got if ops[op]["function"] == fn}
            got.update(cut(users, envs[fn] / needed[fn] if needed[fn] else 1.0, "lambda"))
        minute["concurrency"] = max(minute["concurrency"], sum(envs.values()))
        # Reads: a request needs every item it reads; a table short of units serves a share.
        for table in READ_TABLES:
            demand = sum(got[op] * ops[op]["reads"].get(table, 0) for op in got)
            ceiling = tables[table].ceiling()
            fraction = min(1.0, ceiling / demand) if demand else 1.0
            users = {op: got[op] for op in got if ops[op]["reads"].get(table, 0)}
            got.update(cut(users, fraction, table))
            tables[table].record(sum(got[op] * ops[op]["reads"].get(table, 0) for op in got))
        # Writes: the log takes scans and check-ins; the index takes check-ins and holds
        # them back when it cannot keep up (back-pressure), the busiest venue first.
        station = min(station, got["checkin"])
        gsi = tables["gsi"]
        per_partition = max(0.0, got["checkin"] - station) / gsi.partitions(ddb["partition_write_units"])
        station_room = s["venue_log_shards"] * max(0.0, ddb["partition_write_units"] - per_partition)
        if station > station_room:
            lost = station - station_room
            throttled["station"] += lost
            got["checkin"] -= lost
        fraction = min(1.0, gsi.ceiling() / got["checkin"]) if got["checkin"] else 1.0
        got.update(cut({"checkin": got["checkin"]}, fraction, "gsi"))
        log_demand = got["checkin"] + got["scan"]
        fraction = min(1.0, tables["log"].ceiling() / log_demand) if log_demand else 1.0
        got.update(cut({"checkin": got["checkin"], "scan": got["scan"]}, fraction, "log"))
        tables["gsi"].record(got["checkin"])
        tables["log"].record(got["checkin"] + got["scan"])
        # The aggregator: one batch in flight per shard; a batch ends at its size, its
        # payload's 6 MB or its window; each batch writes its counters in transactions.
        entries = got["checkin"] + got["scan"]
        shards = tables["log"].partitions(ddb["partition_write_units"])
        per_batch = max(1.0, min(s["stream_batch_size"],
                                 lim["streams"]["payload_max_bytes"] // lim["streams"]["record_bytes"],
                                 (entries + backlog) / shards * s["stream_window_s"]))
        counters = min(w["counters_per_batch"], 2 * per_batch)
        wru_per_batch = 2 * (counters + math.ceil(counters / 99))
        backlog += entries
        batches_wanted = backlog / per_batch
        stats = tables["stats"]
        batches = min(batches_wanted, stats.ceiling() / wru_per_batch)
        done = min(backlog, batches * per_batch)
        backlog -= done
        stats.record(batches * wru_per_batch)
        totals["stats_wru"] += batches * wru_per_batch
        minute["lag"] = max(minute["lag"], backlog / max(done, 1.0))
        minute["served"] += sum(got.values()) / 60
        for op in got:
            totals["served"][op] += got[op]
    for row in rows:
        totals["throttled"] += sum(row["throttled"].values())
    return rows, totals


def verdict(rows):
    failures = []
    for component in COMPONENTS:
        hit = [r for r in rows if r["throttled"][component] >= 0.5]
        if hit:
            failures.append((hit[0]["minute"], component, sum(r["throttled"][component] for r in hit)))
    late = [r for r in rows if r["lag"] > LAG_LIMIT_S]
    if failures or late:
        failures.sort()
        words = [f"{c} from minute {m} ({n:,.0f} requests)" for m, c, n in failures]
        if late:
            words.append(f"aggregator lag over {LAG_LIMIT_S} s from minute {late[0]['minute']} (max {max(r['lag'] for r in rows):,.0f} s)")
        return "FAIL", "throttled: " + "; ".join(words) if failures else "; ".join(words)
    return "PASS", "no request throttled, aggregator lag under %d s" % LAG_LIMIT_S


def cost(data, totals, name):
    ops = data["operations"]
    requests = sum(totals["served"].values())
    usd = sum(totals["served"][op] / 1e6 * ops[op]["usd_per_million"] for op in totals["served"])
    return requests, usd + totals["stats_wru"] / 1e6 * 0.625


def table(rows, every):
    head = ["min", "offered/s", "served/s", "concurrency", "lag s"] + list(COMPONENTS)
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    started = set()
    for r in rows:
        onset = {c for c, v in r["throttled"].items() if v >= 0.5} - started
        started |= onset
        if r["minute"] % every and not onset and r is not rows[-1]:
            continue
        cells = [str(r["minute"]), f"{r['offered']:,.0f}", f"{r['served']:,.0f}", f"{r['concurrency']:,.0f}", f"{r['lag']:,.0f}"]
        cells += [f"{r['throttled'][c]:,.0f}" if r["throttled"][c] >= 0.5 else "" for c in COMPONENTS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", action="append", help="a [settings.*] of the limits file (default: all)")
    parser.add_argument("--every", type=int, default=1, help="print one minute in N, the last, and each minute a component starts throttling")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=N",
                        help="change a setting of every run: api_stage_rate=100000, warm.log=90000, ...")
    parser.add_argument("--limits", type=Path, default=LIMITS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    data = load(args.limits)
    names = args.settings or list(data["settings"])
    for name in names:
        if name not in data["settings"]:
            print(f"no settings named {name!r}: {', '.join(data['settings'])}", file=sys.stderr)
            return 2
    for change in args.set:
        key, _, value = change.partition("=")
        *path, last = key.split(".")
        for name in names:
            target = data["settings"][name]
            for part in path:
                target = target.get(part) if isinstance(target, dict) else None
            if not isinstance(target, dict) or last not in target or not value.isdigit():
                print(f"--set {change}: not a setting with a whole number (see {LIMITS.name})", file=sys.stderr)
                return 2
            target[last] = int(value)
    if args.every < 1:
        print("--every takes a positive number", file=sys.stderr)
        return 2
    for name in names:
        rows, totals = simulate(data, name)
        result, why = verdict(rows)
        requests, usd = cost(data, totals, name)
        changed = f" with {', '.join(args.set)}" if args.set else ""
        print(f"## settings: {name}{changed}\n")
        print("Requests a second (offered, served: per-minute means); throttled: requests in that minute.\n")
        print(table(rows, args.every))
        print(f"\nserved {requests / 1e6:,.1f} M requests (US${usd:,.0f} at the cost report's prices)")
        print(f"verdict: {result}: {why}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
