"""Floors between bare Flask and a lookup: the same fixed JSON after one database round trip.

`/lookup/members` runs `SELECT 1`; `/lookup/members?query=1` (the `floor_query` target) runs the
smallest real lookup instead: the member e-mail index seek and the member row, nothing else (no
token, no latest orders, no audit). Served like the real app (gunicorn, psycopg 3, one
connection per worker, server-side prepared statements), these say what any lookup that must
ask PostgreSQL at all can reach on this machine.
"""
import os

import psycopg
from flask import Flask, jsonify, request

app = Flask(__name__)
URL = os.environ.get("MALLBRIDGE_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/mb_bench_small")
MEMBER = ("SELECT m.id, m.customer_code, m.name FROM member_email e JOIN member m ON m.id = e.member_id "
          "WHERE e.email_norm = %s")
_conn = None


def _db():
    # One connection per worker process, opened on first use (gunicorn forks after import).
    global _conn
    if _conn is None or _conn.closed:
        url = URL.replace("postgresql+psycopg://", "postgresql://")
        _conn = psycopg.connect(url, autocommit=True, prepare_threshold=0)
    return _conn


@app.get("/lookup/members")
def members():
    """Fixed JSON after one round trip (SELECT 1), or after the member index seek with ?query=1."""
    email = request.args.get("email", "")
    if request.args.get("query"):
        rows = [list(r) for r in _db().execute(MEMBER, (email.lower(),)).fetchall()]
    else:
        _db().execute("SELECT 1").fetchone()
        rows = []
    return jsonify({"query": {"email": email}, "members": rows, "truncated": False})


@app.get("/healthz")
def healthz():
    """Readiness probe for the benchmark runner."""
    return jsonify(status="ok")
