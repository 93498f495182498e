"""Admin console: staff users (list, create, enable/disable, role, password reset)."""
from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import AnyOf, Length, Optional

from plugin import audit, login_limits, staff
from plugin.admin import ActionForm, bp, menu_entry
from plugin.admin.dashboard import register_warning
from plugin.errors import error_response
from plugin.extensions import db
from plugin.models import ROLES, User

# A plain field rendered as <select> by the template: WTForms' SelectField choices API differs
# between 3.x releases (tuples warn from 3.3 on), and its own error text is English.
_ROLE_VALIDATORS = [AnyOf(ROLES, message="権限を選んでください。")]


class NewUserForm(FlaskForm):
    email = EmailField("メールアドレス")
    name = StringField("氏名", validators=[Optional(), Length(max=200, message="氏名は200文字以内にしてください。")])
    role = StringField("権限", default="agent")  # checked by staff.check_new_user with the other fields
    password = PasswordField("初期パスワード（8文字以上）")


class RoleForm(FlaskForm):
    role = StringField("権限", validators=_ROLE_VALIDATORS)


class PasswordForm(FlaskForm):
    password = PasswordField("新しいパスワード（8文字以上）")
    generate = BooleanField("ランダムなパスワードを生成する")


def _user_or_404(user_id):
    return db.session.get(User, user_id)


def _field_error(form, exc):
    """Show a StaffError's messages next to their fields (or above the form)."""
    for name, message in exc.all:
        field = getattr(form, name, None) if name else None
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            form.form_errors.append(message)


@bp.route("/users")
def users():
    """All staff accounts with role, state and last login."""
    return render_template("admin/users.html", users=staff.list_users(), role_labels=staff.ROLE_LABELS)


def _new_page(form, status=200):
    return render_template("admin/users_new.html", form=form, role_labels=staff.ROLE_LABELS), status


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():
    """Create a staff account with an initial password."""
    form = NewUserForm()
    if not form.is_submitted():
        return _new_page(form)
    valid = form.validate()
    try:
        # Checked even when the form failed, so every bad field is marked in one round trip.
        staff.check_new_user(form.email.data, form.role.data, form.password.data)
        if not valid:
            return _new_page(form, 400)
        user = staff.create_user(form.email.data, form.name.data, form.role.data, form.password.data)
    except staff.StaffError as exc:
        db.session.rollback()
        _field_error(form, exc)
        return _new_page(form, 400)
    audit.record("user.create", {"email": user.email, "role": user.role}, commit=False)
    db.session.commit()
    flash(f"スタッフ {user.email} を追加しました。")
    return redirect(url_for("admin.users"))


def _edit_page(user, status=200, role_form=None, active_form=None, password_form=None):
    role_form = role_form or RoleForm(formdata=None, role=user.role)
    return render_template("admin/users_edit.html", user=user, role_form=role_form,
                           active_form=active_form or ActionForm(formdata=None),
                           password_form=password_form or PasswordForm(formdata=None),
                           role_labels=staff.ROLE_LABELS, is_self=user.id == current_user.id), status


@bp.route("/users/<int:user_id>")
def user_edit(user_id):
    """One account: change role, enable/disable, reset password."""
    user = _user_or_404(user_id)
    if user is None:
        return error_response(404, "このスタッフは見つかりません。")
    return _edit_page(user)


@bp.route("/users/<int:user_id>/role", methods=["POST"])
def user_role(user_id):
    """Change the role (never the last active admin's, never one's own)."""
    user = _user_or_404(user_id)
    if user is None:
        return error_response(404, "このスタッフは見つかりません。")
    form = RoleForm()
    if form.validate():
        old = user.role
        try:
            changed = staff.set_role(current_user, user, form.role.data)
        except staff.StaffError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            if changed:
                audit.record("user.role", {"email": user.email, "from": old, "to": user.role}, commit=False)
            db.session.commit()
            flash(f"{user.email} の権限を「{staff.ROLE_LABELS[user.role]}」にしました。" if changed
                  else "権限は変わっていません。")
            return redirect(url_for("admin.user_edit", user_id=user.id))
    return _edit_page(user, 400, role_form=form)


def _set_active(user_id, active):
    user = _user_or_404(user_id)
    if user is None:
        return error_response(404, "このスタッフは見つかりません。")
    form = ActionForm()
    if not form.validate():
        return _edit_page(user, 400, active_form=form)
    try:
        changed = staff.set_active(current_user, user, active)
    except staff.StaffError as exc:
        db.session.rollback()
        form.form_errors.append(exc.message)
        return _edit_page(user, 400, active_form=form)
    if changed:
        audit.record("user.enable" if active else "user.disable", {"email": user.email}, commit=False)
    db.session.commit()
    flash(f"{user.email} を{'有効' if active else '無効'}にしました。" if changed else "状態は変わっていません。")
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.route("/users/<int:user_id>/disable", methods=["POST"])
def user_disable(user_id):
    """Disable an account: it can no longer log in and its open sessions end."""
    return _set_active(user_id, False)


@bp.route("/users/<int:user_id>/enable", methods=["POST"])
def user_enable(user_id):
    """Enable a disabled account again."""
    return _set_active(user_id, True)


@bp.route("/users/<int:user_id>/password", methods=["POST"])
def user_password(user_id):
    """Set a new password chosen by the admin, or generate one and show it once."""
    user = _user_or_404(user_id)
    if user is None:
        return error_response(404, "このスタッフは見つかりません。")
    form = PasswordForm()
    if form.validate():
        typed = None if form.generate.data else (form.password.data or "")
        try:
            plain = staff.reset_password(user, typed)
        except staff.StaffError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            audit.record("user.password_reset", {"email": user.email, "generated": typed is None}, commit=False)
            db.session.commit()
            if user.id == current_user.id:
                # The new password ends every other session; this one continues under the new key.
                login_user(user)
            if typed is not None:
                flash(f"{user.email} のパスワードを変更しました。")
                return redirect(url_for("admin.user_edit", user_id=user.id))
            page = render_template("admin/users_password.html", user=user, password=plain)
            # The generated password is on this one page only: never cached, never in the session.
            return page, 200, {"Cache-Control": "no-store"}
    return _edit_page(user, 400, password_form=form)


menu_entry("admin.users", "スタッフ")
register_warning(login_limits.dashboard_warning)  # accounts locked by the per-account login limit
