"""Everything create_app wires into the app, in one list a reader can see: blueprints, CLI
commands and runtime settings. Adding a feature means adding it here, nowhere else."""
from lookups import api
from lookups import cli as lookups_cli
from lookups import views as lookup_views
from lookups.pages import bp as pages_bp
from plugin import admin, auth, health, helpdesk, web
from plugin import cli as shell_cli
from plugin.admin import cli as admin_cli
from plugin.demo import mailbox
from plugin.demo import seed as demo_cli
from plugin.forms import bp as forms_bp
from plugin.forms import cli as forms_cli
from plugin.forms.service import SETTINGS as FORM_SETTINGS
from plugin.outbox import cli as outbox_cli
from plugin.outbox.options import SETTINGS as OUTBOX_SETTINGS
from plugin.sessions import SETTINGS as LOGIN_SETTINGS
from sync import cli as sync_cli
from sync.options import SETTINGS as SYNC_SETTINGS
from sync.replies import views as complete_views
from sync.replies.options import SETTINGS as REPLY_SETTINGS

BLUEPRINTS = [
    auth.bp,  # /login, /logout
    web.bp,  # the start page
    lookup_views.bp,  # /lookup/members, /lookup/orders and the ebisumart-style aliases
    pages_bp,  # /members/<id>, /orders/<id>
    api.bp,  # /api/v1/* bulk upsert (token)
    health.bp,  # /healthz
    admin.bp,  # /admin/…
    mailbox.bp,  # /demo/mailbox/ (the demo's SMTP sink)
    complete_views.bp,  # /complete/<token>: completing an inquiry from the mail link
    forms_bp,  # public /forms/<slug>
]

# Blueprints whose callers cannot know our CSRF token (the helpdesk, shop sites, API clients).
CSRF_EXEMPT = [lookup_views.bp, api.bp, forms_bp]

COMMANDS = [
    *shell_cli.COMMANDS,  # users, tokens, shops
    *lookups_cli.COMMANDS,  # import
    *demo_cli.COMMANDS,  # demo seed
    *mailbox.COMMANDS,  # mailbox (the demo's SMTP sink)
    *admin_cli.COMMANDS,  # helpdesk (set/use/show/test/push), secrets, fake-helpdesk
    *outbox_cli.COMMANDS,  # outbox run/list/release/requeue/discard
    *forms_cli.COMMANDS,  # forms add/list
    *sync_cli.COMMANDS,  # accounts, sync run, smtp-in, fake-mall
]

SETTINGS = [
    *helpdesk.SETTINGS,
    *lookup_views.SETTINGS,
    *OUTBOX_SETTINGS,
    *FORM_SETTINGS,
    *SYNC_SETTINGS,
    *REPLY_SETTINGS,
    *LOGIN_SETTINGS,
]
