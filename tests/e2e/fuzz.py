"""Schema fuzzing: schemathesis generates requests from docs/openapi.yaml
(valid and invalid ones) for every route, against the stack of
infra/e2e.sh behind infra/apigw.py (one base URL, as API Gateway gives),
and fails on any server error or any response that breaks the document
(status, content type, body schema).

So that the generated requests reach the handlers' success paths, the run
first seeds fixtures over HTTP (a verified citizen with five dependents,
two guardians by the citizen's invitations and a venue, a second person's
venue where the citizen checked in and had their code scanned, a third
person's venue for the authority to revoke, an officer, the citizen as an
inspector (scans by ID number), an exposure of
that venue, a partner system's API key for POST /v1/verify),
then hands schemathesis a configuration file
(.local/fuzz/schemathesis.toml) whose dictionaries bind parameters to those
fixtures with a probability: ID numbers with a valid check character (a
pattern cannot say it), the subjects, guardian links and venues that
exist, live health and
venue codes, trace windows and check validity times near now. The phases
are examples, coverage, fuzzing and the stateful phase, which follows the
document's OpenAPI links (login → identity → declaration → code → scan;
venue → check-in; dependent → its code, declarations, unlinking).

Generation is deterministic (`--generation-deterministic`): the same
document, fixtures and stack give the same requests, so there is no seed.

Every response is counted by tests/e2e/fuzz_hooks.py; the end of the
output is a per-operation report of accepted (2xx) and rejected (4xx)
cases, and the run fails when an operation got no case or no 2xx.

Usage: fuzz.py --base http://127.0.0.1:9011 --hcctl target/debug/hcctl
"""

import argparse
import collections
import datetime
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from personal import Sent, id_number  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = os.path.join(ROOT, "docs/openapi.yaml")
EXAMPLES = 12
WORKDIR = os.path.join(ROOT, ".local", "fuzz")
CALLS = os.path.join(WORKDIR, "calls.jsonl")
SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))

# The people this run registers. Their values are recorded in
# .local/sent/fuzz.txt, which tests/e2e/no_personal_data.py searches the logs for.
CITIZEN = {"name": "王五", "id_number": "130102199003070011", "phone": "13700000009"}
HOLDER = {"name": "赵六", "id_number": id_number("130104", "19850412", 17), "phone": "13700000008"}
DEPENDENT_NAME = "王小五"
DEPENDENT_IDS = [id_number("130102", f"201{i}0601", 100 + i) for i in range(5)]
# The citizen's guardians, each added by the citizen's invitation.
GUARDIANS = [
    ("dev:fuzz-guardian-1", {"name": "孙七", "id_number": id_number("130105", "19780305", 21), "phone": "13700000007"}),
    ("dev:fuzz-guardian-2", {"name": "周八", "id_number": id_number("130105", "19800909", 23), "phone": "13700000006"}),
]
# The holder of a venue the authority's routes revoke.
REVOKED_HOLDER = {"name": "吴九", "id_number": id_number("130102", "19750101", 31), "phone": "13700000005"}
# Reasons a person gives in an appeal.
APPEAL_REASONS = ["我没有发热，体温登记时填错了。", "行程信息有误，请核实。"]
# Visitors without a phone whom the citizen's venue records by ID number (an
# assisted check-in gives each a subject no one holds).
ASSISTED_IDS = [id_number("130303", f"19{40 + i}0203", 400 + i) for i in range(3)]
# Persons not registered: the risk-person import gets them as `unmatched`.
UNREGISTERED_IDS = [id_number("130203", f"19{70 + i}0815", 300 + i) for i in range(4)]

# The lines of schemathesis' report that say what failed where.
GIST = re.compile(r"^_+ .+ _+$|^\s*- [A-Z]+\d+ |^\s*\[\d{3}\]|^\s*curl |^\s*(Error|Exception|Selected|Unmatched|No test cases|Network Error|Read timed out)")

# The citizen's routes and the authority's, each run with its own token; and
# logout last, with a token of its own, since it ends the session it is sent with.
RUNS = {
    "citizen": ("--exclude-path-regex", r"^/v1/(admin/|logout$)"),
    "authority": ("--include-path-regex", r"^/v1/admin/"),
    "session": ("--include-path-regex", r"^/v1/logout$"),
}


def call(base, method, route, body=None, token=None, headers=None, ok=(200, 201)):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}{route}", data=data, method=method)
    if data is not None:
        request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        if error.code in ok:
            return None
        # The status and the route only: the body could echo nothing personal, but say less.
        raise SystemExit(f"FAIL fixture {method} {route.split('?')[0]}: {error.code}")


