"""`mallbridge import members|orders FILE`: CSV import with a per-row report.

Exit status: 0 every row imported, 1 some rows failed (the others were imported), 2 the file was
refused (nothing written) or the database went away mid-way.
"""
import contextlib
import csv
import os
import sys

import click
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from lookups import importer
from plugin.extensions import db
from plugin.models import AuditLog

KIND_LABELS = {"members": "会員", "orders": "受注"}
SHOWN_ERRORS = 100


def _run(kind, path, report_path, shop):
    writer = None
    with contextlib.ExitStack() as files:
        if report_path:
            # UTF-8 with BOM so that Excel on Japanese Windows opens it without mojibake.
            writer = csv.writer(files.enter_context(open(report_path, "w", encoding="utf-8-sig", newline="")))
            writer.writerow(["line", "key", "column", "error"])

        def on_error(row):
            for column, message in row.errors.items():
                writer.writerow([row.line, row.key or "", column, message])

        with open(path, "rb") as f:
            report = importer.import_csv(kind, f, default_shop=shop, on_error=on_error if writer else None)
        if writer and report.refused:
            for reason in report.refused:
                writer.writerow(["", "", "", reason])
    _print(kind, path, report)
    _audit(kind, path, report)
    if report.refused or report.aborted:
        sys.exit(2)
    sys.exit(1 if report.failed else 0)


def _audit(kind, path, report):
    """Imports change customer data, so they go into the audit log like API calls do."""
    outcome = "refused" if report.refused else "aborted" if report.aborted else "done"
    db.session.rollback()
    db.session.add(AuditLog(actor="cli", action=f"import.{kind}", params={"file": os.path.basename(path)},
                            result_count=report.inserted + report.updated,
                            detail=f"{outcome} inserted={report.inserted} updated={report.updated} unchanged={report.unchanged} "
                                   f"failed={report.failed} encoding={report.encoding}"))
    try:
        db.session.commit()
    except SQLAlchemyError:  # the database may be the reason the import stopped; the report still counts
        db.session.rollback()


def _print(kind, path, report):
    if report.refused:
        click.echo(f"{path}: ファイルを取り込みませんでした（何も書き込んでいません）", err=True)
        for reason in report.refused:
            click.echo(f"  {reason}", err=True)
        return
    encoding = importer.ENCODING_LABELS.get(report.encoding, report.encoding)
    click.echo(f"{kind}: {report.inserted} inserted, {report.updated} updated, {report.failed} failed, "
               f"{report.unchanged} of the updated unchanged ({KIND_LABELS[kind]}: 追加 {report.inserted} 件 / "
               f"更新 {report.updated} 件 / エラー {report.failed} 件, {encoding}; 更新のうち変更なし {report.unchanged} 件)")
    for row in sorted(report.errors, key=lambda r: r.line)[:SHOWN_ERRORS]:
        key = f" [{row.key}]" if row.key else ""
        reasons = "; ".join(f"{col}: {msg}" if col else msg for col, msg in row.errors.items())
        click.echo(f"line {row.line}{key}: {reasons}", err=True)
    if report.failed > SHOWN_ERRORS:
        click.echo(f"... {report.failed - SHOWN_ERRORS} more bad rows (use --report FILE for all)", err=True)
    if report.aborted:
        click.echo(f"aborted: {report.aborted}", err=True)


import_group = click.Group("import", help="Import members or orders from CSV (UTF-8, UTF-8 with BOM, or CP932).")
_file = click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
_report = click.option("--report", "report_path", type=click.Path(dir_okay=False, writable=True),
                       help="Write every bad row to this CSV (UTF-8 with BOM).")
_shop = click.option("--shop", default=None, help="Shop code for rows without a shop column (default: 'default').")


@import_group.command("members")
@_file
@_report
@_shop
@with_appcontext
def import_members(file, report_path, shop):
    """Upsert members by (shop, customer_code)."""
    _run("members", file, report_path, shop)


@import_group.command("orders")
@_file
@_report
@_shop
@with_appcontext
def import_orders(file, report_path, shop):
    """Upsert orders by (shop, order_number)."""
    _run("orders", file, report_path, shop)


COMMANDS = [import_group]
