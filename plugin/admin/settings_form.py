"""Admin forms generated from setting declarations: fields to render, and submitted changes.

Only the fields the admin actually changed are saved: each input carries the text it was
rendered with (`_orig_<key>`), so two admins saving the same page at once do not undo each
other's changes, and both land in the history. No Flask here: `form` is any mapping.
"""
import dataclasses
import re

from plugin import settings
from plugin.invalid import InvalidInput
from plugin.settings import types as settings_types

# `{url}`-style placeholders in help texts: shown as code the admin types, not as prose.
_PLACEHOLDER = re.compile(r"(\{[a-z_]+\}(?:/[^\s。、）]*)?)")
ORIG = "_orig_"
CLEAR = "__clear"
INPUT_TYPES = {"str": "text", "int": "text", "email": "email", "url": "url", "emails": "text", "senders": "text",
               "text": "textarea", "bool": "checkbox", "choice": "select"}


@dataclasses.dataclass
class Field:
    """What a template needs to render one setting's input."""

    decl: settings.Declaration
    text: str  # what the input shows (the admin's typed text after a failed save)
    orig: str  # what the input was rendered with (for change detection)
    error: str | None = None
    is_set: bool = False  # secrets: a value is stored

    @property
    def name(self):
        return self.decl.key

    @property
    def input_type(self):
        return "password" if self.decl.secret else INPUT_TYPES[self.decl.type]

    @property
    def dom_id(self):
        return "f-" + self.decl.key.replace(".", "-")

    @property
    def choices(self):
        return [c if isinstance(c, (tuple, list)) else (c, c) for c in (self.decl.choices or ())]

    @property
    def help_parts(self):
        """The help text as [(text, is_code)]: placeholders such as {inbox_id} are code to type."""
        parts = _PLACEHOLDER.split(self.decl.help or "")
        return [(part, i % 2 == 1) for i, part in enumerate(parts) if part]

    @property
    def placeholder(self):
        if self.decl.secret:
            return "設定済み（変更するときだけ入力）" if self.is_set else "未設定"
        if self.decl.default not in (None, "", []) and self.decl.type != "bool":
            return f"既定値: {settings_types.form_text(self.decl, self.decl.default)}"
        return ""


def current_text(decl):
    """The input text for the current value (blank for unset values with no default)."""
    if decl.secret:
        return ""
    value = settings.get(decl.key)
    if decl.type == "bool":
        return "1" if value else "0"
    return settings_types.form_text(decl, value)


def fields(decls, submitted=None, errors=None):
    """Fields for `decls`; after a failed save, `submitted` keeps what the admin typed."""
    errors = errors or {}
    out = []
    for decl in decls:
        text = orig = current_text(decl)
        if submitted is not None and not decl.secret:
            text = _submitted_text(decl, submitted)
            orig = submitted.get(ORIG + decl.key, orig)
        is_set = settings.is_set(decl.key) if decl.secret else False
        out.append(Field(decl, text, orig, errors.get(decl.key), is_set))
    return out


def _submitted_text(decl, form):
    if decl.type == "bool":
        return "1" if form.get(decl.key) else "0"
    return form.get(decl.key, "")


def changes(decls, form):
    """{key: raw input} for the fields this submission changed (secrets: blank keeps the value)."""
    values = {}
    for decl in decls:
        if decl.secret:
            if form.get(decl.key + CLEAR):
                values[decl.key] = None
            elif (form.get(decl.key) or "").strip():
                values[decl.key] = form.get(decl.key)
            continue
        text = _submitted_text(decl, form)
        orig = form.get(ORIG + decl.key)
        if orig is not None and text == orig:
            continue  # untouched by this admin: keep whatever is stored now
        if decl.key not in form and orig is None:
            continue  # not on the submitted form at all (a rendered checkbox always sends its _orig_)
        values[decl.key] = text
    return values


def save(decls, form, actor=None):
    """Validate and store this submission's changes; returns (changed keys, errors by key)."""
    try:
        return settings.set_many(changes(decls, form), actor=actor), {}
    except InvalidInput as exc:
        return [], exc.errors


def grouped(field_list):
    """[(section label, [fields])] in declaration order."""
    groups = {}
    for field in field_list:
        groups.setdefault(field.decl.section, []).append(field)
    return [(settings.section_label(name), items) for name, items in groups.items()]
