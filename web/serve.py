"""Serves web/ for the local stack: python3 web/serve.py [port] (default 8080).

Python's http.server with what the pages need: JavaScript modules as
text/javascript whatever the system's MIME table says, `/v` (the page that
venue QR codes open) as v.html, and no caching, so an edited page shows at
the next reload. Listens on 127.0.0.1 only; needs no network.
"""

import http.server
import sys
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# Served paths that are not files of the same name.
ROUTES = {"/v": "/v.html"}
# Only what a browser needs; the rest of web/ (tests, scripts, node_modules) is not served.
HIDDEN = ("/node_modules", "/tests", "/test-results", "/scripts", "/package", "/serve.py")


class Handler(http.server.SimpleHTTPRequestHandler):
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
        if self.path.split("?", 1)[0].startswith(HIDDEN):
            self.send_error(404, "Not found")
            return None
        return super().send_head()

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_request(self, code="-", size="-"):
        # Without the query string: the venue token of /v?c= stays out of the log.
        path = self.path.split("?", 1)[0]
        sys.stderr.write(f"{self.log_date_time_string()} {self.command} {path} {getattr(code, 'value', code)}\n")


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    handler = partial(Handler, directory=str(ROOT))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    print(f"serving web/ on http://127.0.0.1:{port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