def person(base, login, identity, sent):
    """A verified account: (token, subject id, account id)."""
    sent.add("name", identity["name"])
    sent.add("ID", identity["id_number"])
    sent.add("phone", identity["phone"])
    token = call(base, "POST", "/v1/login", {"code": login})["token"]
    verified = call(base, "POST", "/v1/identity", identity, token)
    return verified["token"], verified["user"]["subject_id"], verified["user"]["id"]


def declare(base, token, region, subject_id=None):
    body = {"region": region, "temperature": 36.5, "symptoms": [], "close_contact": False, "visited_regions": [], "from_abroad": False}
    if subject_id:
        body["subject_id"] = subject_id
    call(base, "POST", "/v1/declarations", body, token, ok=(429,))  # three a day already, on a reused stack


def fixtures(base, hcctl, sent):
    """Seeds the stack; returns the values the dictionaries offer."""
    citizen, citizen_subject, citizen_account = person(base, "dev:fuzzer", CITIZEN, sent)
    # The citizen is also an inspector, so that scans by ID number are accepted.
    subprocess.run([hcctl, "roles", "grant", "--user", citizen_account, "--role", "inspector"], check=True, capture_output=True)
    declare(base, citizen, "130102")
    sent.add("name", DEPENDENT_NAME)
    for number in DEPENDENT_IDS:
        sent.add("ID", number)
        # 409 only on a reused stack, where an earlier run's fuzzing changed the links.
        call(base, "POST", "/v1/dependents", {"name": DEPENDENT_NAME, "id_number": number, "relation": "child"}, citizen, ok=(201, 409))
    dependents = [d["subject_id"] for d in call(base, "GET", "/v1/dependents", token=citizen)["dependents"]]
    declare(base, citizen, "130104", dependents[0])
    # The citizen's own venue, so that the venue routes find one until the fuzzer revokes it.
    call(base, "POST", "/v1/venues", {"name": "王五便利店", "address": "石家庄市长安区中山东路1号", "region": "130102", "category": "commerce"},
         citizen, ok=(409,))

    holder, holder_subject, _ = person(base, "dev:fuzz-venue", HOLDER, sent)
    declare(base, holder, "130104")
    venue = call(base, "POST", "/v1/venues", {"name": "桥西区新华路社区服务站", "address": "石家庄市桥西区新华路88号", "region": "130104", "category": "public-service"},
                 holder, ok=(409,))
    if venue is None:  # a reused stack: the holder's venue exists
        venue = call(base, "GET", "/v1/venues/mine", token=holder)
    call(base, "POST", "/v1/checkins", {"venue_code": venue["qr"]}, citizen, headers={"idempotency-key": "fuzz-fixture"})
    citizen_code = call(base, "GET", "/v1/code", token=citizen)["qr"]
    # Paper codes of the citizen and of a dependent, so that their cards are found
    # (the fuzzer issues more, each revoking the one before).
    call(base, "POST", "/v1/code/paper", {}, citizen)
    call(base, "POST", "/v1/code/paper", {"subject_id": dependents[0]}, citizen)
    call(base, "POST", "/v1/scans", {"code": citizen_code, "region": "130104"}, holder)
    holder_code = call(base, "GET", "/v1/code", token=holder)["qr"]

    # Two guardians of the citizen by invitation, so that removing one is accepted.
    for login, identity in GUARDIANS:
        token, _, _ = person(base, login, identity, sent)
        code = call(base, "POST", f"/v1/dependents/{citizen_subject}/invitations", token=citizen)["invitation"]["code"]
        as_dependent = {"name": CITIZEN["name"], "id_number": CITIZEN["id_number"], "relation": "child", "invitation": code}
        call(base, "POST", "/v1/dependents", as_dependent, token)
    guardian_links = [g["id"] for g in call(base, "GET", "/v1/guardians", token=citizen)["guardians"]]

    # A venue for the authority to revoke (again and again: each answers 204).
    revoked_holder, _, _ = person(base, "dev:fuzz-revoked", REVOKED_HOLDER, sent)
    revocable = call(base, "POST", "/v1/venues", {"name": "长安区待撤销场所", "address": "石家庄市长安区广安街2号", "region": "130102", "category": "other"},
                     revoked_holder, ok=(409,))
    if revocable is None:  # a reused stack where it was not revoked yet
        revocable = call(base, "GET", "/v1/venues/mine", token=revoked_holder)

    officer = call(base, "POST", "/v1/login", {"code": "dev:fuzz-officer"})
    subprocess.run([hcctl, "roles", "grant", "--user", officer["user"]["id"], "--role", "authority"], check=True, capture_output=True)
    officer = call(base, "POST", "/v1/login", {"code": "dev:fuzz-officer"})["token"]
    leaver = call(base, "POST", "/v1/login", {"code": "dev:fuzz-leaver"})["token"]
    # A partner system for POST /v1/verify: a name of its own per run, so that a
    # reused stack's earlier partner does not refuse it. Its key is searched for
    # in the logs like the personal data (it must never be logged).
    added = subprocess.run([hcctl, "partners", "add", "--name", f"fuzz-{int(time.time())}"],
                           check=True, capture_output=True, text=True)
    partner_key = added.stdout.strip()
    sent.add("API key", partner_key)
    # An open appeal for the first dependent, for the authority's queue and decision (409 on a
    # reused stack where it is still open); the citizen's own subject is left free to appeal.
    call(base, "POST", "/v1/appeals", {"subject_id": dependents[0], "reason": APPEAL_REASONS[0]}, citizen, ok=(201, 409))
    appeal_ids = [a["id"] for a in call(base, "GET", "/v1/admin/appeals", token=officer)["appeals"]]

    now = datetime.datetime.now(SHANGHAI).replace(microsecond=0)
    stamp = lambda delta: (now + delta).isoformat()  # noqa: E731
    token_of = venue["qr"].split("?c=", 1)[1]
    # An exposure of the holder's venue, for the routes that read and withdraw one.
    exposure = call(base, "POST", "/v1/admin/exposures",
                    {"venue_id": venue["venue"]["id"], "from": stamp(datetime.timedelta(hours=-2)), "to": stamp(datetime.timedelta(0)),
                     "level": "yellow", "reason": "确诊病例到访"}, officer)["exposure"]["id"]
    return {
        "tokens": {"citizen": citizen, "authority": officer, "session": leaver},
        "dictionaries": {
            "citizen-id": [CITIZEN["id_number"]],
            "dependent-id": DEPENDENT_IDS,
            "dependent-name": [DEPENDENT_NAME],
            "subjects": [citizen_subject, *dependents],
            "dependents": dependents,
            "guardian-links": guardian_links,
            "traced-subjects": [citizen_subject, holder_subject],
            "registered-ids": [CITIZEN["id_number"], HOLDER["id_number"], DEPENDENT_IDS[0]],
            "venue-ids": [venue["venue"]["id"]],
            "revocable-venues": [revocable["venue"]["id"]],
            "venue-counties": ["130102", "130104"],
            "venue-name-parts": ["社区", "便利店", "场所"],
            "venue-codes": [venue["qr"], token_of],
            "health-codes": [citizen_code, holder_code],
            "partner-keys": [partner_key],
            "venue-names": ["裕华区槐安路菜市场", "正定县人民医院门诊楼", "Shijiazhuang Railway Station"],
            "venue-addresses": ["石家庄市裕华区槐安东路136号", "石家庄市正定县中山路96号"],
            "known-divisions": ["130102", "130104", "130600", "130682", "110105", "120101", "310101", "420106", "130000"],
            "window-from": [stamp(datetime.timedelta(days=-3)), stamp(datetime.timedelta(hours=-2))],
            "window-to": [stamp(datetime.timedelta(minutes=0))],
            "valid-until": [stamp(datetime.timedelta(hours=6)), stamp(datetime.timedelta(days=7))],
            "check-reasons": ["核酸检测阴性", "已完成居家隔离，复核正常"],
            "appeal-reasons": APPEAL_REASONS,
            "appeal-ids": appeal_ids or ["ap_aaaaaaaaaaaaaaaaaaaaaaaaaa"],
            "exposure-ids": [exposure],
            "exposure-reasons": ["确诊病例到访", "确诊病例行程"],
            "risk-ids": UNREGISTERED_IDS,
            "assisted-ids": [*ASSISTED_IDS, CITIZEN["id_number"], HOLDER["id_number"]],
            "risk-since": [now.date().isoformat(), (now.date() - datetime.timedelta(days=5)).isoformat()],
        },
    }


