"""Page -> `Postmortem`: read the fields of the action items `sync.item_locator` finds in a storage-format body (pure).

The rules are written down in docs/extraction-rules.md; the vocabulary (headings, column
words, status words) comes from `sync.templates`. Bad input never raises: it shows up in `problems`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from lxml import etree

from sync.item_locator import LocatedItem, locate_items, macro_keys
from sync.models import ActionItem, Owner, PageMeta, Postmortem
from sync.root_cause import read_root_cause
from sync.storage_format import (
    MACRO,
    TaskParts,
    collapse_whitespace,
    first_mention,
    first_time,
    jira_macro_keys,
    lozenge_or_text,
    macro_name,
    parse_storage,
    reference_key,
    text_of,
)
from sync.storage_tables import row_cells
from sync.templates import DEFAULT_TEMPLATES, ColumnField, TemplateSpec

__all__ = ["DEFAULT_TEMPLATES", "find_written_date", "parse_file", "parse_page", "read_page_meta", "render_table",
           "split_title"]

_TITLE_LINE = re.compile(r"\A\ufeff?\s*<title>(.*?)</title>[ \t]*\r?\n?", re.S)
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
          r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_WRITTEN_DATE = re.compile(
    rf"\b(?P<iso_y>\d{{4}})-(?P<iso_m>\d{{2}})-(?P<iso_d>\d{{2}})\b"
    rf"|\b(?P<dmy_d>\d{{1,2}})\s+(?P<dmy_m>{_MONTH})\.?,?\s+(?P<dmy_y>\d{{4}})\b"
    rf"|\b(?P<mdy_m>{_MONTH})\.?\s+(?P<mdy_d>\d{{1,2}}),?\s+(?P<mdy_y>\d{{4}})\b",
    re.IGNORECASE,
)
_MONTH_NUMBERS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_TRAILING_SRE_STATE = re.compile(r"\b(done|todo)\W*$", re.IGNORECASE)
_TASK_STATES = {"complete": True, "incomplete": False}


def split_title(text: str) -> tuple[str | None, str]:
    """(title, body) of a sample file whose first line is `<title>…</title>`; (None, text) without one."""
    match = _TITLE_LINE.match(text)
    if match is None:
        return None, text
    return collapse_whitespace(html.unescape(match.group(1))), text[match.end():]


def parse_file(path: str | Path, *, templates: Sequence[TemplateSpec] | None = None) -> Postmortem:
    """Parse one storage-format file (optionally led by a `<title>` line); raises on unreadable input."""
    text = Path(path).read_bytes().decode("utf-8-sig")
    title, body = split_title(text)
    return parse_page(body, title=title, templates=templates)


def find_written_date(text: str) -> date | None:
    """The first valid written date: 2026-03-01, 1 Mar 2026, 1 March 2026, March 1, 2026, Mar 1, 2026."""
    for match in _WRITTEN_DATE.finditer(text):
        parts = match.groupdict()
        try:
            if parts["iso_y"]:
                return date(int(parts["iso_y"]), int(parts["iso_m"]), int(parts["iso_d"]))
            if parts["dmy_y"]:
                return date(int(parts["dmy_y"]), _month_number(parts["dmy_m"]), int(parts["dmy_d"]))
            return date(int(parts["mdy_y"]), _month_number(parts["mdy_m"]), int(parts["mdy_d"]))
        except ValueError:
            continue
    return None


def _month_number(name: str) -> int:
    """1-12 for an English month name or abbreviation."""
    return _MONTH_NUMBERS[name[:3].lower()]


def parse_page(body: str, *, title: str | None = None, templates: Sequence[TemplateSpec] | None = None,
               page_id: str | None = None) -> Postmortem:
    """Extract the action items, page meta and problems of a storage-format body; never raises."""
    chosen = tuple(templates) if templates is not None else DEFAULT_TEMPLATES
    parsed = parse_storage(body or "")
    located = locate_items(parsed.root, chosen)
    read = _CellReads()
    items = tuple([_task_item(item) if item.is_task else _row_item(item, read) for item in located.items])
    problems = ["malformed"] if parsed.malformed else []
    if not located.has_action_section:
        problems.append("no-action-section")
    if located.table_too_large:
        problems.append("table-too-large")
    problems += _item_problems(items)
    page_title = collapse_whitespace(title) if title is not None else (located.first_heading or "")
    meta = read_page_meta(parsed.root)
    return Postmortem(title=page_title, items=items, problems=tuple(problems), meta=meta, page_id=page_id,
                      root_cause_text=read_root_cause(parsed.root))


def _item_problems(items: Sequence[ActionItem]) -> list[str]:
    """`missing-owner:<n>` / `missing-due:<n>` per item, owner before due."""
    problems = []
    for number, item in enumerate(items, start=1):
        if item.owner is None:
            problems.append(f"missing-owner:{number}")
        if item.due is None:
            problems.append(f"missing-due:{number}")
    return problems


# --- tables -----------------------------------------------------------------------------------------


class _CellReads(dict[tuple[Callable[..., Any], "etree._Element | None"], Any]):
    """Each reading of a cell made once per page: a rowspan cell covers many rows, and may be huge."""

    def __call__(self, reader: Callable[..., Any], cell: etree._Element | None, *args: Any) -> Any:
        """`reader(cell, *args)`, computed on the first call for that reader and cell."""
        key = (reader, cell)
        if key not in self:
            self[key] = reader(cell, *args)
        return self[key]


def _row_item(item: LocatedItem, read: _CellReads) -> ActionItem:
    """The fields of a table row: its cells, else the checkbox in its summary cell, else the sub-heading's type."""
    cells, template, checkbox = item.columns, item.template, item.parts
    macro_key = next((keys[0] for keys in (read(jira_macro_keys, cell) for cell in item.cells) if keys), None)
    return ActionItem(
        summary=item.summary,
        owner=read(_cell_owner, cells["owner"], template) if "owner" in cells else first_mention(checkbox.body),
        due=read(_cell_due, cells["due"]) if "due" in cells else first_time(checkbox.body),
        type=read(_cell_value, cells["type"]) if "type" in cells else item.heading_type,
        priority=read(_cell_value, cells.get("priority")),
        jira_key=macro_key or read(reference_key, cells.get("jira")),
        done=_row_done(cells, template, checkbox, read),
        origin=item.origin,
        task_uuid=checkbox.uuid,
    )


