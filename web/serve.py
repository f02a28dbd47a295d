"""Serves web/ for the local stack: python3 web/serve.py [port] [--api BASE]... (default 8080).

Python's http.server with what the pages need: JavaScript modules as
text/javascript whatever the system's MIME table says, `/v` (the page that
venue QR codes open) as v.html, and no caching, so an edited page shows at
the next reload. Listens on 127.0.0.1 only; needs no network.

Every answer carries `Content-Security-Policy: frame-ancestors 'none'` (the
one directive a <meta> cannot give; the pages' own policy is their <meta>,
written by scripts/csp.mjs) and X-Frame-Options.

`--api BASE` (repeatable) is a local stack's functions on a port other than
config.js's: the first becomes the pages' default API, each is added to
config.js's allowedApis and to the connect-src of the pages' policy, as
served (the files are not changed).
"""

import argparse
import http.server
import io
import json
import re
import sys
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent
# Served paths that are not files of the same name.
ROUTES = {"/v": "/v.html"}
# Only what a browser needs; the rest of web/ (tests, scripts, node_modules) is not served.
HIDDEN = ("/node_modules", "/tests", "/test-results", "/scripts", "/package", "/serve.py")
HEADERS = {
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}


def api_origin(base):
    """The origin of an API base URL given with --api; refuses anything but http(s)."""
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise argparse.ArgumentTypeError(f"not an http(s) base URL: {base}")
    return f"{parts.scheme}://{parts.netloc}"


def config_addition(apis):
    """What --api appends to config.js: the first as the default, all allowed."""
    if not apis:
        return ""
    first = apis[0].rstrip("/")
    layout = "lambda-url" if first.endswith("/lambda-url") else "gateway"
    allowed = ", ".join(json.dumps(a.rstrip("/")) for a in apis)
    return (
        "\n// Added as served by web/serve.py --api: this local stack's functions.\n"
        f"config.apiBase = {json.dumps(first)};\n"
        f"config.layout = {json.dumps(layout)};\n"
        f"config.allowedApis.push({allowed});\n"
    )


class Handler(http.server.SimpleHTTPRequestHandler):
    apis = ()
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".json": "application/json",
        ".svg": "image/svg+xml",
        ".css": "text/css",
        ".html": "text/html; charset=utf-8",
    }

    def translate_path(self, path):
        route, sep, query = path.partition("?")
        return super().translate_path(ROUTES.get(route, route) + sep + query)

    def send_head(self):
        route = self.path.split("?", 1)[0]
        if route.startswith(HIDDEN):
            self.send_error(404, "Not found")
            return None
        if self.apis:
            path = Path(self.translate_path(self.path))
            if path.is_dir() and route.endswith("/"):
                path = path / "index.html"
            if route == "/config.js":
                return self.send_rewritten(path, lambda text: text + config_addition(self.apis))
            if path.suffix == ".html" and path.is_file():
                extra = " ".join(dict.fromkeys(api_origin(a) for a in self.apis))
                return self.send_rewritten(path, lambda text: re.sub(r"connect-src 'self'", f"connect-src 'self' {extra}", text, count=1))
        return super().send_head()

    def send_rewritten(self, path, rewrite):
        try:
            body = rewrite(path.read_text(encoding="utf-8")).encode("utf-8")
        except OSError:
            self.send_error(404, "Not found")
            return None
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        for name, value in HEADERS.items():
            self.send_header(name, value)
        super().end_headers()

    def log_request(self, code="-", size="-"):
        # Without the query string: the venue token of /v?c= stays out of the log.
        path = self.path.split("?", 1)[0]
        sys.stderr.write(f"{self.log_date_time_string()} {self.command} {path} {getattr(code, 'value', code)}\n")


def main():
    parser = argparse.ArgumentParser(description="Serves web/ for the local stack.")
    parser.add_argument("port", nargs="?", type=int, default=8080)
    parser.add_argument("--api", action="append", default=[], metavar="BASE", help="a local stack's API base URL (repeatable)")
    args = parser.parse_args()
    for base in args.api:
        try:
            api_origin(base)
        except argparse.ArgumentTypeError as err:
            parser.error(str(err))
    Handler.apis = tuple(args.api)
    handler = partial(Handler, directory=str(ROOT))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    print(f"serving web/ on http://127.0.0.1:{args.port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
