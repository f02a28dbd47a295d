"""End-to-end smoke test: drives the functions over HTTP as the mini-program
would, through `cargo lambda watch` (see infra/e2e.sh). Standard library only.

Each step prints one line; the first failure stops the run with exit code 1.
"""

import argparse
import base64
import datetime
import subprocess
import json
import os
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from personal import Sent, id_number  # noqa: E402

BASE = ""
VISITOR_ID = "130104198807070015"
# A second visitor of the venue, who becomes a contact of the confirmed case.
CONTACT_ID = id_number("130102", "19920315", 41)
# Every name, ID number and phone this run sends: none may reach a log.
PERSONAL = {
    "name 张三丰": "张三丰",
    "name 张小宝": "张小宝",
    "name 李四": "李四",
    "ID 11010519491231002X": "11010519491231002X",
    "ID 130102201501010011": "130102201501010011",
    "ID 110105194912310021": "110105194912310021",
    "ID of the visitor": VISITOR_ID,
    "ID of the contact": CONTACT_ID,
    "name 王二小": "王二小",
    "phone 13900000002": "13900000002",
    "phone 13812345678": "13812345678",
    "phone 13900000001": "13900000001",
}


def call(function, method, route, body=None, token=None, expect=200, raw=False, headers=None):
    url = f"{BASE}/lambda-url/{function}{route}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            status, payload, headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, payload, headers = error.code, error.read(), error.headers
    if status != expect:
        fail(f"{method} {function}{route}: expected {expect}, got {status}: {payload[:300]!r}")
    if raw:
        return payload, headers
    return json.loads(payload) if payload else None


def fail(message):
    print(f"FAIL {message}")
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def step(message):
    print(f"ok   {message}")


