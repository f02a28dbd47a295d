"""End-to-end smoke test: drives the functions over HTTP as the mini-program
would, through `cargo lambda watch` (see infra/e2e.sh). Standard library only.

Each step prints one line; the first failure stops the run with exit code 1.
"""

import argparse
import json
import sys
import urllib.error
import urllib.request

BASE = ""


def call(function, method, route, body=None, token=None, expect=200, raw=False):
    url = f"{BASE}/lambda-url/{function}{route}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
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

    print("end-to-end smoke test passed")


if __name__ == "__main__":
    main()
