"""The local DynamoDB: moto's server, with each request served atomically.

moto's threaded server runs requests side by side, and its conditional
writes and transactions check and write in separate steps (a transaction
even restores a whole-table snapshot when it is cancelled), so two
concurrent requests can both pass a condition that DynamoDB would let only
one pass. Our concurrency tests (10 declarations at once store exactly 3,
one venue per applicant, ...) need DynamoDB's guarantee, so this wrapper
serialises request handling behind one lock, while connections stay
concurrent and keep-alive.

Transactions are idempotent as in DynamoDB: a TransactWriteItems call that
repeats the ClientRequestToken of one that succeeded in the last ten
minutes (the SDK sends one, and sends it again when it retries a call
whose answer was lost) succeeds again without writing; moto would apply it
a second time, or cancel it on its own first write's conditions.

A transaction saves and, when cancelled, restores only the items it names
(and the length of their tables' streams), not a deep copy of every table
it touches as moto does: that copy made each transaction cost as much as
the table is large, so that writing 100,000 contacts of one exposure, one
transaction each, took hours (bench/exposure.sh).

With --state FILE the tables survive a restart: the state is loaded from
FILE at start and written to it on SIGTERM or SIGINT, between requests. The
fault-injection tests stop and start the emulator this way in the middle of
a run of writes. (A SIGKILL loses what was not saved, as moto keeps data in
memory only.)

Usage: python infra/dynamodb_emulator.py --host 127.0.0.1 --port 8000 [--state FILE]
"""

import argparse
import io
import json
import os
import pickle
import signal
import sys
import threading
import time

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


LOCK = threading.Lock()
# ClientRequestToken -> (time, request body, status, headers, body) of a
# transaction that succeeded.
TOKENS = {}
TOKEN_LIFETIME = 600


def serialised(app):
    def handle(environ, start_response):
        with LOCK:
            token, body = transaction_token(environ)
            if token is None:
                # Consume the whole response while holding the lock.
                return list(app(environ, start_response))
            now = time.monotonic()
            for old in [t for t, v in TOKENS.items() if now - v[0] > TOKEN_LIFETIME]:
                del TOKENS[old]
            if token in TOKENS and TOKENS[token][1] == body:
                _, _, status, headers, answer = TOKENS[token]
                start_response(status, headers)
                return [answer]
            captured = {}

            def capture(status, headers, exc_info=None):
                captured["status"], captured["headers"] = status, headers
                return start_response(status, headers, exc_info)

            answer = b"".join(app(environ, capture))
            if captured.get("status", "").startswith("200"):
                TOKENS[token] = (now, body, captured["status"], captured["headers"], answer)
            return [answer]

    return handle


def transaction_token(environ):
    """The ClientRequestToken of a TransactWriteItems call, and its body
    (put back for moto to read); (None, None) for any other call."""
    if not environ.get("HTTP_X_AMZ_TARGET", "").endswith(".TransactWriteItems"):
        return None, None
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        token = json.loads(body).get("ClientRequestToken")
    except ValueError:
        token = None
    return token, body


def cheap_transaction_rollback():
    """Replaces moto's whole-table copies in TransactWriteItems by an undo
    log of the items the transaction names, with the same outcome: on
    success nothing to undo; on cancellation each named item as it was, and
    each touched stream without the records the transaction added."""
    import copy

    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    real_deepcopy = copy.deepcopy
    original = models.DynamoDBBackend.transact_write_items

    class NoTableCopies:
        """moto's module sees this as `copy`: tables are not copied (the undo log restores them)."""

        @staticmethod
        def deepcopy(value, *args):
            return value if isinstance(value, Table) else real_deepcopy(value, *args)

        def __getattr__(self, name):
            return getattr(copy, name)

    def transact_write_items(self, transact_items):
        saved, streams = [], {}
        for entry in transact_items:
            try:
                _, op = next(iter(entry.items()))
                table = self.tables[op["TableName"]]
                key = op.get("Key") or {a: op["Item"][a] for a in (table.hash_key_attr, table.range_key_attr) if a}
                hash_key, range_key = self.get_keys_value(table, key)
            except Exception:
                continue  # moto reports the malformed request itself
            saved.append((table, hash_key, range_key, real_deepcopy(table.get_item(hash_key, range_key))))
            if table.stream_shard is not None:
                streams.setdefault(id(table), (table.stream_shard, len(table.stream_shard.items)))
        models.copy = NoTableCopies()
        try:
            return original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, item in reversed(saved):
                if table.has_range_key:
                    if item is None:
                        table.items[hash_key].pop(range_key, None)
                    else:
                        table.items[hash_key][range_key] = item
                elif item is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = item
            for shard, length in streams.values():
                del shard.items[length:]
            raise
        finally:
            models.copy = copy

    models.DynamoDBBackend.transact_write_items = transact_write_items


def load_state(path):
    from moto.dynamodb.models import dynamodb_backends

    if path and os.path.exists(path):
        with open(path, "rb") as f:
            saved = pickle.load(f)
        dynamodb_backends.clear()
        dynamodb_backends.update(saved)


def save_state_and_exit(path):
    def handler(*_):
        from moto.dynamodb.models import dynamodb_backends

        if path:
            # Between requests: no write is half applied in what is saved.
            with LOCK:
                with open(path + ".tmp", "wb") as f:
                    pickle.dump(dynamodb_backends, f)
                os.replace(path + ".tmp", path)
        sys.exit(0)

    return handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", help="file to load the tables from and save them to on exit")
    args = parser.parse_args()
    cheap_transaction_rollback()
    load_state(args.state)
    signal.signal(signal.SIGTERM, save_state_and_exit(args.state))
    signal.signal(signal.SIGINT, save_state_and_exit(args.state))
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
