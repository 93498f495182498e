"""The fake helpdesk's Open API under /api/v2: address books and contacts, as strict as the real one.

Order of the checks on every request: the Bearer token (401), the rate limit (403, with the
X-RateLimit headers on every answer to a valid token), an injected fault, the JSON content type
of a request with a body (415), the address book (404), then the body (400).
"""
import json

from flask import Blueprint, Response, current_app, request

from plugin.helpdesk.fake.state import Invalid

bp = Blueprint("fake_helpdesk_api", __name__, url_prefix="/api/v2")


class Answer(Exception):
    """Stop the request with this status and message."""

    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def _state():
    return current_app.extensions["fake_helpdesk"]


def _json(body, status=200, headers=None):
    return Response(json.dumps(body, ensure_ascii=False), status=status, headers=headers or {},
                    content_type="application/json; charset=utf-8")


def _handle(view):
    """Run `view(state, headers)` under the lock with every check of the module docstring."""
    st = _state()
    with st.lock:
        headers = {}
        try:
            auth = request.headers.get("Authorization", "")
            token = auth[7:].strip() if auth.startswith("Bearer ") else ""
            if token not in st.tokens:
                raise Answer(401, "invalid token")
            allowed, headers = st.count_request(token)
            if not allowed:
                raise Answer(403, "rate limit exceeded", headers)
            fault = st.take_fault(request.path)
            if fault:
                raise Answer(fault["status"], fault["message"] or f"fault {fault['status']}", headers)
            if request.method in ("POST", "PUT") and request.mimetype != "application/json":
                raise Answer(415, "Content-Type must be application/json", headers)
            status, body = view(st)
        except Answer as answer:
            st.log(request.method, request.path, answer.status)
            return _json({"message": answer.message}, answer.status, answer.headers or headers)
        st.log(request.method, request.path, status)
        return _json(body, status, headers)


def _book(st, book_id):
    if book_id not in st.books:
        raise Answer(404, "customer group not found")
    return book_id


def _body():
    try:
        return json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        raise Answer(400, "invalid JSON") from None


def _contact(st, book_id, key, value):
    contact = st.find(_book(st, book_id), key, value)
    if contact is None:
        raise Answer(404, "customer not found")
    return contact


@bp.get("/customer_groups")
def customer_groups():
    """Every address book (the fake's tokens see them all)."""
    return _handle(lambda st: (200, [
        {"customer_group_id": i, "name": b["name"], "message_box_ids": b["message_box_ids"],
         "last_updated_at": "2026-01-01T00:00:00Z"} for i, b in sorted(st.books.items())]))


@bp.post("/customer_groups/<int:book_id>/customers/create")
def create(book_id):
    """Register one contact."""
    def view(st):
        _book(st, book_id)
        try:
            return 200, st.create(book_id, _body())
        except Invalid as exc:
            raise Answer(400, str(exc)) from None
    return _handle(view)


@bp.route("/customer_groups/<int:book_id>/customers/<any(system_id1, email):key>/<path:value>",
          methods=["GET", "PUT", "DELETE"])
def contact(book_id, key, value):
    """Read, update or delete the contact found by system_id1 or by e-mail."""
    def view(st):
        found = _contact(st, book_id, key, value)
        if request.method == "GET":
            return 200, found
        if request.method == "DELETE":
            st.delete(book_id, found)
            return 200, {"customer_id": found["customer_id"]}
        data = _body()
        if key == "system_id1" and isinstance(data, dict) and "system_id1" in data:
            raise Answer(400, "system_id1 can't be changed with this endpoint")
        try:
            return 200, st.update(book_id, found, data)
        except Invalid as exc:
            raise Answer(400, str(exc)) from None
    return _handle(view)
