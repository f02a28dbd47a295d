"""Searches the functions' logs of an end-to-end run for every name, ID
number and phone number the run sent (tests/e2e/smoke.py, tests/e2e/fuzz.py
and the examples of docs/openapi.yaml, which the fuzzer sends); any hit
fails.

Usage: no_personal_data.py <log file>...
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzz  # noqa: E402
import smoke  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def examples():
    """Names, ID numbers and phones in the OpenAPI document's examples."""
    with open(os.path.join(ROOT, "docs/openapi.yaml"), encoding="utf-8") as f:
        text = f.read()
    found = {}
    for value in re.findall(r"\b\d{17}[\dXx]\b", text):
        found[f"example ID {value}"] = value
    for value in re.findall(r"\b1[3-9]\d{9}\b", text):
        found[f"example phone {value}"] = value
    for value in re.findall(r"name:\s*\"?([\u4e00-\u9fff]{2,4})\"?", text):
        found[f"example name {value}"] = value
    return found


def main():
    personal = dict(smoke.PERSONAL)
    personal.update({f"fuzzer {k}": v for k, v in fuzz.CITIZEN.items()})
    personal.update(examples())
    leaks = []
    total = 0
    for path in sys.argv[1:]:
        with open(path, encoding="utf-8", errors="replace") as f:
            logged = f.read()
        total += len(logged)
        leaks += [f"{kind} in {os.path.basename(path)}" for kind, value in personal.items() if value in logged]
    if leaks:
        print("FAIL personal data in the logs: " + "; ".join(sorted(set(leaks))))
        sys.exit(1)
    print(f"ok   no name, ID number or phone among {len(personal)} in the function logs ({total} bytes read)")


if __name__ == "__main__":
    main()
