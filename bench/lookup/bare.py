"""The baseline: a bare Flask app answering the lookup URL with fixed JSON, served like the real one."""
from flask import Flask, jsonify

app = Flask(__name__)
ANSWER = {"query": {"email": "taro@example.jp"}, "members": [], "truncated": False}


@app.get("/lookup/members")
def members():
    """Fixed JSON, no database: what Flask + gunicorn cost on their own."""
    return jsonify(ANSWER)


@app.get("/healthz")
def healthz():
    """Readiness probe for the benchmark runner."""
    return jsonify(status="ok")