def _cell_owner(cell: etree._Element | None, template: TemplateSpec) -> Owner | None:
    """The first mention in the owner cell, else its text as a display name; placeholders give None."""
    mention = first_mention(cell)
    if mention is not None:
        return mention
    text = text_of(cell)
    return None if template.means_no_owner(text) else Owner(display=text)


def _cell_due(cell: etree._Element | None) -> date | None:
    """The first `<time>` in the due cell, else the first written date in its text."""
    return first_time(cell) or find_written_date(text_of(cell))


def _cell_value(cell: etree._Element | None) -> str | None:
    """A cell's lozenge title or text as written; None when empty or absent."""
    return (lozenge_or_text(cell) or None) if cell is not None else None


def _row_done(cells: dict[ColumnField, etree._Element | None], template: TemplateSpec,
              checkbox: TaskParts, read: _CellReads) -> bool | None:
    """Status column word, else the summary cell's checkbox, else (no status column) a trailing DONE/TODO."""
    if "done" in cells:
        done = template.done_from_text(read(lozenge_or_text, cells["done"]))
        if done is not None:
            return done
    if checkbox.status is not None:
        return _TASK_STATES.get(checkbox.status)
    if "done" in cells:
        return None
    trailing = _TRAILING_SRE_STATE.search(read(text_of, cells.get("jira")))
    return trailing.group(1).lower() == "done" if trailing else None


# --- task lists -------------------------------------------------------------------------------------


def _task_item(item: LocatedItem) -> ActionItem:
    """The fields of one task, read from its body outside nested task lists."""
    _, task_uuid, status, body = item.parts
    return ActionItem(
        summary=item.summary,
        owner=first_mention(body, skip_task_lists=True),
        due=first_time(body, skip_task_lists=True),
        type=item.heading_type,
        jira_key=next(macro_keys(item), None),
        done=_TASK_STATES.get(status or ""),
        origin=item.origin,
        task_uuid=task_uuid,
    )


# --- page properties --------------------------------------------------------------------------------

_META_KEYS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("incident_date", re.compile(r"\bdate\b|\bdetected\b", re.I)),
    ("severity", re.compile(r"\bseverity\b|^sev\b", re.I)),
    ("service", re.compile(r"\bservices?\b", re.I)),
    ("team", re.compile(r"\bteam\b", re.I)),
    ("owner", re.compile(r"\bowner\b|\bauthor\b", re.I)),
    ("status", re.compile(r"\bstatus\b", re.I)),
)


def read_page_meta(root: etree._Element) -> PageMeta:
    """Incident date, severity, service(s), team, owner and status from the page-properties macros."""
    values: dict[str, Any] = {}  # PageMeta field -> value: a date, a str or an Owner
    for macro in root.iter(MACRO):
        if macro_name(macro) != "details":
            continue
        for row in macro.iter("tr"):
            cells = row_cells(row)
            if len(cells) >= 2:
                _read_meta_row(text_of(cells[0]), cells[1], values)
    return PageMeta(**values)


def _read_meta_row(key: str, cell: etree._Element, values: dict[str, Any]) -> None:
    """Record the first value for the meta field a key names."""
    for name, pattern in _META_KEYS:
        if name in values or not pattern.search(key):
            continue
        value = _meta_value(name, cell)
        if value is not None:
            values[name] = value
        return


def _meta_value(name: str, cell: etree._Element) -> object:
    """The value of one page-properties cell for a meta field."""
    if name == "incident_date":
        return _cell_due(cell)
    if name == "owner":
        text = text_of(cell)
        return first_mention(cell) or (Owner(display=text) if text else None)
    return _cell_value(cell)


# --- plain-text rendering (for `postmortem-sync parse`) ---------------------------------------------

_TABLE_HEADER = ("#", "Summary", "Owner", "Due", "Type", "Priority", "Jira", "Done")
_DONE_LABELS = {True: "yes", False: "no", None: "-"}


def _clip(text: str, width: int) -> str:
    """The text cut to `width` characters with an ellipsis."""
    return text if len(text) <= width else text[: width - 1] + "…"


def _owner_label(owner: Owner | None) -> str:
    """An owner's display name, else its id."""
    if owner is None:
        return "-"
    return owner.display or owner.account_id or owner.userkey or owner.username or "-"


def render_table(postmortem: Postmortem) -> str:
    """A readable table of a page's items followed by its problems."""
    rows = [_TABLE_HEADER] + [
        (str(number), _clip(item.summary, 60), _clip(_owner_label(item.owner), 30),
         item.due.isoformat() if item.due else "-", item.type or "-", item.priority or "-",
         item.jira_key or "-", _DONE_LABELS[item.done])
        for number, item in enumerate(postmortem.items, start=1)
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(_TABLE_HEADER))]
    lines = [postmortem.title or "(untitled page)"]
    lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.append("  problems: " + (", ".join(postmortem.problems) or "none"))
    return "\n".join(lines)
