"""The fake helpdesk's control API (JSON, no token): state for tests and the benchmark, faults, limit."""
from flask import Blueprint, current_app, jsonify, request

from plugin.helpdesk.fake.seed import seed

bp = Blueprint("fake_helpdesk_control", __name__, url_prefix="/_control")


def _state():
    return current_app.extensions["fake_helpdesk"]


@bp.get("/state")
def state():
    """Books with their contact counts, the limit and the number of requests seen."""
    st = _state()
    with st.lock:
        return jsonify(limit=st.limit, requests=len(st.requests),
                       books={str(i): {"name": b["name"], "contacts": len(b["contacts"])} for i, b in st.books.items()})


@bp.get("/requests")
def requests_seen():
    """[[arrival time, method, path, status], …] of the API requests, oldest first (`?since=T`)."""
    since = float(request.args.get("since") or 0)
    st = _state()
    with st.lock:
        return jsonify([list(r) for r in st.requests if r[0] >= since])


@bp.get("/books/<int:book_id>/contacts")
def contacts(book_id):
    """Every contact of a book."""
    st = _state()
    with st.lock:
        if book_id not in st.books:
            return jsonify(error="no such book"), 404
        return jsonify(list(st.contacts(book_id).values()))


@bp.post("/faults")
def faults():
    """Queue a fault: {"status": 503, "count": 2, "path": "/customers/create", "message": "…"}."""
    data = request.get_json(silent=True) or {}
    try:
        status = int(data["status"])
    except (KeyError, TypeError, ValueError):
        return jsonify(error="status (an HTTP status code) is required"), 400
    st = _state()
    with st.lock:
        st.add_fault(status, data.get("count", 1), data.get("path"), data.get("message"))
    return jsonify(ok=True)


@bp.post("/limit")
def limit():
    """Change the requests per minute and token (0: no limit)."""
    data = request.get_json(silent=True) or {}
    st = _state()
    with st.lock:
        st.limit = int(data.get("limit") or 0)
    return jsonify(limit=st.limit)


@bp.post("/reset")
def reset():
    """Forget everything and add the demo token and books again."""
    st = _state()
    with st.lock:
        st.reset()
        seed(st)
    return jsonify(ok=True)
