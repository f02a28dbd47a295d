"""Load benchmark: check-ins and checkpoint scans through the local stack.

Run by bench/load.sh, which starts its own emulator and function server and
passes their addresses. Against that stack this script:

1. sets up, over HTTP, a set of visitors (dev login, real-name
   authentication with a generated GB 11643 ID number, one declaration, a
   personal code each), one venue owner and venue, and the guards: enough
   that no guard scans the same visitor twice (a guard's repeat scans of a
   person in a minute are logged once) and none passes the limit of 120
   scans a minute;
2. starts every function instance of the scan function with refused
   requests (a malformed code: 422, nothing logged) from an account of
   their own;
3. drives the operations from a pool of threads, each with one keep-alive
   http.client connection: half check-ins (POST /v1/checkins with the venue
   code and a unique Idempotency-Key), half checkpoint scans (POST /v1/scans
   with a visitor's personal code, refreshed when the code says so);
4. counts the entries of the log table with boto3 and fails (exit 1) unless
   every operation answered 2xx and there is exactly one entry per
   operation, no more and no fewer;
5. sends as many plain PutItem calls of log-entry-sized items straight to
   the emulator, with the same concurrency (one boto3 client per thread),
   and times them;
6. prints the table of the results and the stack/PutItem ratios.

It prints counts and times only: no token, name, ID number or code.
Python 3.11, standard library plus boto3 (in .venv, installed with moto).
"""

import argparse
import datetime
import http.client
import json
import math
import os
import random
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

# ---------------------------------------------------------------- identities

