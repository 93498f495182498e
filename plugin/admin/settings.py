"""Admin pages: helpdesk environments, the generated settings form and the change history."""
from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from plugin import audit, audit_labels, helpdesk, settings
from plugin.admin import bp, menu_entry, page_arg
from plugin.admin import settings_form as sf
from plugin.admin.dashboard import register_warning
from plugin.extensions import db
from plugin.helpdesk import check as tester
from plugin.helpdesk import status as push_status
from plugin.invalid import InvalidInput
from plugin.settings.models import SettingChange

HISTORY_PAGE = 100


def _env_or_404(env_name):
    if env_name not in helpdesk.ENVIRONMENTS:
        abort(404)
    return env_name


def _general_decls():
    """Every declared setting outside the helpdesk sections (those have their own page)."""
    return [d for d in settings.declared() if not d.section.startswith("helpdesk")]


def _env_decls(env_name):
    return [settings.declaration(helpdesk.key(env_name, f)) for f in helpdesk.FIELDS]


def _render_helpdesk(status=200, form_env=None, submitted=None, errors=None, report=None, activation_error=None):
    envs = []
    for name in helpdesk.ENVIRONMENTS:
        mine = name == form_env
        envs.append({"env": helpdesk.environment(name),
                     "fields": sf.fields(_env_decls(name), submitted if mine else None, errors if mine else None),
                     "report": report if report is not None and report.env == name else None,
                     "activation_error": activation_error[1] if activation_error and activation_error[0] == name
                     else None})
    return render_template("admin/helpdesk.html", envs=envs, errors=errors, push=push_status.summary()), status


@bp.route("/helpdesk", methods=["GET"])
def helpdesk_page():
    """Both environments with their forms, the active switch and the connection test."""
    return _render_helpdesk()


@bp.route("/helpdesk/<env_name>", methods=["POST"])
def helpdesk_save(env_name):
    """Save an environment's changed fields; on bad input nothing is saved and typing is kept."""
    _env_or_404(env_name)
    changed, errors = sf.save(_env_decls(env_name), request.form)
    if errors:
        return _render_helpdesk(400, env_name, request.form, errors)
    label = helpdesk.ENV_LABELS[env_name]
    flash(f"{label}の設定を保存しました（{len(changed)}項目）。" if changed else f"{label}の設定に変更はありませんでした。")
    return redirect(url_for("admin.helpdesk_page") + f"#env-{env_name}")


@bp.route("/helpdesk/<env_name>/activate", methods=["POST"])
def helpdesk_activate(env_name):
    """Make an environment the active one."""
    _env_or_404(env_name)
    try:
        helpdesk.activate(env_name)
    except InvalidInput as exc:
        # Refused: the page shows why, next to the environment's card (nothing changed).
        return _render_helpdesk(400, activation_error=(env_name, exc.errors["active"]))
    flash(f"{helpdesk.ENV_LABELS[env_name]}を使用中にしました。")
    return redirect(url_for("admin.helpdesk_page"))


@bp.route("/helpdesk/<env_name>/test", methods=["POST"])
def helpdesk_test(env_name):
    """Run the connection test (at most ~10 s per network call) and show its report."""
    _env_or_404(env_name)
    report = tester.run(env_name)
    audit.record("helpdesk.test", {"env": env_name, "code": report.code}, result_count=int(report.ok),
                 detail=" / ".join(s.message for s in report.steps))
    return _render_helpdesk(report=report)


@bp.route("/settings", methods=["GET", "POST"])
def settings_page():
    """The settings form generated from every declared setting, grouped by section."""
    decls = _general_decls()
    if request.method == "POST":
        changed, errors = sf.save(decls, request.form)
        if errors:
            # Shown as an error banner on this very page (a flash would look like a success note).
            return render_template("admin/settings.html", groups=sf.grouped(sf.fields(decls, request.form, errors)),
                                   errors=errors), 400
        flash(f"設定を保存しました（{len(changed)}項目）。" if changed else "変更はありませんでした。")
        return redirect(url_for("admin.settings_page"))
    return render_template("admin/settings.html", groups=sf.grouped(sf.fields(decls)), errors={})


@bp.route("/settings/history")
def settings_history():
    """Every change of every setting, newest first (secrets masked)."""
    page = page_arg()
    key = (request.args.get("key") or "").replace("\x00", "").strip()[:128]
    rows = settings.history(key_prefix=key or None, limit=HISTORY_PAGE + 1, offset=(page - 1) * HISTORY_PAGE)
    decls = {d.key: d for d in settings.declared()}
    shown = [(row, _setting_name(decls.get(row.key)), _shown(decls.get(row.key), row.old_value),
              _shown(decls.get(row.key), row.new_value)) for row in rows[:HISTORY_PAGE]]
    sections = {d.section: settings.section_label(d.section) for d in decls.values()}
    return render_template("admin/history.html", rows=shown, page=page, key=key,
                           sections=[(name + ".", label) for name, label in sections.items()],
                           has_next=len(rows) > HISTORY_PAGE, actor_label=audit_labels.actor_label,
                           total=db.session.scalar(select(func.count(SettingChange.id))))


def _setting_name(decl):
    """「セクション › 項目」 of a history row; a setting no longer declared is 「（廃止された設定）」."""
    return f"{settings.section_label(decl.section)} › {decl.label}" if decl else "（廃止された設定）"


def _shown(decl, text):
    """A stored history value without the choice code display() appends: 「デモ環境（demo）」 → 「デモ環境」."""
    if decl is None or text is None or decl.type != "choice":
        return text
    for choice in decl.choices or ():
        if isinstance(choice, (tuple, list)):
            text = text.replace(f"{choice[1]}（{choice[0]}）", str(choice[1]))
    return text


menu_entry("admin.helpdesk_page", "ヘルプデスク環境")
menu_entry("admin.settings_page", "設定")
menu_entry("admin.settings_history", "設定の変更履歴")


@register_warning
def _push_warning():
    """The address-book push is paused, misconfigured, refused someone or keeps failing."""
    return push_status.summary(progress=False).warning
