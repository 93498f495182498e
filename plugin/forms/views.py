"""GET/POST/OPTIONS /forms/<slug>: the hosted form, its submissions (HTML or JSON) and CORS."""
import base64
import binascii
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, jsonify, render_template, request, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import HTTPException

from plugin.errors import MESSAGES, wants_json
from plugin.forms import addresses, fields, service, uploads

bp = Blueprint("forms", __name__)
limiter = Limiter(key_func=get_remote_address)
ALLOWED_HEADERS = ("content-type", "accept", "x-requested-with")


def _rate_limit():
    return current_app.config["FORMS_RATE_LIMIT"]


def _json_mode():
    return request.is_json or wants_json()


def _form_or_404(slug):
    form = service.find_form(slug)
    if form is None:
        raise _Refused(404, "お問い合わせフォームが見つかりません。")
    g.inquiry_form = form
    if not form.enabled:
        raise _Refused(404, "このお問い合わせフォームは現在受付を停止しています。")
    return form


class _Refused(HTTPException):
    """An HTTP error with our own Japanese message."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def _is_own_origin(origin):
    """Our own pages (the hosted form). Host only: behind a TLS proxy we may see http://."""
    return urlsplit(origin).netloc == request.host.lower()


def _allowed_origin(form, origin):
    """The request's Origin when it may read our answers (CORS), else None."""
    if not origin or form is None:
        return None
    origin = addresses.normalize_origin(origin)
    return origin if origin and origin in form.origin_list else None


def _check_origin(form):
    """Browsers send Origin on cross-site posts: only our own site and configured shop sites."""
    origin = request.headers.get("Origin")
    if not origin:
        return  # server-side posts and old browsers; the rate limit still applies
    normalized = addresses.normalize_origin(origin)
    if normalized and (_is_own_origin(normalized) or normalized in form.origin_list):
        return
    raise _Refused(403, "このサイトからの送信は許可されていません。")


@bp.after_request
def _cors(response):
    """Let configured shop sites read our answers (including errors)."""
    form = g.get("inquiry_form")
    if form is None and request.view_args and "slug" in request.view_args:
        form = service.find_form(request.view_args["slug"])
    origin = _allowed_origin(form, request.headers.get("Origin"))
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
    response.vary.add("Origin")
    return response


@bp.errorhandler(HTTPException)
def _error(exc):
    code = exc.code or 500
    message = exc.description if isinstance(exc, _Refused) else MESSAGES.get(code, "エラーが発生しました。")
    if code == 413:
        mb = current_app.config["FORMS_MAX_CONTENT_LENGTH"] / (1024 * 1024)
        message = f"送信されたデータが大きすぎます（合計{mb:g}MBまで）。添付ファイルを小さくしてください。"
    if _json_mode():
        return jsonify({"error": message, "status": code}), code
    return render_template("forms/error.html", status=code, message=message, form=g.get("inquiry_form")), code


def _preflight(slug):
    form = service.find_form(slug)
    origin = _allowed_origin(form, request.headers.get("Origin"))
    if form is None or not origin or not form.enabled:
        raise _Refused(403, "このサイトからの送信は許可されていません。")
    g.inquiry_form = form
    requested = [h.strip().lower() for h in request.headers.get("Access-Control-Request-Headers", "").split(",")]
    response = current_app.response_class(status=204)
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = ", ".join(h for h in requested if h in ALLOWED_HEADERS)
    response.headers["Access-Control-Max-Age"] = "600"
    return response


def _json_attachments(items):
    """JSON posts carry files as [{"filename": …, "content": base64}]."""
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise uploads.UploadError("attachments は {filename, content} の配列で送ってください。")
    files = []
    for item in items:
        try:
            data = base64.b64decode(str(item.get("content") or ""), validate=True)
        except (binascii.Error, ValueError):
            raise uploads.UploadError("添付ファイルの content が base64 ではありません。") from None
        files.append((str(item.get("filename") or ""), data))
    return files


def _read_submission(form):
    """(data, raw files) from a JSON or form-encoded/multipart body."""
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise _Refused(400, "JSONの形式が正しくありません（オブジェクトで送ってください）。")
        return data, data.get("attachments")
    data = request.form.to_dict()
    files = [(f.filename or "", f.read()) for f in request.files.getlist("attachment") if f.filename]
    return data, files


@bp.route("/forms/<slug>", methods=["GET", "POST", "OPTIONS"], provide_automatic_options=False)
@limiter.limit(_rate_limit, methods=["POST"])
def form(slug):
    """The hosted form (GET), a submission (POST) or a CORS preflight (OPTIONS)."""
    if request.method == "OPTIONS":
        return _preflight(slug)
    form = _form_or_404(slug)
    config = fields.enabled_fields(form.fields)
    if request.method == "GET":
        if _json_mode():
            return jsonify({"slug": form.slug, "title": form.title, "shop": form.shop.name,
                            "fields": [{k: f[k] for k in ("name", "label", "type", "required")} for f in config]})
        return render_template("forms/form.html", form=form, fields=config, values={}, errors={})
    _check_origin(form)
    request.max_content_length = current_app.config["FORMS_MAX_CONTENT_LENGTH"]
    data, raw_files = _read_submission(form)
    spam = bool(str(data.get(fields.HONEYPOT) or "").strip())
    values, errors = fields.validate(form.fields, data)
    attachments = []
    wants_files = any(f["type"] == "file" for f in config)
    try:
        files = _json_attachments(raw_files) if request.is_json else raw_files
        if files and not wants_files:
            raise uploads.UploadError("このフォームではファイルを添付できません。")
        limits = uploads.Limits(current_app.config["FORMS_MAX_FILES"], current_app.config["FORMS_MAX_FILE_BYTES"])
        attachments = uploads.check(files, limits)
    except uploads.UploadError as exc:
        errors["attachment"] = str(exc)
    if errors and not spam:
        if _json_mode():
            return jsonify({"error": "入力内容を確認してください。", "fields": errors}), 422
        return render_template("forms/form.html", form=form, fields=config, values=values, errors=errors), 422
    submission = service.submit(
        form, values, [] if spam else attachments, ip=request.remote_addr, user_agent=request.user_agent.string,
        origin=request.headers.get("Origin"), spam=spam, domain=current_app.config["REPLY_DOMAIN"],
        form_url=url_for("forms.form", slug=form.slug, _external=True))
    message = "お問い合わせを受け付けました。"
    if _json_mode():
        return jsonify({"id": submission.id, "message": message}), 201
    return render_template("forms/thanks.html", form=form, message=message,
                           ack=bool(form.ack_template and values.get("email")))