# Which parameter of which operation draws from which dictionary, and how often.
BINDINGS = {
    "verifyIdentity": {"body.id_number": ("citizen-id", 0.7)},
    "addDependent": {"body.id_number": ("dependent-id", 0.7), "body.name": ("dependent-name", 0.7)},
    "removeDependent": {"path.subject_id": ("dependents", 0.5)},
    "inviteGuardian": {"path.subject_id": ("subjects", 0.7)},
    "removeGuardian": {"path.id": ("guardian-links", 0.7)},
    "declare": {"body.subject_id": ("subjects", 0.5), "body.visited_regions[*]": ("known-divisions", 0.9)},
    "listDeclarations": {"query.subject_id": ("subjects", 0.6)},
    "getCode": {"query.subject_id": ("subjects", 0.6)},
    "issuePaperCode": {"body.subject_id": ("subjects", 0.6)},
    "getPaperCard": {"query.subject_id": ("subjects", 0.6)},
    "createVenue": {"body.name": ("venue-names", 0.6), "body.address": ("venue-addresses", 0.6)},
    "scanCode": {"body.code": ("health-codes", 0.7), "body.id_number": ("registered-ids", 0.8)},
    "recordAssistedCheckin": {"body.id_number": ("assisted-ids", 0.8)},
    "verifyCode": {"header.X-Api-Key": ("partner-keys", 0.9), "body.code": ("health-codes", 0.7)},
    "checkIn": {"body.venue_code": ("venue-codes", 0.7), "body.subject_id": ("subjects", 0.4)},
    "putRiskAreas": {"body.areas[*].region": ("known-divisions", 0.9)},
    "importRiskPersons": {"body.records[*].id_number": ("risk-ids", 0.8), "body.records[*].since": ("risk-since", 0.8)},
    "setVerification": {"path.subject_id": ("traced-subjects", 0.8), "body.reason": ("check-reasons", 0.7),
                        "body.valid_until": ("valid-until", 0.6)},
    "fileAppeal": {"body.subject_id": ("subjects", 0.5), "body.reason": ("appeal-reasons", 0.5)},
    "listAppeals": {"query.subject_id": ("subjects", 0.6)},
    "decideAppeal": {"path.appeal_id": ("appeal-ids", 0.8), "body.note": ("check-reasons", 0.7),
                     "body.valid_until": ("valid-until", 0.6)},
    "trace": {"query.venue_id": ("venue-ids", 0.5), "query.subject_id": ("traced-subjects", 0.5),
              "query.id_number": ("registered-ids", 0.3), "query.from": ("window-from", 0.9), "query.to": ("window-to", 0.9)},
    "findSubject": {"query.id_number": ("registered-ids", 0.7)},
    "searchVenues": {"query.region": ("venue-counties", 0.6), "query.q": ("venue-name-parts", 0.6)},
    "revokeVenue": {"path.venue_id": ("revocable-venues", 0.7)},
    "getNotices": {"query.subject_id": ("subjects", 0.6)},
    "createExposure": {"body.venue_id": ("venue-ids", 0.9), "body.subject_id": ("traced-subjects", 0.9),
                       "body.id_number": ("citizen-id", 0.9), "body.from": ("window-from", 0.9),
                       "body.to": ("window-to", 0.9), "body.reason": ("exposure-reasons", 0.8)},
    "getExposure": {"path.id": ("exposure-ids", 0.8)},
    "withdrawExposure": {"path.id": ("exposure-ids", 0.8)},
    "exposureContacts": {"path.id": ("exposure-ids", 0.8)},
}
# A trace needs exactly one of two optional ids, a window near now and no stray
# cursor, which few generated cases have: more cases there.
MAX_EXAMPLES = {"trace": 60, "createExposure": 60}


