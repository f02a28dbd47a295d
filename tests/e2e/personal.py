"""Personal data of the end-to-end runs: resident ID numbers with a valid
check character (GB 11643, ISO 7064 MOD 11-2), and the record of every
name, ID number and phone a run sent, which tests/e2e/no_personal_data.py
searches the logs for.

Each sender writes its own file, .local/sent/<sender>.txt, one value a
line as `<kind>\t<value>` (smoke.py and fuzz.py here; the browser tests in
web/tests/lib.mjs). The values themselves are never printed.

Standard library only.
"""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SENT_DIR = os.path.join(ROOT, ".local", "sent")

WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CHECK = "10X98765432"


def check_character(first17):
    """The GB 11643 check character of 17 digits."""
    return CHECK[sum(int(d) * w for d, w in zip(first17, WEIGHTS)) % 11]


def id_number(division, birth, sequence):
    """An 18-character ID number: division (6 digits), birth (YYYYMMDD), sequence (0–999)."""
    first17 = f"{division}{birth}{sequence % 1000:03d}"
    return first17 + check_character(first17)


def has_valid_check(candidate):
    """Whether 18 characters are 17 digits and their check character (`x` in either case)."""
    return (
        len(candidate) == 18
        and candidate[:17].isdigit()
        and candidate[17].upper() == check_character(candidate[:17])
    )


class Sent:
    """The personal data one sender sends, written to .local/sent/<sender>.txt as it goes."""

    def __init__(self, sender):
        os.makedirs(SENT_DIR, exist_ok=True)
        self.path = os.path.join(SENT_DIR, f"{sender}.txt")
        self.values = set()
        open(self.path, "w", encoding="utf-8").close()

    def add(self, kind, *values):
        with open(self.path, "a", encoding="utf-8") as f:
            for value in values:
                if value and value not in self.values:
                    self.values.add(value)
                    f.write(f"{kind}\t{value}\n")
        return values[0] if len(values) == 1 else values


def read_sent(directory=SENT_DIR):
    """Every value recorded under .local/sent/: {(sender, kind, value)}."""
    found = set()
    if not os.path.isdir(directory):
        return found
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".txt"):
            continue
        with open(os.path.join(directory, name), encoding="utf-8") as f:
            for line in f:
                kind, _, value = line.rstrip("\n").partition("\t")
                if value:
                    found.add((name[:-4], kind, value))
    return found
