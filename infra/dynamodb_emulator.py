"""The local DynamoDB: moto's server, with each request served atomically.

moto's threaded server runs requests side by side, and its conditional
writes and transactions check and write in separate steps (a transaction
even restores a whole-table snapshot when it is cancelled), so two
concurrent requests can both pass a condition that DynamoDB would let only
one pass. Our concurrency tests (10 declarations at once store exactly 3,
one venue per applicant, ...) need DynamoDB's guarantee, so this wrapper
serialises request handling behind one lock, while connections stay
concurrent and keep-alive.

Usage: python infra/dynamodb_emulator.py --host 127.0.0.1 --port 8000
"""

import argparse
import signal
import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


def serialised(app):
    lock = threading.Lock()

    def handle(environ, start_response):
        with lock:
            # Consume the whole response while holding the lock.
            return list(app(environ, start_response))

    return handle


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        serialised(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
