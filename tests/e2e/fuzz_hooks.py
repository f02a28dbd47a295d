"""Schemathesis hooks of tests/e2e/fuzz.py (loaded through SCHEMATHESIS_HOOKS):
every response is counted, one JSON line per call in the file that
HC_FUZZ_CALLS names: the operation, the phase and the status. Nothing of
the request or the response body is written.
"""

import json
import os

import schemathesis


@schemathesis.hook
def after_call(context, case, response):
    path = os.environ.get("HC_FUZZ_CALLS")
    if not path:
        return
    meta = getattr(case, "meta", None)
    phase = getattr(getattr(getattr(meta, "phase", None), "name", None), "value", None) or "unknown"
    line = {"operation": case.operation.label, "phase": str(phase), "status": response.status_code}
    if response.status_code >= 400:
        # The problem's stable code (bad-request, not-found, ...): never a value sent.
        try:
            line["code"] = str(response.json().get("code", ""))[:40]
        except Exception:
            line["code"] = ""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")
