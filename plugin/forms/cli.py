"""`mallbridge forms add|list`: inquiry forms from the command line (same rules as the admin UI)."""
import click
from flask.cli import with_appcontext
from sqlalchemy import select

from plugin.extensions import db
from plugin.forms import service
from plugin.forms.models import InquiryForm
from plugin.invalid import InvalidInput

forms = click.Group("forms", help="Inquiry forms (/forms/<slug>) that mail the shop with the inbox in BCC.")


@forms.command("add")
@click.argument("slug")
@click.option("--to", "to", required=True, help="Shop addresses, comma-separated.")
@click.option("--bcc", default="", help="BCC addresses; default: the active helpdesk environment's forwarding address.")
@click.option("--shop", "shop_code", default="default", show_default=True, help="Shop code.")
@click.option("--title", default=None, help="Form title shown to customers (default お問い合わせ).")
@click.option("--origin", "origins", multiple=True,
              help="Shop site allowed to post (CORS), e.g. https://shop.example.jp; repeatable.")
@click.option("--from", "from_address", default=None, help="Sender address (default: the shop's address).")
@click.option("--no-ack", is_flag=True, help="Do not send an acknowledgement to the customer.")
@with_appcontext
def forms_add(slug, to, bcc, shop_code, title, origins, from_address, no_ack):
    """Add a form, or update the form with this SLUG."""
    shop = service.shop_by_code(shop_code)
    if shop is None:
        raise click.BadParameter(f"no shop with code {shop_code!r} (see `mallbridge shops list`)", param_hint="--shop")
    form = service.find_form(slug)
    created = form is None
    try:
        form = service.save_form(
            form, slug=slug, shop=shop, to=to, bcc=bcc if bcc or created else (form.bcc_addresses or ""),
            title=title if title is not None else (form.title if form else ""),
            from_address=from_address if from_address is not None else (form.from_address or "" if form else ""),
            origins="\n".join(origins) if origins or created else (form.allowed_origins or ""),
            ack_template="" if no_ack else "form_ack", enabled=True)
    except InvalidInput as exc:
        db.session.rollback()
        for field, message in exc.errors.items():
            click.echo(f"Error: {field}: {message}", err=True)
        raise SystemExit(2) from None
    db.session.commit()
    bcc_text = ", ".join(service.effective_bcc(form)) or "(none: set the helpdesk forwarding address)"
    click.echo(f"{'added' if created else 'updated'} form {form.slug}: to {form.to_addresses}; bcc {bcc_text}")


@forms.command("list")
@with_appcontext
def forms_list():
    """One line per form: slug, shop, state, To, BCC (the effective one), title."""
    for form in db.session.scalars(select(InquiryForm).order_by(InquiryForm.slug)):
        bcc = ", ".join(form.bcc_list) or "(helpdesk: " + (", ".join(service.effective_bcc(form)) or "unset") + ")"
        state = "enabled" if form.enabled else "disabled"
        click.echo(f"{form.slug}\t{form.shop.code}\t{state}\tto={form.to_addresses}\tbcc={bcc}\t{form.title}")


COMMANDS = [forms]
