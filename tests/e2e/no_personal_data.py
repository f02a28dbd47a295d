"""Searches the logs of a test run for personal data; any hit fails.

It looks for:
- every name, ID number and phone the run sent (numbers where they are not
  part of a longer run of digits or letters), as recorded under
  .local/sent/ (tests/e2e/smoke.py, tests/e2e/fuzz.py, the browser tests'
  web/tests/lib.mjs), and those of the examples of docs/openapi.yaml;
- anything shaped like a resident ID number: 17 digits and a valid GB 11643
  check character (ISO 7064 MOD 11-2), not inside a longer run of digits or
  letters, so that timestamps and other long numbers do not count;
- anything shaped like a mainland mobile number: 11 digits, 1 then 3–9
  (optionally after +86), not inside a longer run of digits or letters (so
  that hex ids and trace ids do not count);
- anything shaped like a partner's API key (`hcpk_` and 52 base32
  characters), and the keys the run created (fuzz.py records its partner's):
  a key is a secret, never to be logged.

Every log named must exist and hold something: a missing or empty log fails,
because a search of nothing proves nothing. Hits are reported by kind, file
and line number, never with the value.

Usage: no_personal_data.py [--sent DIR] <log file>...
"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from personal import SENT_DIR, has_valid_check, read_sent  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Not inside a longer run of digits or letters, nor the fraction of a decimal
# number (a duration such as 0.049533999999999995 has 18 digits after its point).
ID_SHAPE = re.compile(r"(?<![0-9A-Za-z])(?<![0-9]\.)[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
API_KEY_SHAPE = re.compile(r"hcpk_[a-z2-7]{52}")
PHONE_SHAPE = re.compile(r"(?<![0-9A-Za-z])(?<![0-9]\.)(?:\+86)?1[3-9][0-9]{9}(?![0-9A-Za-z])")


def examples():
    """Names, ID numbers and phones in the OpenAPI document's examples."""
    with open(os.path.join(ROOT, "docs/openapi.yaml"), encoding="utf-8") as f:
        text = f.read()
    found = set()
    for value in re.findall(r"\b\d{17}[\dXx]\b", text):
        found.add(("openapi", "ID", value))
    for value in re.findall(r"\b1[3-9]\d{9}\b", text):
        found.add(("openapi", "phone", value))
    for value in re.findall(r"name:\s*\"?([\u4e00-\u9fff]{2,4})\"?", text):
        found.add(("openapi", "name", value))
    return found


def matchers(values):
    """Numbers (ID numbers, phones) count only where they are not part of a
    longer run of digits or letters; names count anywhere."""
    found = []
    for sender, kind, value in sorted(values):
        number = re.fullmatch(r"\+?[0-9]+[Xx]?", value)
        pattern = re.compile(rf"(?<![0-9A-Za-z])(?<![0-9]\.){re.escape(value)}(?![0-9A-Za-z])") if number else None
        found.append((sender, kind, value, pattern))
    return found


def search(paths, literal):
    """(problems, bytes read): a problem is a line naming a kind, a file and a line, never a value."""
    problems = []
    total = 0
    for path in paths:
        name = os.path.relpath(path, ROOT) if path.startswith(ROOT) else path
        if not os.path.isfile(path):
            problems.append(f"missing log {name}: the run should have written it")
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
        size = sum(len(line) for line in lines)
        total += size
        if size == 0:
            problems.append(f"empty log {name}: nothing to search")
            continue
        for number, line in enumerate(lines, 1):
            kinds = set()
            for sender, kind, value, pattern in literal:
                if value in line and (pattern is None or pattern.search(line)):
                    kinds.add(f"{kind} sent by {sender}")
            if any(has_valid_check(m.group(0)) for m in ID_SHAPE.finditer(line)):
                kinds.add("an ID number (valid check character)")
            if PHONE_SHAPE.search(line):
                kinds.add("a mobile number")
            if API_KEY_SHAPE.search(line):
                kinds.add("a partner API key")
            problems += [f"{kind} in {name} line {number}" for kind in sorted(kinds)]
    return problems, total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sent", default=SENT_DIR, help="where the senders recorded what they sent (default .local/sent)")
    parser.add_argument("logs", nargs="+")
    args = parser.parse_args()
    literal = read_sent(args.sent) | examples()
    problems, total = search([os.path.abspath(p) for p in args.logs], matchers(literal))
    if problems:
        for problem in problems[:50]:
            print(f"FAIL {problem}")
        if len(problems) > 50:
            print(f"FAIL ... and {len(problems) - 50} more")
        sys.exit(1)
    senders = sorted({sender for sender, _, _ in literal})
    print(f"ok   no personal data in {len(args.logs)} logs ({total} characters): {len(literal)} values sent "
          f"({', '.join(senders)}) and no ID-number, mobile-number or API-key shape")


if __name__ == "__main__":
    main()
