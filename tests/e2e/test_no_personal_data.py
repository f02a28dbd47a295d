"""The log search's own test (tests/e2e/no_personal_data.py): planted personal
data in a temporary log must fail it, a clean log must pass, an empty or a
missing log must fail. Standard library only; run by infra/test.sh before
the long runs. Its last line is `N passed, M failed`.
"""

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from personal import has_valid_check, id_number  # noqa: E402

SEARCH = os.path.join(HERE, "no_personal_data.py")
CLEAN = (
    'INFO request{request_id=e72def0b-8ed2-4812-830c-a17624264148 method=POST route=/v1/identity} status=200 duration_ms=12\n'
    'INFO xrayTraceId="Root=1-6b0f10ee-35ca72a172ff952d6df417df;Parent=2da15675301189a5;Sampled=1"\n'
    'INFO timeEpoch=1764584400123 monotonic=130102199003070011223 subject=s_k4m5n6p7q2r3s4t5u6v7w2x3y4\n'
    # A duration whose fraction is 18 digits with a valid check character (seen in a run).
    'INFO request done status=200 elapsed_ms=0.049533999999999995 ratio=0.13812345678\n'
)
# Not a valid check character: 17 digits and a wrong one, as a timestamp might look.
NOT_AN_ID = "130102199003070012"


def run(directory, sent, logs):
    result = subprocess.run([sys.executable, SEARCH, "--sent", sent, *logs], capture_output=True, text=True, cwd=directory)
    return result.returncode, result.stdout + result.stderr


def main():
    results = []

    def case(name, ok, output=""):
        results.append(ok)
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
        if not ok:
            print("     " + output.strip().replace("\n", "\n     "))

    planted_id = id_number("130104", "19900307", 451)
    case("the check character is computed (GB 11643 examples)",
         has_valid_check("11010519491231002X") and has_valid_check("11010519491231002x") and not has_valid_check(NOT_AN_ID))

    with tempfile.TemporaryDirectory() as directory:
        sent = os.path.join(directory, "sent")
        os.makedirs(sent)
        with open(os.path.join(sent, "planted.txt"), "w", encoding="utf-8") as f:
            f.write("name\t欧阳娜娜\nID\t130602199001011234\nphone\t13900000002\nAPI key\tpartner-secret-42\n")

        def log(name, text):
            path = os.path.join(directory, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            return path

        clean = log("clean.log", CLEAN + f"INFO a number that is no ID {NOT_AN_ID} and a phone-length run 213812345678\n")
        code, output = run(directory, sent, [clean])
        case("a clean log passes", code == 0, output)

        for name, planted in [
            ("an ID number by its shape (valid check character), never sent", f'body={{"id_number":"{planted_id}"}}'),
            ("an ID number with a lower-case x", "id 11010519491231002x"),
            ("a mobile number by its shape, never sent", "phone=13612345678"),
            ("a mobile number after +86", "phone=+8613712345678"),
            ("a name the run sent", "detail: 欧阳娜娜 is not allowed"),
            ("an ID number the run sent (its check character is wrong, so only the literal search sees it)",
             "130602199001011234"),
            ("a partner API key by its shape, never sent", "x-api-key=hcpk_" + "a2" * 26),
            ("a partner API key the run created", "key=partner-secret-42"),
        ]:
            leaky = log("leaky.log", CLEAN + f"ERROR {planted}\n")
            code, output = run(directory, sent, [clean, leaky])
            value = planted.split("=", 1)[-1]
            case(f"{name}: fails, naming the file and line, not the value",
                 code == 1 and "leaky.log line 5" in output and value not in output and planted_id not in output, output)

        empty = log("empty.log", "")
        code, output = run(directory, sent, [clean, empty])
        case("an empty log fails", code == 1 and "empty log" in output, output)
        code, output = run(directory, sent, [clean, os.path.join(directory, "absent.log")])
        case("a missing log fails", code == 1 and "missing log" in output, output)

    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    sys.exit(0 if passed == len(results) else 1)


if __name__ == "__main__":
    main()
