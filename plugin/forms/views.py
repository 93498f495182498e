"""/forms/<slug>: the hosted form (GET), its submissions (POST, HTML or JSON), CORS, and the thank-you page.

An HTML post that is accepted is answered with a redirect (303) to /forms/<slug>/thanks, so
reloading the thank-you page never sends the inquiry again; JSON posts get 201 as documented.
"""
import math
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, url_for
from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.exceptions import HTTPException

from plugin.errors import MESSAGES, wants_json
from plugin.forms import addresses, body, fields, service, uploads
from plugin.forms.throttle import EXTENSION

bp = Blueprint("forms", __name__)
ALLOWED_HEADERS = ("content-type", "accept", "x-requested-with")
RECEIVED = "お問い合わせを受け付けました。"
THANKS_SALT, THANKS_MAX_AGE = "mallbridge.forms.thanks", 7 * 24 * 3600


def _json_mode():
    return body.is_json(request.mimetype) or wants_json()


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
    if code == 413 and not isinstance(exc, _Refused):
        limit = current_app.config["FORMS_MAX_CONTENT_LENGTH"]
        if (request.content_length or 0) > limit:
            message = f"送信されたデータが大きすぎます（合計{limit / 1048576:g}MBまで）。添付ファイルを小さくしてください。"
        else:  # werkzeug's limits on the number of parts or the size of one text field
            message = "送信された項目が多すぎるか、1つの項目が長すぎます。入力内容を短くしてください。"
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


def _read(form, config):
    """(values, attachments, errors, spam) of the posted body; BodyError becomes our 4xx."""
    request.max_content_length = current_app.config["FORMS_MAX_CONTENT_LENGTH"]
    try:
        data = body.read(request)
    except body.BodyError as exc:
        raise _Refused(exc.status, str(exc)) from None
    spam = bool(str(data.get(fields.HONEYPOT) or "").strip())
    values, errors = fields.validate(form.fields, data)
    attachments = []
    try:
        files = body.files(request, data)
        if files and not any(f["type"] == "file" for f in config):
            raise uploads.UploadError("このフォームではファイルを添付できません。")
        limits = uploads.Limits(current_app.config["FORMS_MAX_FILES"], current_app.config["FORMS_MAX_FILE_BYTES"])
        attachments = uploads.check(files, limits)
    except uploads.UploadError as exc:
        errors["attachment"] = str(exc)
    return values, attachments, errors, spam


def _throttle():
    return current_app.extensions[EXTENSION]


def _seconds_to_wait():
    """Count this (valid) post against the client IP's limit: 0, or the seconds until it may post."""
    if not current_app.config["RATELIMIT_ENABLED"]:
        return 0
    return _throttle().hit(current_app.config["FORMS_RATE_LIMIT"], "ip", request.remote_addr or "-")


def _limited(form, config, values, wait, had_files):
    """429, keeping what the customer typed: the form again with their values (or a JSON error)."""
    after = f"{wait}秒" if wait < 60 else f"{math.ceil(wait / 60)}分"
    message = f"短い時間に送信が続いたため、受け付けを一時止めています。{after}ほど待ってから、もう一度送信してください。"
    if _json_mode():
        response = jsonify({"error": message, "status": 429, "retry_after": wait})
    else:
        notice = message + "入力内容はそのまま残っています。" + ("添付ファイルはもう一度選んでください。" if had_files else "")
        response = current_app.make_response(render_template(
            "forms/form.html", form=form, fields=config, values=values, errors={}, notice=notice))
    response.status_code = 429
    response.headers["Retry-After"] = str(wait)
    return response


def _thanks_serializer():
    return URLSafeTimedSerializer(current_app.secret_key, salt=THANKS_SALT)


@bp.route("/forms/<slug>", methods=["GET", "POST", "OPTIONS"], provide_automatic_options=False)
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
    values, attachments, errors, spam = _read(form, config)
    if errors and not spam:  # a post that needs correcting does not count against the limit
        if _json_mode():
            return jsonify({"error": "入力内容を確認してください。", "fields": errors}), 422
        return render_template("forms/form.html", form=form, fields=config, values=values, errors=errors), 422
    wait = _seconds_to_wait()
    if wait:
        return _limited(form, config, values, wait, had_files=bool(attachments))
    submission, ack = service.submit(
        form, values, [] if spam else attachments, ip=request.remote_addr, user_agent=request.user_agent.string,
        origin=request.headers.get("Origin"), spam=spam, domain=current_app.config["REPLY_DOMAIN"],
        form_url=url_for("forms.form", slug=form.slug, _external=True), throttle=_throttle())
    if _json_mode():
        return jsonify({"id": submission.id, "message": RECEIVED}), 201
    token = _thanks_serializer().dumps({"id": submission.id, "ack": ack})
    return redirect(url_for("forms.thanks", slug=form.slug, r=token), code=303)


@bp.get("/forms/<slug>/thanks")
def thanks(slug):
    """The thank-you page a post redirects to: showing it again sends nothing."""
    form = service.find_form(slug)
    if form is None:
        raise _Refused(404, "お問い合わせフォームが見つかりません。")
    g.inquiry_form = form
    try:
        receipt = _thanks_serializer().loads(request.args.get("r", ""), max_age=THANKS_MAX_AGE)
    except BadData:
        receipt = {}  # an old or edited link: thank without details
    return render_template("forms/thanks.html", form=form, message=RECEIVED, number=receipt.get("id"),
                           ack=bool(receipt.get("ack")))
