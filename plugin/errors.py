"""Error pages in Japanese for people, JSON error objects for programs; never a stack trace."""
import logging

from flask import jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from plugin.extensions import db

log = logging.getLogger(f"mallbridge.{__name__}")

MESSAGES = {
    400: "リクエストの内容が正しくありません。",
    401: "ログインが必要です。",
    403: "このページを表示する権限がありません。",
    404: "ページが見つかりません。",
    405: "この操作はできません。",
    413: "送信されたデータが大きすぎます。",
    429: "リクエストが多すぎます。しばらく待ってからもう一度お試しください。",
    500: "サーバーでエラーが発生しました。時間をおいてもう一度お試しください。",
}


def wants_json():
    """True for API clients: /api paths, format=json, or Accept preferring JSON over HTML."""
    if request.path.startswith("/api/"):
        return True
    if request.args.get("format") == "json":
        return True
    accept = request.headers.get("Accept", "")
    # Parsing the header costs more than a lookup's JSON encoding; these two answers need no parse.
    if "json" not in accept:
        return False  # nothing (or */*) asks for JSON: HTML, the first choice, wins
    if accept == "application/json":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_response(status, message=None, **extra):
    """One place that renders an error as JSON or as the Japanese error page."""
    message = message or MESSAGES.get(status, "エラーが発生しました。")
    if wants_json():
        body = {"error": {"status": status, "message": message, **extra}}
        return jsonify(body), status
    return render_template("error.html", status=status, message=message), status


def init_app(app):
    """Register handlers for HTTP errors, CSRF failures and anything unexpected."""

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return error_response(400, "フォームの有効期限が切れました。ページを読み込み直してもう一度送信してください。")

    @app.errorhandler(HTTPException)
    def http_error(exc):
        message = exc.description if getattr(exc, "mallbridge_message", False) else None
        return error_response(exc.code or 500, message)

    @app.errorhandler(Exception)
    def unexpected(exc):
        if isinstance(exc, HTTPException):
            return http_error(exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        # A failed flush leaves the session refusing every query, and the error page itself
        # reads the logged-in user: without a rollback werkzeug's English 500 page shows instead.

        try:
            db.session.rollback()
        except Exception:  # the connection itself may be gone; the page must still render
            log.warning("rollback after an unhandled error failed", exc_info=True)
        if isinstance(exc, DataError):
            # The database refused a value that slipped past validation (PostgreSQL: NUL in text,
            # a string longer than its column, a number out of range): the input's fault.
            return error_response(400, "入力された値を保存できませんでした（使えない文字が含まれているか、長すぎます）。"
                                       "入力内容を確認してください。")
        return error_response(500)