# GB 11643: weights of the 17 digits for the ISO 7064 MOD 11-2 check character.
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CHECK = "10X98765432"
# County-level divisions of Shijiazhuang, Hebei (Chang'an, Qiaoxi, Xinhua, Yuhua).
COUNTIES = ["130102", "130104", "130105", "130108"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"


def id_number(rng, region):
    """A valid 18-character resident ID number: division, birth date, sequence, check character."""
    birth = datetime.date(1950, 1, 1) + datetime.timedelta(days=rng.randrange(365 * 55))
    body = f"{region}{birth:%Y%m%d}{rng.randrange(1000):03d}"
    return body + CHECK[sum(int(d) * w for d, w in zip(body, WEIGHTS)) % 11]


def person(rng, n):
    name = SURNAMES[n % len(SURNAMES)] + "".join(rng.choice(GIVEN) for _ in range(1 + n % 2))
    phone = "13" + str(rng.randrange(8, 10)) + f"{rng.randrange(10**8):08d}"
    return {"name": name, "id_number": id_number(rng, rng.choice(COUNTIES)), "phone": phone}


# ---------------------------------------------------------------------- HTTP

class Client:
    """One keep-alive connection to `cargo lambda watch`."""

    opened = 0  # connections opened by all clients, to show that keep-alive held
    _lock = threading.Lock()

    def __init__(self, base, timeout):
        url = urlsplit(base)
        self.host, self.port, self.timeout = url.hostname, url.port or 80, timeout
        self.conn = None

    def call(self, function, method, route, body=None, token=None, headers=None):
        """(status, parsed JSON or None, problem code or None). Status 0: no answer."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            with Client._lock:
                Client.opened += 1
        h = {"content-type": "application/json"} if body is not None else {}
        if token:
            h["authorization"] = f"Bearer {token}"
        h.update(headers or {})
        data = None if body is None else json.dumps(body).encode()
        try:
            self.conn.request(method, f"/lambda-url/{function}{route}", body=data, headers=h)
            response = self.conn.getresponse()
            payload = response.read()
            if response.will_close:
                self.close()
        except (OSError, http.client.HTTPException) as err:
            self.close()
            return 0, None, type(err).__name__
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = None
        code = parsed.get("code") if response.status >= 400 and isinstance(parsed, dict) else None
        if response.status >= 400 and code is None:
            # Not one of our problems (the local server's own error, say): keep
            # a short printable excerpt, which names no person.
            text = "".join(c for c in payload[:120].decode("ascii", "replace") if c.isprintable())
            code = f"{response.getheader('content-type', '?')}: {text!r}"
        return response.status, parsed, code

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def must(result, expect, what):
    status, body, code = result
    if status != expect:
        sys.exit(f"FAIL setup: {what}: expected {expect}, got {status} {code or ''}".rstrip())
    return body


class Visitor:
    def __init__(self, token):
        self.token = token
        self.code = None
        self.refresh_at = 0.0
        self.lock = threading.Lock()


def fetch_code(client, visitor):
    body = must(client.call("code", "GET", "/v1/code", token=visitor.token), 200, "GET /v1/code")
    visitor.code = body["qr"]
    visitor.refresh_at = datetime.datetime.fromisoformat(body["refresh_after"]).timestamp()


def verified_user(client, rng, tag, n):
    """A dev login that passed real-name authentication; returns the token that names its subject."""
    token = must(client.call("login", "POST", "/v1/login", {"code": f"dev:{tag}-{n}"}), 200, "POST /v1/login")["token"]
    return must(client.call("login", "POST", "/v1/identity", person(rng, n), token), 200, "POST /v1/identity")["token"]


DECLARATION = {"region": "130102", "temperature": 36.5, "symptoms": [], "close_contact": False,
               "visited_regions": [], "from_abroad": False}


def setup(args, tag):
    """The owner and the venue, the warm-up account, the visitors with their codes, and the guards."""
    rng = random.Random()
    client = Client(args.base, args.timeout)
    owner = verified_user(client, rng, tag, 0)
    venue = must(client.call("venue", "POST", "/v1/venues",
                             {"name": "压力测试商场", "address": "河北省石家庄市长安区测试路1号",
                              "region": "130102", "category": "commerce"}, owner), 201, "POST /v1/venues")
    warmer = verified_user(client, rng, tag, 1)
    client.close()

    local = threading.local()

    def make_visitor(n):
        if not hasattr(local, "client"):
            local.client, local.rng = Client(args.base, args.timeout), random.Random()
        c = local.client
        visitor = Visitor(verified_user(c, local.rng, tag, n))
        must(c.call("declaration", "POST", "/v1/declarations", DECLARATION, visitor.token), 201, "POST /v1/declarations")
        fetch_code(c, visitor)
        return visitor

    # Few threads: identity and declarations are transactions, which the
    # emulator runs slowly (moto copies every table for each one); too many at
    # once queue past the store client's 1.5 s attempt timeout.
    def make_guard(n):
        if not hasattr(local, "client"):
            local.client, local.rng = Client(args.base, args.timeout), random.Random()
        return verified_user(local.client, local.rng, tag, n)

    with ThreadPoolExecutor(max_workers=min(args.setup_concurrency, args.users)) as pool:
        visitors = list(pool.map(make_visitor, range(2, 2 + args.users)))
        first = 2 + args.users
        guards = list(pool.map(make_guard, range(first, first + guards_needed(args))))
    return venue["qr"], warmer, guards, visitors


def guards_needed(args):
    """Scan k goes to visitor k mod users by guard k div users: every (guard, visitor)
    pair once, so no repeat scan is folded into another, and a guard makes at most
    `users` scans in all, under the limit of 120 a minute when users <= 120."""
    return max(1, math.ceil(args.operations // 2 / args.users))


# ----------------------------------------------------------------- the load

def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def run_pool(concurrency, count, make_worker):
    """Runs `count` operations on `concurrency` threads; each thread gets its
    own state from `make_worker()` and a shared counter hands out indices.
    Returns (wall seconds, [(kind, latency seconds, status, code)])."""
    counter = iter(range(count))
    lock = threading.Lock()
    results = []
    start_gate = threading.Barrier(concurrency + 1)

    def worker():
        operate, finish = make_worker()
        mine = []
        start_gate.wait()
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            mine.append(operate(i))
        finish()
        with lock:
            results.extend(mine)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [pool.submit(worker) for _ in range(concurrency)]
        start_gate.wait()
        started = time.perf_counter()
        for f in futures:
            f.result()
        wall = time.perf_counter() - started
    return wall, results


def drive(args, venue_code, guards, visitors, tag):
    refreshes = [0]
    refresh_lock = threading.Lock()

    def make_worker():
        client = Client(args.base, args.timeout)

        def operate(i):
            visitor = visitors[(i // 2) % len(visitors)]
            guard = guards[(i // 2) // len(visitors)]
            if i % 2 == 0:
                kind = "checkin"
                headers = {"idempotency-key": f"{tag}-{i}"}
                t0 = time.perf_counter()
                status, _, code = client.call("scan", "POST", "/v1/checkins", {"venue_code": venue_code},
                                              visitor.token, headers)
            else:
                kind = "scan"
                if time.time() >= visitor.refresh_at:
                    with visitor.lock:
                        if time.time() >= visitor.refresh_at:
                            fetch_code(client, visitor)
                            with refresh_lock:
                                refreshes[0] += 1
                t0 = time.perf_counter()
                status, _, code = client.call("scan", "POST", "/v1/scans", {"code": visitor.code}, guard)
            return kind, time.perf_counter() - t0, status, code

        return operate, client.close

    wall, results = run_pool(args.concurrency, args.operations, make_worker)
    return wall, results, refreshes[0]


def warm_up(args, warmer):
    """Starts every instance of the scan function with requests it refuses
    before any read or write (a malformed code: 422), so that the measured
    run does not pay the instances' start."""

    def make_worker():
        client = Client(args.base, args.timeout)

        def operate(_):
            status, _, code = client.call("scan", "POST", "/v1/scans", {"code": "HBHC:1:warm.up.request"}, warmer)
            return "warm", 0.0, status, code

        return operate, client.close

    _, results = run_pool(args.concurrency, args.concurrency * 3, make_worker)
    bad = [r for r in results if r[2] != 422]
    if bad:
        sys.exit(f"FAIL warm-up: {len(bad)} requests did not answer 422 (first: {bad[0][2]} {bad[0][3]})")


# ------------------------------------------------------------ the emulator

def dynamodb_client(endpoint):
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")
    return session.client("dynamodb", endpoint_url=endpoint,
                          config=Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=2))