def main():
    global BASE
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--hcctl", required=True)
    args = parser.parse_args()
    BASE = args.base.rstrip("/")
    # What this run sends, for tests/e2e/no_personal_data.py to search the logs for.
    sent = Sent("smoke")
    for kind, value in PERSONAL.items():
        sent.add(kind.split(" ")[0], value)

    # The first call builds nothing (infra/e2e.sh built the binaries) but
    # starts the function: allow it time.
    alice = call("login", "POST", "/v1/login", {"code": "dev:alice"})
    check(alice["token"] and alice["user"]["verified"] is False, "login returns a token for an unverified user")
    step("login dev:alice → token")

    identity = call("login", "POST", "/v1/identity",
                    {"name": "张三丰", "id_number": "11010519491231002X", "phone": "13812345678"}, alice["token"])
    user = identity["user"]
    check(user["verified"] and user["name_masked"] == "张*丰" and user["id_masked"] == "110105********002X",
          "identity returns the masked identity")
    token = identity["token"]
    step("identity → verified, masked")

    me = call("login", "GET", "/v1/me", token=token)
    check(me["user"]["subject_id"] == user["subject_id"] and me["user"]["dependents"] == [], "me shows the subject")
    step("me → own subject, no dependents")

    dependent = call("login", "POST", "/v1/dependents",
                     {"name": "张小宝", "id_number": "130102201501010011", "relation": "child"}, token, expect=201)
    check(dependent["dependent"]["name_masked"] == "张*宝", "the dependent is masked")
    listed = call("login", "GET", "/v1/dependents", token=token)
    check([d["subject_id"] for d in listed["dependents"]] == [dependent["dependent"]["subject_id"]], "the dependent is listed")
    step("dependents → added and listed")

    problem = call("login", "POST", "/v1/identity", {"name": "李四", "id_number": "110105194912310021", "phone": "13812345678"},
                   call("login", "POST", "/v1/login", {"code": "dev:bob"})["token"], expect=422)
    check(problem["code"] == "invalid-id-number", "a wrong check character is refused")
    step("a wrong check character → 422 invalid-id-number")

    declared = call("declaration", "POST", "/v1/declarations",
                    {"region": "130102", "temperature": 36.6, "symptoms": [], "close_contact": False,
                     "visited_regions": ["130104"], "from_abroad": False}, token, expect=201)
    check(declared["remaining_today"] == 2 and declared["status"]["color"] == "green", "a normal declaration is green")
    listed = call("declaration", "GET", "/v1/declarations", token=token)
    check(listed["declarations"][0]["id"] == declared["declaration"]["id"], "the declaration is listed")
    step("declare → green, listed")

    code = call("code", "GET", "/v1/code", token=token)
    check(code["color"] == "green" and code["status_text"] == "未见异常" and code["qr"].startswith("HBHC:1:"),
          "the code is green with a signed QR")
    jwks = call("code", "GET", "/.well-known/jwks.json")
    verify_code(code["qr"], jwks)
    step("code → HBHC:1: JWS verified with the JWK Set")

    paper = call("code", "POST", "/v1/code/paper", {}, token, expect=201)
    claims = verify_code(paper["qr"], jwks, paper=True)
    check(claims["exp"] - claims["iat"] == 30 * 86400, "a paper code lives 30 days")
    card, headers = call("code", "GET", "/v1/code/paper?format=png", token=token, raw=True)
    check(headers["content-type"] == "image/png" and card.startswith(b"\x89PNG"), "the paper code's card is a PNG")
    step("paper code → a 30-day JWS verified with the same JWK Set, its card a PNG")

    venue = call("venue", "POST", "/v1/venues",
                 {"name": "长安区建设北大街社区服务中心", "address": "石家庄市长安区建设北大街66号",
                  "region": "130102", "category": "public-service"}, token, expect=201)
    check(venue["venue"]["id"] and "?c=" in venue["qr"], "the venue has a signed code")
    svg, headers = call("venue", "GET", "/v1/venues/mine/poster", token=token, raw=True)
    check(headers["content-type"] == "image/svg+xml" and b"<svg" in svg, "the poster is an SVG")
    png, headers = call("venue", "GET", "/v1/venues/mine/poster?format=png", token=token, raw=True)
    check(headers["content-type"] == "image/png" and png.startswith(b"\x89PNG"), "the poster is a PNG")
    step("venue → created, poster as SVG and PNG")

    visitor = call("login", "POST", "/v1/login", {"code": "dev:visitor"})["token"]
    visitor = call("login", "POST", "/v1/identity",
                   {"name": "李四", "id_number": VISITOR_ID, "phone": "13900000001"}, visitor)["token"]
    call("declaration", "POST", "/v1/declarations",
         {"region": "130104", "temperature": 36.4, "symptoms": [], "close_contact": False,
          "visited_regions": [], "from_abroad": False}, visitor, expect=201)
    entered = call("scan", "POST", "/v1/checkins", {"venue_code": venue["qr"]}, visitor, expect=201,
                   headers={"idempotency-key": "smoke-1"})
    check(entered["venue"]["id"] == venue["venue"]["id"] and entered["code"]["qr"].startswith("HBHC:1:"),
          "the check-in shows the visitor's code")
    again = call("scan", "POST", "/v1/checkins", {"venue_code": venue["qr"]}, visitor, expect=201,
                 headers={"idempotency-key": "smoke-1"})
    check(again["entered_at"] == entered["entered_at"], "a retried check-in answers with the first entry")
    step("check in → logged once, visitor's code shown")

    contact = call("login", "POST", "/v1/login", {"code": "dev:contact"})["token"]
    contact = call("login", "POST", "/v1/identity",
                   {"name": "王二小", "id_number": CONTACT_ID, "phone": "13900000002"}, contact)["token"]
    call("declaration", "POST", "/v1/declarations",
         {"region": "130102", "temperature": 36.5, "symptoms": [], "close_contact": False,
          "visited_regions": [], "from_abroad": False}, contact, expect=201)
    call("scan", "POST", "/v1/checkins", {"venue_code": venue["qr"]}, contact, expect=201)
    step("a second visitor checks in at the same venue")

    scanned = call("scan", "POST", "/v1/scans", {"code": entered["code"]["qr"], "region": "130102"}, token)
    check(scanned["result"] == "pass" and scanned["name_masked"] == "李*", "a green code passes at a checkpoint")
    step("scan someone's code → pass")

    entries = call("venue", "GET", "/v1/venues/mine/checkins", token=token)
    check(len(entries["entries"]) == 2 and entries["entries"][-1]["name_masked"] == "李*", "the venue lists the masked entries")
    step("venue entries → two, masked")

    officer = call("login", "POST", "/v1/login", {"code": "dev:officer"})
    hcctl(args.hcctl, "roles", "grant", "--user", officer["user"]["id"], "--role", "authority")
    officer = call("login", "POST", "/v1/login", {"code": "dev:officer"})["token"]
    step("hcctl roles grant → authority")

    # A partner system of another province verifies the visitor's code online.
    partner = f"smoke-{os.getpid()}"
    key = hcctl(args.hcctl, "partners", "add", "--name", partner).strip()
    sent.add("API key", key)
    shown = call("code", "GET", "/v1/code", token=visitor)
    verified = call("code", "POST", "/v1/verify", {"code": shown["qr"]}, headers={"x-api-key": key})
    check(verified["valid"] is True and verified["color"] == "green" and verified["name_masked"] == "李*",
          "a partner gets the live status of our code")
    call("code", "POST", "/v1/verify", {"code": shown["qr"]}, expect=401)
    step("hcctl partners add → a partner verifies a code live; no key → 401")

    report = call("admin", "POST", "/v1/admin/risk-persons",
                  {"records": [{"id_number": VISITOR_ID, "status": "confirmed", "since": "2026-11-20"}]}, officer)
    check(report["applied"] == 1 and report["unmatched"] == 0, "the risk record applies to the registered visitor")
    code = call("code", "GET", "/v1/code", token=visitor)
    scanned = call("scan", "POST", "/v1/scans", {"code": code["qr"]}, token)
    check(scanned["result"] == "verify" and scanned["color"] == "red", "the scan turns red")
    step("import a risk record → the scan turns red")

    found = call("admin", "GET", f"/v1/admin/subjects?id_number={VISITOR_ID}", token=officer)["subject"]
    check(found["id_number"] == VISITOR_ID and found["color"] == "red" and found["registered"], "the case is found by ID number, red")
    visits = call("admin", "GET", f"/v1/admin/traces?id_number={VISITOR_ID}", token=officer)["visits"]
    check([v["venue"]["id"] for v in visits] == [venue["venue"]["id"]], "the case's trace by ID number shows the venue")
    listed = call("admin", "GET", "/v1/admin/venues?region=130102", token=officer)["venues"]
    check(venue["venue"]["id"] in [v["id"] for v in listed], "the venue is listed in its county")
    step("find the case by ID number → red, and the venue they entered, in its county")

    trace = call("admin", "GET", f"/v1/admin/traces?venue_id={venue['venue']['id']}", token=officer)
    check(len(trace["entries"]) == 2 and VISITOR_ID in [e["id_number"] for e in trace["entries"]],
          "the trace shows the visitors in full")
    step("trace the venue → the visitors, in full, for the authority")

    # The confirmed case's venue is exposed: the worker (hcctl exposures work
    # --follow, started by infra/e2e.sh) finds the other visitor.
    now = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8))).replace(microsecond=0)
    exposure = call("admin", "POST", "/v1/admin/exposures",
                    {"id_number": VISITOR_ID, "from": (now - datetime.timedelta(hours=1)).isoformat(),
                     "to": now.isoformat(), "level": "yellow", "reason": "确诊病例行程", "window_minutes": 60},
                    officer, expect=202)["exposure"]
    check(exposure["status"] == "pending", "the exposure is recorded, the work left to the worker")
    deadline = time.monotonic() + 60
    while True:
        shown = call("admin", "GET", f"/v1/admin/exposures/{exposure['id']}", token=officer)["exposure"]
        if shown["status"] == "done" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    check(shown["status"] == "done" and shown["contacts"] == 1, f"the worker finds one contact: {shown['status']}, {shown['contacts']}")
    contacts = call("admin", "GET", f"/v1/admin/exposures/{exposure['id']}/contacts", token=officer)["contacts"]
    check([c["id_number"] for c in contacts] == [CONTACT_ID], "the contact is the other visitor, not the case")
    code = call("code", "GET", "/v1/code", token=contact)
    check(code["color"] == "yellow" and code["hints"][0].endswith("与风险人员时空伴随"), "the contact's code turns yellow")
    notices = call("code", "GET", "/v1/notices", token=contact)["notices"]
    check(len(notices) == 1 and notices[0]["kind"] == "exposure" and "王" not in notices[0]["text"], "a notice appears, naming no one")
    step("expose the confirmed case → the other visitor's code turns yellow and a notice appears")

    hcctl(args.hcctl, "aggregate")
    ranking = call("admin", "GET", "/v1/admin/rankings?level=county", token=officer)
    row = next(r for r in ranking["rows"] if r["region"] == "130102")
    check(row["checkins"] == 2 and row["scans"] >= 1 and row["rank"] == 1, "the rankings count the check-ins and the scans")
    step("rankings → Chang'an district first")

    print("end-to-end smoke test passed")


def hcctl(binary, *args):
    """Runs hcctl against the stack's tables (its environment comes from infra/e2e.sh)."""
    result = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        fail(f"hcctl {' '.join(args[:2])}: {result.stderr.strip()}")
    return result.stdout


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_code(qr, jwks, paper=False):
    """Verifies the code's EdDSA signature with the published key, as an
    offline verifier would (the `cryptography` package comes with moto);
    returns its claims. A paper code has one more claim, its version `pv`."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    header_b64, payload_b64, signature_b64 = qr[len("HBHC:1:"):].split(".")
    header = json.loads(b64url(header_b64))
    keys = {k["kid"]: k for k in jwks["keys"]}
    check(header["alg"] == "EdDSA" and header["kid"] in keys, "the code's kid is in the JWK Set")
    public = Ed25519PublicKey.from_public_bytes(b64url(keys[header["kid"]]["x"]))
    public.verify(b64url(signature_b64), f"{header_b64}.{payload_b64}".encode())
    claims = json.loads(b64url(payload_b64))
    expected = {"iss", "sub", "col", "iat", "exp"} | ({"pv"} if paper else set())
    check(set(claims) == expected and claims["col"] == "green", "the claims are as specified")
    return claims


if __name__ == "__main__":
    main()
