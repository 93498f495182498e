"""Streaming CSV import of members and orders (`mallbridge import members|orders FILE`).

The file is read line by line, never whole: the encoding is decided from the first bytes that are
not ASCII (a BOM means UTF-8; otherwise UTF-8 if they decode, else CP932), the header is mapped
through Japanese aliases, and good rows go to the database in batches while bad rows are reported
with their line number. A file that cannot be read as a whole (encoding, unknown or missing
columns) is refused before any row is written. No Flask here.
"""
import codecs
import csv
import itertools
import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy.exc import OperationalError

from lookups import records, upsert

SNIFF_BYTES = 64 * 1024
BATCH_SIZE = 1000
KEEP_ERRORS = 1000
ENCODING_LABELS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 (BOM付き)", "cp932": "CP932 (Shift_JIS)"}
_COMMON = {"shop": "店舗 ショップ 店舗コード ショップコード",
           "customer_code": "会員番号 顧客番号 顧客コード 会員コード 会員ID 顧客ID",
           "email": "emails メールアドレス Eメール Eメールアドレス メール e-mail mail",
           "tel": "tels 電話番号 TEL 電話 phone"}
ALIASES = {
    "members": {**_COMMON, "name": "氏名 名前 お名前 会員名 顧客名",
                "name_kana": "フリガナ 氏名カナ カナ ふりがな 氏名(カナ) 氏名(フリガナ) お名前(フリガナ)",
                "postal_code": "郵便番号 〒", "address": "住所", "registered_at": "登録日 会員登録日 登録日時 入会日",
                "note": "備考 メモ"},
    "orders": {**_COMMON, "order_number": "受注番号 注文番号 注文ID 受注ID", "mall": "モール 販売チャネル チャネル",
               "name": "氏名 名前 お名前 注文者氏名 注文者名 購入者氏名",
               "email": "メールアドレス Eメール 注文者メールアドレス e-mail mail",
               "tel": "電話番号 TEL 電話 注文者電話番号 phone",
               "ordered_at": "注文日 注文日時 受注日 受注日時", "status": "ステータス 受注ステータス 注文ステータス",
               "total": "合計金額 合計 請求金額 総額", "items": "商品 明細 商品明細",
               "shipping_name": "配送先氏名 送付先氏名 お届け先氏名", "shipping_address": "配送先住所 送付先住所 お届け先住所",
               "tracking_number": "伝票番号 お問い合わせ伝票番号 追跡番号 送り状番号"},
}


def header_key(name):
    """A header cell compared loosely: NFKC (full-width letters), case and spaces ignored."""
    return "".join(unicodedata.normalize("NFKC", name).lower().split()).strip("*※")


_LOOKUP = {kind: {header_key(a): f for f in records.FIELDS[kind] for a in (f, *ALIASES[kind].get(f, "").split())}
           for kind in records.KINDS}


class Refused(Exception):
    """The whole file was refused; args are the Japanese reasons."""


@dataclass
class RowError:
    """One bad row: its first line in the file, its key if readable, and reasons by column."""
    line: int
    key: str | None
    errors: dict


@dataclass
class Report:
    """Counts and the first KEEP_ERRORS bad rows; on_error sees every bad row as it happens."""
    kind: str
    encoding: str | None = None
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0  # of the updated rows, those identical to what was stored (not rewritten)
    failed: int = 0
    refused: list = field(default_factory=list)
    aborted: str | None = None
    errors: list = field(default_factory=list)
    on_error: object = None

    def fail(self, line, key, errors):
        """Count a bad row and keep it for the report."""
        self.failed += 1
        row = RowError(line, key, errors)
        if len(self.errors) < KEEP_ERRORS:
            self.errors.append(row)
        if self.on_error:
            self.on_error(row)


def detect_encoding(f):
    """'utf-8-sig', 'utf-8' or 'cp932' from the file's first non-ASCII bytes; Refused otherwise."""
    sample = f.read(SNIFF_BYTES)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise Refused("UTF-16 のファイルは読めません。UTF-8 か CP932 (Shift_JIS) で保存してください。")
    while sample.isascii():
        # ASCII decides nothing: an English header may be followed by Japanese rows much later.
        _refuse_binary(sample)
        more = f.read(SNIFF_BYTES)
        if not more:
            return "utf-8"
        sample = more
    _refuse_binary(sample)
    at_end = len(sample) < SNIFF_BYTES
    first_line_end = sample.find(b"\n", re.search(rb"[\x80-\xff]", sample).start())
    for encoding in ("utf-8", "cp932"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=at_end)
            return encoding
        except UnicodeDecodeError as exc:
            # A file that reads well past its first line of Japanese text is in this encoding,
            # with a few broken lines that are then reported one by one. UTF-8 goes first: short
            # UTF-8 text often happens to decode as CP932, CP932 text almost never as UTF-8.
            if first_line_end != -1 and exc.start > first_line_end:
                return encoding
    raise Refused("文字コードを判別できません。UTF-8 か CP932 (Shift_JIS) の CSV を指定してください。")