def count_log(endpoint, table):
    """Entries in the log table, in all and by kind (`Select=COUNT` scans, paginated)."""
    ddb = dynamodb_client(endpoint)

    def count(**filters):
        total, start = 0, None
        while True:
            kwargs = {"TableName": table, "Select": "COUNT", "ConsistentRead": True, **filters}
            if start:
                kwargs["ExclusiveStartKey"] = start
            page = ddb.scan(**kwargs)
            total += page["Count"]
            start = page.get("LastEvaluatedKey")
            if not start:
                return total

    by_kind = {kind: count(FilterExpression="#k = :k", ExpressionAttributeNames={"#k": "kind"},
                           ExpressionAttributeValues={":k": {"S": kind}})
               for kind in ("checkin", "scan")}
    return count(), by_kind


def put_items(args, table):
    """As many plain PutItem calls as operations, of items shaped and sized
    like the log entries the stack writes (a check-in with its index keys,
    then a scan without), with the stack's condition, on as many threads."""
    clients = [dynamodb_client(args.dynamodb) for _ in range(args.concurrency)]
    handed = iter(clients)
    lock = threading.Lock()
    run = uuid.uuid4().hex[:8]
    sizes = {}

    def item(i):
        entry = f"e_{run}{i:018d}"
        subject = f"s_{run}{i % args.users:018d}"
        at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        it = {
            "pk": {"S": f"S#{subject}"}, "sk": {"S": f"E#{entry}"}, "id": {"S": entry},
            "kind": {"S": "checkin" if i % 2 == 0 else "scan"}, "subject_id": {"S": subject},
            "account": {"S": f"u_{run}{i % args.users:018d}"}, "at": {"S": at},
            "day": {"S": at[:10]}, "region": {"S": "130102"}, "color": {"S": "green"},
            "name_masked": {"S": "王*"}, "expires": {"N": str(int(time.time()) + 28 * 86400)},
        }
        if i % 2 == 0:
            it["venue_id"] = {"S": f"v_{run}{0:018d}"}
            it["gpk"] = {"S": f"V#v_{run}{0:018d}#{i % 4}"}
            it["gsk"] = {"S": f"{at}#{entry}"}
        return it

    def item_size(it):
        return sum(len(k.encode()) + len(next(iter(v.values())).encode()) for k, v in it.items())

    for i in (0, 1):
        sizes["checkin" if i == 0 else "scan"] = item_size(item(i))

    def make_worker():
        with lock:
            ddb = next(handed)

        def operate(i):
            it = item(i)
            t0 = time.perf_counter()
            try:
                ddb.put_item(TableName=table, Item=it, ConditionExpression="attribute_not_exists(pk)")
                status, code = 200, None
            except Exception as err:  # noqa: BLE001 - counted as a failure below
                status, code = 0, type(err).__name__
            return "put", time.perf_counter() - t0, status, code

        return operate, lambda: None

    wall, results = run_pool(args.concurrency, args.operations, make_worker)
    return wall, results, sizes


# ------------------------------------------------------------------ report

def stats(name, results, wall, concurrency):
    latencies = sorted(r[1] for r in results)
    n = len(latencies)
    return {
        "name": name, "n": n, "concurrency": concurrency, "wall": wall,
        "throughput": n / wall if wall else float("nan"),
        "p50": percentile(latencies, 50) * 1000, "p99": percentile(latencies, 99) * 1000,
        "max": (latencies[-1] * 1000) if latencies else float("nan"),
    }


def table(rows):
    out = ["| | operations | concurrency | wall time (s) | throughput (ops/s) | p50 (ms) | p99 (ms) | max (ms) |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['name']} | {r['n']} | {r['concurrency']} | {r['wall']:.2f} | {r['throughput']:.1f} "
                   f"| {r['p50']:.1f} | {r['p99']:.1f} | {r['max']:.1f} |")
    return "\n".join(out)