def toml(value):
    """A TOML basic string or array (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def write_config(dictionaries):
    lines = ["# Written by tests/e2e/fuzz.py for one run: the fixtures it seeded, as dictionaries.", ""]
    for name, values in dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = {toml(values)}", ""]
    for operation, parameters in BINDINGS.items():
        bound = ", ".join(f"{toml(key)} = {{ dictionary = {toml(name)}, probability = {p} }}" for key, (name, p) in parameters.items())
        lines += ["[[operations]]", f"include-operation-id = {toml(operation)}", f"parameters = {{ {bound} }}"]
        if operation in MAX_EXAMPLES:
            lines += [f"generation = {{ max-examples = {MAX_EXAMPLES[operation]} }}"]
        lines += [""]
    path = os.path.join(WORKDIR, "schemathesis.toml")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return path


def report(selected):
    """Prints accepted and rejected cases per operation; returns the operations that fail."""
    counts = collections.defaultdict(collections.Counter)
    with open(CALLS, encoding="utf-8") as f:
        for line in f:
            entry = json.loads(line)
            counts[entry["operation"]][f"{entry['status'] // 100}xx"] += 1
    print("==> per-operation report: accepted (2xx), rejected (4xx), other, of the cases sent")
    print(f"    {'operation':<50} {'2xx':>5} {'4xx':>5} {'other':>5} {'total':>6}")
    bad = []
    for operation in sorted(selected, key=lambda label: (label.split(" ", 1)[1], label)):
        c = counts.get(operation, collections.Counter())
        total = sum(c.values())
        other = total - c["2xx"] - c["4xx"]
        verdict = "" if c["2xx"] else ("  <- no case" if total == 0 else "  <- only rejected")
        print(f"    {operation:<50} {c['2xx']:>5} {c['4xx']:>5} {other:>5} {total:>6}{verdict}")
        if verdict:
            bad.append(operation)
    accepted = sum(c["2xx"] for c in counts.values())
    total = sum(sum(c.values()) for c in counts.values())
    print(f"    {'all':<50} {accepted:>5} {sum(c['4xx'] for c in counts.values()):>5} {'':>5} {total:>6}")
    return bad


def operations(option, paths):
    """The operations a run selects, as schemathesis labels them."""
    import yaml  # schemathesis' dependency

    with open(SPEC, encoding="utf-8") as f:
        document = yaml.safe_load(f)
    found = []
    for path, item in document["paths"].items():
        if bool(re.search(paths, path)) != (option == "--include-path-regex"):
            continue
        found += [f"{method.upper()} {path}" for method in item if method in ("get", "put", "post", "delete", "patch")]
    return found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--hcctl", required=True)
    parser.add_argument("--only", choices=list(RUNS), help="run one of the two runs (when working on this script)")
    args = parser.parse_args()
    base = args.base.rstrip("/")

    sent = Sent("fuzz")
    seeded = fixtures(base, args.hcctl, sent)
    # The ID numbers the dictionaries offer are sent too.
    sent.add("ID", *seeded["dictionaries"]["risk-ids"], *ASSISTED_IDS)
    print("fixtures seeded: a citizen with 5 dependents, 2 guardians and a venue, a venue holder, an officer, a partner; "
          f"{sum(len(v) for v in seeded['dictionaries'].values())} dictionary values in {len(seeded['dictionaries'])} dictionaries")

    # Schemathesis and Hypothesis keep caches in their working directory
    # (.schemathesis/, .hypothesis/). In the repository, their first writes
    # would make `cargo lambda watch` rebuild and restart every function in
    # the middle of the run, and requests time out; .local/ is git-ignored,
    # so the watcher ignores it.
    os.makedirs(WORKDIR, exist_ok=True)
    config = write_config(seeded["dictionaries"])
    open(CALLS, "w").close()
    environment = dict(os.environ, SCHEMATHESIS_HOOKS=os.path.join(ROOT, "tests/e2e/fuzz_hooks.py"), HC_FUZZ_CALLS=CALLS)
    failed = []
    selected = []
    for who, (option, paths) in RUNS.items():
        if args.only and who != args.only:
            continue
        selected += operations(option, paths)
        command = [
            os.path.join(ROOT, ".venv/bin/schemathesis"), "--config-file", config, "run", SPEC,
            "--url", base,
            option, paths,
            "--header", f"Authorization: Bearer {seeded['tokens'][who]}",
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--max-examples", str(EXAMPLES),
            # The admin routes link to none of each other: no stateful phase there.
            "--phases", "examples,coverage,fuzzing,stateful" if who == "citizen" else "examples,coverage,fuzzing",
            "--generation-deterministic",
            "--workers", "1",
            "--request-timeout", "30",
            "--suppress-health-check", "all",
            "--no-color",
        ]
        print(f"==> schemathesis: the {who}'s routes", flush=True)
        run = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=WORKDIR, env=environment)
        print(run.stdout, flush=True)
        if run.returncode != 0:
            failed.append((who, run.stdout))
    bad = report(selected)
    if failed:
        # The gist last, where a short tail of the output shows it: each
        # failing operation, what failed, and the status it answered.
        for who, output in failed:
            print(f"FAIL the {who}'s routes:")
            gist = [line.strip() for line in output.splitlines() if GIST.search(line)]
            for line in gist[:40]:
                print(f"  {line}")
        print(f"FAIL schema fuzzing found problems in the routes of: {', '.join(who for who, _ in failed)}")
    if bad:
        print(f"FAIL no accepted (2xx) case for: {', '.join(bad)}")
    if failed or bad:
        sys.exit(1)
    print("schema fuzzing passed: no server error, every response as documented, every operation accepted at least one case")


if __name__ == "__main__":
    main()