def _refuse_binary(sample):
    if b"\x00" in sample:
        raise Refused("テキストの CSV ではありません（Excel ファイルなどは CSV 形式で保存してください）。")


def _decoded_lines(f, encoding, bad_lines):
    """Text lines; a line that does not decode is noted in bad_lines (its row is reported)."""
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    # Splitting bytes at b"\n" is safe: neither UTF-8 nor CP932 uses 0x0A inside a character.
    for number, raw in enumerate(f, 1):
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:
            bad_lines.add(number)
            text = raw.decode(codec, "replace")
        yield text.lstrip("\ufeff") if number == 1 else text


def map_header(kind, header):
    """Column index -> field (None for a blank header); Refused listing every problem."""
    fields, problems, unknown, seen = [], [], [], {}
    for name in header:
        key = header_key(name)
        target = _LOOKUP[kind].get(key)
        if key and target is None:
            unknown.append(name.strip())
        elif target in seen:
            problems.append(f"列「{seen[target]}」と「{name.strip()}」が同じ項目 {target} を指しています。")
        elif target:
            seen[target] = name.strip()
        fields.append(target)
    if unknown:
        known = ", ".join(records.FIELDS[kind])
        problems.insert(0, f"不明な列があります: {', '.join(unknown)}（使える列: {known} と日本語の見出し）")
        if len(unknown) == len([h for h in header if header_key(h)]):
            problems.append("文字コードや区切り文字（カンマ）が正しいか確認してください。")
    key_field = records.KEY_FIELD[kind]
    if key_field not in seen:
        problems.append(f"必須の列 {key_field} がありません。")
    if problems:
        raise Refused(*problems)
    return fields, seen


def import_csv(kind, f, default_shop=None, on_error=None, batch_size=BATCH_SIZE):
    """Import an open binary, seekable CSV file; returns the Report (refused files write nothing)."""
    report = Report(kind, on_error=on_error)
    try:
        report.encoding = detect_encoding(f)
        f.seek(0)
        bad_lines = set()
        lines = _decoded_lines(f, report.encoding, bad_lines)
        first = next(lines, "")
        if not first.strip():
            raise Refused("見出し行がありません（空のファイルです）。")
        delimiter = "\t" if "\t" in first and "," not in first else ","
        reader = csv.reader(itertools.chain([first], lines), delimiter=delimiter)
        fields, labels = map_header(kind, next(reader))
        _import_rows(kind, reader, fields, labels, bad_lines, report, default_shop, batch_size)
        if report.inserted or report.updated > report.unchanged:
            upsert.refresh_statistics(kind)
    except Refused as exc:
        report.refused = list(exc.args)
    except OperationalError as exc:
        # The database went away: what was committed stays (re-running the file is safe).
        report.aborted = f"データベースに接続できません: {exc.orig}"
    return report


def _import_rows(kind, reader, fields, labels, bad_lines, report, default_shop, batch_size):
    shops = upsert.ShopCodes(default_shop)
    if "shop" not in labels and shops.id_for(None) is None:
        raise Refused(f"店舗コード「{shops.default_code}」の店舗がありません（mallbridge shops list で確認してください）。")
    key_field = records.KEY_FIELD[kind]
    label = {f: labels.get(f, f) for f in records.FIELDS[kind]} | {"_": ""}
    pending, keys = [], {}

    def flush():
        outcome = upsert.write_batch(kind, pending, shops)
        report.inserted += outcome.inserted
        report.updated += outcome.updated
        report.unchanged += outcome.unchanged
        for line, errors in outcome.failures:
            report.fail(line, keys[line], {label.get(f, f): msg for f, msg in errors.items()})
        pending.clear()
        keys.clear()

    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            report.fail(line, None, {"": f"CSV として読めません: {exc}"})
            continue
        if not any(c.strip() for c in cells):
            continue
        spanned = range(line, reader.line_num + 1)
        raw, errors = _row(cells, fields)
        values, field_errors = records.clean(kind, raw)
        errors.update({label.get(f, f): msg for f, msg in field_errors.items()})
        if any(n in bad_lines for n in spanned):
            bad_lines.difference_update(spanned)
            errors[""] = f"{ENCODING_LABELS[report.encoding]} として読めない文字があります"
        if errors:
            report.fail(line, values.get(key_field) or raw.get(key_field), errors)
            continue
        pending.append((line, values))
        keys[line] = values[key_field]
        if len(pending) >= batch_size:
            flush()
    if pending:
        flush()


def _row(cells, fields):
    """Cells by field name, and row-level problems (column count, values under blank headers)."""
    errors = {}
    if len(cells) < len(fields):
        errors[""] = f"列の数が足りません（見出し {len(fields)} 列、この行 {len(cells)} 列）"
    elif any(c.strip() for c in cells[len(fields):]):
        errors[""] = f"列の数が多すぎます（見出し {len(fields)} 列、この行 {len(cells)} 列）"
    elif any(c.strip() for f, c in zip(fields, cells) if f is None):
        errors[""] = "見出しのない列に値があります"
    return {f: c for f, c in zip(fields, cells) if f}, errors
