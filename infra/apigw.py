"""A local stand-in for the HTTP API of template.yaml: one base URL for
every route, each request turned into the API Gateway payload (format 2.0)
that the function would receive in AWS, and sent to the function through
`cargo lambda watch`'s invoke endpoint.

It exists because `cargo lambda watch`'s own function URLs answer a body
that is not valid UTF-8 with a plain-text 500 before any function sees it,
where API Gateway base64-encodes such a body (isBase64Encoded); the schema
fuzzer sends such bodies. Standard library only.

Usage: python infra/apigw.py --port 9011 --functions http://127.0.0.1:9001
"""

import argparse
import base64
import json
import os
import re
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The routes of template.yaml, by function.
ROUTES = [
    (re.compile(r"^/v1/(login|logout|identity|me|dependents|guardians)(/|$)"), "login"),
    (re.compile(r"^/v1/(declarations|appeals)$"), "declaration"),
    (re.compile(r"^/(v1/code|v1/code/paper|v1/notices|v1/verify|\.well-known/jwks\.json)$"), "code"),
    (re.compile(r"^/v1/venues(/|$)"), "venue"),
    (re.compile(r"^/v1/(scans|checkins)$"), "scan"),
    (re.compile(r"^/v1/admin/"), "admin"),
]
TEXT = re.compile(r"^(text/|application/(json|.*\+json|x-www-form-urlencoded|xml))")


class Gateway(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    functions = ""

    def handle_any(self):
        path, _, query = self.path.partition("?")
        function = next((name for pattern, name in ROUTES if pattern.search(path)), None)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if function is None:
            return self.answer(404, {"content-type": "application/json"}, b'{"message":"Not Found"}')
        headers = {}
        for name, value in self.headers.items():
            headers[name.lower()] = f"{headers[name.lower()]},{value}" if name.lower() in headers else value
        content_type = headers.get("content-type", "")
        try:
            text = body.decode("utf-8")
            binary = bool(body) and not TEXT.match(content_type)
        except UnicodeDecodeError:
            text, binary = None, True
        event = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": query,
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "local",
                "domainName": self.headers.get("host", "127.0.0.1"),
                "domainPrefix": "local",
                "http": {"method": self.command, "path": path, "protocol": "HTTP/1.1", "sourceIp": self.client_address[0], "userAgent": headers.get("user-agent", "")},
                # Like API Gateway's: 11 random bytes in base64. The functions log it
                # and put it in problem bodies; no long run of digits for the log search.
                "requestId": base64.b64encode(os.urandom(11)).decode(),
                "routeKey": "$default",
                "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
                "timeEpoch": int(time.time() * 1000),
            },
            "isBase64Encoded": binary,
        }
        if body:
            event["body"] = base64.b64encode(body).decode() if binary else text
        request = urllib.request.Request(
            f"{self.functions}/2015-03-31/functions/{function}/invocations", data=json.dumps(event).encode(), method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                result = json.loads(response.read())
        except (urllib.error.URLError, ValueError) as error:
            return self.answer(502, {"content-type": "application/json"}, json.dumps({"message": f"bad gateway: {error}"}).encode())
        answer = result.get("body") or ""
        answer = base64.b64decode(answer) if result.get("isBase64Encoded") else answer.encode()
        self.answer(result.get("statusCode", 502), result.get("headers") or {}, answer, result.get("cookies") or [])

    def answer(self, status, headers, body, cookies=()):
        # One line per request, as API Gateway's access log: method, path
        # (without the query), status. Never a header, a query or a body.
        print(f"{self.command} {self.path.partition('?')[0][:200]} {status}", flush=True)
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        for cookie in cookies:
            self.send_header("set-cookie", cookie)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_TRACE = do_QUERY = handle_any

    def log_message(self, *_):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--functions", required=True, help="base URL of cargo lambda watch")
    args = parser.parse_args()
    Gateway.functions = args.functions.rstrip("/")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Gateway)
    print(f"apigw: listening on 127.0.0.1:{args.port}, functions at {Gateway.functions}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
