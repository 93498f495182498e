"""Admin pages for mall accounts: list + sync status, add/edit (secrets write-only), 連携テスト,
renewal, and R-Messe conversations per month with the estimated fee."""
from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from plugin import audit
from plugin.admin import bp, menu_entry
from plugin.extensions import db
from plugin.invalid import InvalidInput
from plugin.models import Shop
from sync import accounts, expiry, malls, status
from sync.malls import LABELS as MALL_LABELS
from sync.models import MallAccount


def _account_or_404(account_id):
    account = db.session.get(MallAccount, account_id)
    if account is None:
        abort(404)
    return account


def _shops():
    return list(db.session.scalars(select(Shop).order_by(Shop.code)))


@bp.route("/mall-accounts")
def mall_accounts():
    """Every account with its sync status (last poll, last success, today, error, backfill)."""
    rows = status.account_rows()
    return render_template("admin/mall_accounts.html", rows=rows, labels=MALL_LABELS,
                           fees=status.rmesse_months())


@bp.route("/mall-accounts/new/<mall>", methods=["GET", "POST"])
def mall_account_new(mall):
    """Add a Rakuten or Yahoo! account."""
    if mall not in MALL_LABELS:
        abort(404)
    errors, values = {}, {}
    if request.method == "POST":
        values = {f: request.form.get(f, "") for f in malls.get(mall).form_fields}
        try:
            account = accounts.add(mall, request.form.get("shop", ""), values)
            audit.record("mall_account.add", query={"id": account.id, "mall": mall}, commit=False)
            db.session.commit()
            flash("モールアカウントを追加しました。連携テストで接続を確認してください。")
            return redirect(url_for("admin.mall_account_edit", account_id=account.id))
        except InvalidInput as exc:
            db.session.rollback()
            errors = exc.errors
    # Secrets are never echoed back into the form.
    shown = {k: v for k, v in values.items() if k not in ("service_secret", "license_key", "client_secret",
                                                          "refresh_token")}
    shown["shop"] = request.form.get("shop", "")  # keep the chosen shop selected after an error
    return render_template("admin/mall_account_form.html", mall=mall, account=None, errors=errors, values=shown,
                           shops=_shops(), labels=MALL_LABELS), (400 if errors else 200)


@bp.route("/mall-accounts/<int:account_id>", methods=["GET", "POST"])
def mall_account_edit(account_id):
    """Change an account; blank secret fields keep the stored secret."""
    account = _account_or_404(account_id)
    errors, checks = {}, None
    if request.method == "POST":
        action = request.form.get("action", "save")
        if action == "test":
            checks = accounts.connection_test(account)
            audit.record("mall_account.test", query={"id": account.id}, result_count=sum(c.ok for c in checks),
                         commit=False)
            db.session.commit()
        else:
            values = {f: request.form.get(f, "") for f in account.adapter.form_fields}
            values["enabled"] = request.form.get("enabled") == "1"
            try:
                accounts.update(account, values)
                audit.record("mall_account.update", query={"id": account.id}, commit=False)
                db.session.commit()
                flash("保存しました。")
                return redirect(url_for("admin.mall_account_edit", account_id=account.id))
            except InvalidInput as exc:
                db.session.rollback()
                errors = exc.errors
    values = {"rakuten_shop_id": account.rakuten_shop_id, "seller_id": account.seller_id,
              "client_id": account.client_id, "key_version": account.key_version}
    return render_template("admin/mall_account_form.html", mall=account.mall, account=account, errors=errors,
                           values=values, checks=checks, shops=_shops(), labels=MALL_LABELS,
                           row=status.account_row(account)), (400 if errors else 200)


menu_entry("admin.mall_accounts", "モール連携")


def _warnings():
    return expiry.warnings()


try:
    from plugin.admin.dashboard import register_warning

    register_warning(_warnings)
except ImportError:  # the dashboard module is optional
    pass