def failures(results):
    bad = {}
    for kind, latency, status, code in results:
        if not 200 <= status < 300:
            key = (kind, status, code)
            n, slowest = bad.get(key, (0, 0.0))
            bad[key] = (n + 1, max(slowest, latency))
    return bad


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the function server, http://127.0.0.1:9003")
    parser.add_argument("--dynamodb", required=True, help="the emulator, http://127.0.0.1:8002")
    parser.add_argument("--prefix", required=True, help="the table prefix")
    parser.add_argument("--operations", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--instances", type=int, default=4, help="function instances per function (for the report)")
    parser.add_argument("--build", choices=["debug", "release"], default="debug", help="which binaries serve (for the report)")
    parser.add_argument("--users", type=int, default=64, help="visitors (each checks in and has their code scanned)")
    parser.add_argument("--setup-concurrency", type=int, default=4, help="threads that set up the visitors")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for one answer")
    args = parser.parse_args()
    if args.operations < 2 or args.concurrency < 1 or args.users < 1 or args.setup_concurrency < 1:
        parser.error("at least 2 operations, 1 thread and 1 user")
    if args.users > 120:
        parser.error("at most 120 users: a guard scans each once, and a guard may scan 120 a minute")
    tag = f"load{os.getpid()}x{uuid.uuid4().hex[:6]}"
    log_table = f"{args.prefix}log"

    print(f"load: {args.operations} operations (half check-ins, half scans), {args.concurrency} client threads, "
          f"{args.instances} instances per function ({args.build} build), {args.users} visitors")
    t0 = time.perf_counter()
    venue_code, warmer, guards, visitors = setup(args, tag)
    print(f"setup: owner, venue, {len(visitors)} visitors (login, identity, declaration, code) and {len(guards)} guards "
          f"in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    warm_up(args, warmer)
    print(f"warm-up: {args.concurrency * 3} refused scans (422, not logged) in {time.perf_counter() - t0:.1f} s")

    opened = Client.opened
    wall, results, refreshes = drive(args, venue_code, guards, visitors, tag)
    print(f"run: {len(results)} operations in {wall:.2f} s over {Client.opened - opened} connections; "
          f"{refreshes} personal codes refreshed on the way")

    ok = True
    bad = failures(results)
    if bad:
        ok = False
        for (kind, status, code), (n, slowest) in sorted(bad.items(), key=lambda kv: -kv[1][0]):
            print(f"FAIL {n} {kind} operations answered {status} {code or ''} (slowest after {slowest * 1000:.0f} ms)")
    expected = {"checkin": sum(1 for r in results if r[0] == "checkin"), "scan": sum(1 for r in results if r[0] == "scan")}
    total, by_kind = count_log(args.dynamodb, log_table)
    print(f"log table: {total} entries ({by_kind['checkin']} check-ins, {by_kind['scan']} scans); "
          f"expected {args.operations} ({expected['checkin']} + {expected['scan']})")
    if total != args.operations or by_kind != expected:
        ok = False
        print(f"FAIL the log holds {total - args.operations:+d} entries against the operations "
              f"(check-ins {by_kind['checkin'] - expected['checkin']:+d}, scans {by_kind['scan'] - expected['scan']:+d})")

    put_wall, put_results, sizes = put_items(args, log_table)
    put_bad = failures(put_results)
    if put_bad:
        ok = False
        for (_, status, code), (n, _) in put_bad.items():
            print(f"FAIL {n} PutItem calls failed: {code}")
    print(f"plain PutItem: {len(put_results)} items of {sizes['checkin']} B (check-in shaped) and "
          f"{sizes['scan']} B (scan shaped), attribute_not_exists(pk), in {put_wall:.2f} s")

    rows = [
        stats("(a) check-ins", [r for r in results if r[0] == "checkin"], wall, args.concurrency),
        stats("(b) scans", [r for r in results if r[0] == "scan"], wall, args.concurrency),
        stats("(c) all, through the stack", results, wall, args.concurrency),
        stats("(d) plain PutItem to the emulator", put_results, put_wall, args.concurrency),
    ]
    print()
    print(table(rows))
    print()
    stack, put = rows[2], rows[3]
    print(f"stack/PutItem: throughput {stack['throughput'] / put['throughput']:.2f}, p50 {stack['p50'] / put['p50']:.1f}x")
    print("(rows (a) and (b) ran interleaved in the same run: their wall time is the run's)")
    if not ok:
        print("FAIL")
        sys.exit(1)
    print("PASS: every operation answered 2xx and logged exactly one entry")


if __name__ == "__main__":
    main()
