"""Schema fuzzing: schemathesis generates requests from docs/openapi.yaml
(valid and invalid ones) for every route, against the stack of
infra/e2e.sh behind infra/apigw.py (one base URL, as API Gateway gives),
with a fixed seed and a bounded number of examples, and fails on any
server error or any response that breaks the document (status, content
type, body schema).

Usage: fuzz.py --base http://127.0.0.1:9011 --hcctl target/debug/hcctl
"""

import argparse
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED = 20261126
# The identity this run registers (also searched for in the logs afterwards).
CITIZEN = {"name": "王五", "id_number": "130102199003070011", "phone": "13700000009"}
EXAMPLES = 12
WORKDIR = os.path.join(ROOT, ".local", "fuzz")
# The lines of schemathesis' report that say what failed where.
GIST = re.compile(r"^_+ .+ _+$|^\s*- [A-Z]+\d+ |^\s*\[\d{3}\]|^\s*curl |^\s*(Error|Exception|Selected|Unmatched|No test cases|Network Error|Read timed out)")

# The citizen's routes and the authority's, each run with its own token.
RUNS = {"citizen": ("--exclude-path-regex", r"^/v1/admin/"), "authority": ("--include-path-regex", r"^/v1/admin/")}


def post(base, route, body, token=None):
    request = urllib.request.Request(f"{base}{route}", data=json.dumps(body).encode(), method="POST")
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.loads(response.read())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--hcctl", required=True)
    args = parser.parse_args()
    base = args.base.rstrip("/")

    # A verified citizen who declared (so that codes exist), and an officer.
    citizen = post(base, "/v1/login", {"code": "dev:fuzzer"})["token"]
    citizen = post(base, "/v1/identity", CITIZEN, citizen)["token"]
    try:
        post(base, "/v1/declarations", {"region": "130102", "temperature": 36.5, "symptoms": [], "close_contact": False, "visited_regions": [], "from_abroad": False}, citizen)
    except urllib.error.HTTPError as error:
        if error.code != 429:  # declared three times today on this stack already
            raise
    officer = post(base, "/v1/login", {"code": "dev:fuzz-officer"})
    subprocess.run([args.hcctl, "roles", "grant", "--user", officer["user"]["id"], "--role", "authority"], check=True, capture_output=True)
    officer = post(base, "/v1/login", {"code": "dev:fuzz-officer"})["token"]

    # Schemathesis and Hypothesis keep caches in their working directory
    # (.schemathesis/, .hypothesis/). In the repository, their first writes
    # would make `cargo lambda watch` rebuild and restart every function in
    # the middle of the run, and requests time out; .local/ is git-ignored,
    # so the watcher ignores it.
    os.makedirs(WORKDIR, exist_ok=True)
    failed = []
    for who, (option, paths) in RUNS.items():
        token = officer if who == "authority" else citizen
        command = [
            os.path.join(ROOT, ".venv/bin/schemathesis"), "run", os.path.join(ROOT, "docs/openapi.yaml"),
            "--url", base,
            option, paths,
            "--header", f"Authorization: Bearer {token}",
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--seed", str(SEED),
            "--max-examples", str(EXAMPLES),
            "--phases", "examples,coverage,fuzzing",
            "--generation-deterministic",
            "--workers", "1",
            "--request-timeout", "30",
            "--suppress-health-check", "all",
            "--no-color",
        ]
        print(f"==> schemathesis: the {who}'s routes", flush=True)
        run = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=WORKDIR)
        print(run.stdout, flush=True)
        if run.returncode != 0:
            failed.append((who, run.stdout))
    if failed:
        # The gist last, where a short tail of the output shows it: each
        # failing operation, what failed, and the status it answered.
        for who, output in failed:
            print(f"FAIL the {who}'s routes:")
            gist = [line.strip() for line in output.splitlines() if GIST.search(line)]
            for line in gist[:40]:
                print(f"  {line}")
        print(f"FAIL schema fuzzing found problems in the routes of: {', '.join(who for who, _ in failed)}")
        sys.exit(1)
    print("schema fuzzing passed: no server error, every response as documented")


if __name__ == "__main__":
    main()
