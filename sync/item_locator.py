"""Where a page's action items are: one walk over the tree, shared by the parser (reading) and the write-back (editing).

Headings open and close action-item sections (vocabulary from `sync.templates`); inside a section every
table with a header row naming a summary column and every task list holds items. An item is identified by
its origin, `row:<table>:<row>` (the table's index among all tables of the page, the row's index in it) or
`task:<task id>`, which the planner carries from the parse to the write-back.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from lxml import etree

from sync.storage_format import (
    ADF_FALLBACK,
    HEADINGS,
    TASK,
    TASK_LIST,
    TaskParts,
    jira_macro_keys,
    task_parts,
    text_of,
)
from sync.storage_tables import MAX_TABLE_SLOTS, TableGrid, is_group_label, is_header_row, table_grid, table_rows
from sync.templates import ColumnField, ColumnMatch, TemplateSpec, best_column_match, section_template

# The grid slots all item tables of one page may take together: with `MAX_TABLE_SLOTS` per table, this bounds the
# layout work of any page whatever its number of tables.
MAX_PAGE_SLOTS = 500_000


class LocatedItem(NamedTuple):
    """One action item where it sits on the page: its origin, the elements that hold it and its matched columns.

    A named tuple rather than a frozen dataclass: one is made per item of every page parsed, and a frozen
    dataclass of this size takes about four times as long to build.
    """

    origin: str  # `row:<table>:<row>` or `task:<task id>`
    is_task: bool  # an `ac:task` of a task list, else a table row
    summary: str  # the plain text of the summary cell or task body (never empty)
    element: etree._Element  # the `<tr>` of a row, or the `ac:task`
    task: etree._Element | None  # the `ac:task` itself, or the checkbox in a row's summary cell
    parts: TaskParts  # id, uuid, status and body of that task (all empty without one)
    columns: dict[ColumnField, etree._Element | None]  # field -> cell of a row's matched columns; {} for a task
    cells: tuple[etree._Element, ...]  # every distinct cell covering a row, in column order; () for a task
    template: TemplateSpec  # the template that matched the table's header, or the section's
    heading_type: str | None  # the type the nearest sub-heading names (Fix, Prevent, ...), if any


class PageItems(NamedTuple):
    """A page's action items in document order, and what the same walk saw of its headings."""

    items: tuple[LocatedItem, ...]
    has_action_section: bool
    first_heading: str | None
    table_too_large: bool = False  # a table hit a layout cap: some of its rows (or later tables) were not read

    def at(self, origin: str) -> LocatedItem | None:
        """The first item with that origin, or None."""
        return next((item for item in self.items if item.origin == origin), None)


@dataclass
class _Section:
    """The action-item section being walked: its heading level, template and the type its sub-heading names."""

    level: int
    template: TemplateSpec
    heading_type: str | None = None


@dataclass
class _Walk:
    """What the walk has seen so far: the first heading, whether any section opened, the items."""

    first_heading: str | None = None
    found_section: bool = False
    items: list[LocatedItem] = field(default_factory=list)
    slots_left: int = MAX_PAGE_SLOTS  # the grid slots the page's item tables may still take
    table_too_large: bool = False
    sections: dict[str, TemplateSpec | None] = field(default_factory=dict)  # heading text -> its template


def locate_items(root: etree._Element, templates: Sequence[TemplateSpec]) -> PageItems:
    """Every action item of a parsed body, in document order, as the templates define sections and columns."""
    walk, section = _Walk(), None
    table_numbers = {table: number for number, table in enumerate(root.iter("table"))}
    walker = etree.iterwalk(root, events=("start",))
    for _, element in walker:
        tag = element.tag
        if tag in HEADINGS:
            section = _at_heading(walk, section, HEADINGS[tag], text_of(element), templates)
            walker.skip_subtree()
        elif tag == ADF_FALLBACK:  # a copy of content shown to old renderers: its items are already counted
            walker.skip_subtree()
        elif section is None:
            continue
        elif tag == "table":
            found = _budgeted_item_table(walk, element, templates)
            if found is not None:
                walk.items += _row_items(*found, section, table_numbers[element])
                walker.skip_subtree()
        elif tag == TASK_LIST:
            walk.items += _task_items(element, section)
            walker.skip_subtree()
    return PageItems(tuple(walk.items), walk.found_section, walk.first_heading, walk.table_too_large)


def _budgeted_item_table(walk: _Walk, table: etree._Element,
                         templates: Sequence[TemplateSpec]) -> tuple[TableGrid, ColumnMatch] | None:
    """`item_table` within what is left of the page's slot budget, noting a table that hit a cap."""
    found = item_table(table, templates, max_slots=min(walk.slots_left, MAX_TABLE_SLOTS))
    if found is not None:
        walk.slots_left -= sum(len(line) + 1 for line in found[0].slots)
        walk.table_too_large |= found[0].clipped
    return found


def _at_heading(walk: _Walk, section: _Section | None, level: int, text: str,
                templates: Sequence[TemplateSpec]) -> _Section | None:
    """The section in force after a heading: it ends the current one, opens a new one or is a sub-heading."""
    if walk.first_heading is None and text:
        walk.first_heading = text
    if section is not None and level > section.level:
        section.heading_type = section.template.type_from_heading(text) if text else None
        return section
    if text not in walk.sections:  # a page may repeat a heading many times; its vocabulary match is made once
        walk.sections[text] = section_template(templates, text)
    template = walk.sections[text]
    if template is None:
        return None
    walk.found_section = True
    return _Section(level, template)


def item_table(table: etree._Element, templates: Sequence[TemplateSpec], *,
               max_slots: int = MAX_TABLE_SLOTS) -> tuple[TableGrid, ColumnMatch] | None:
    """The grid and column mapping of an action-item table (header row with a summary column)."""
    rows = table_rows(table)
    if not rows or not is_header_row(rows[0]):  # checked before the layout: most tables are not item tables
        return None
    grid = table_grid(table, max_slots=max_slots, rows=rows)
    if not grid.slots:
        return None
    texts = {cell: text_of(cell) for cell in dict.fromkeys(grid.slots[0])}  # a spanning header is read once
    match = best_column_match(templates, [texts[cell] for cell in grid.slots[0]])
    return (grid, match) if match is not None else None


def _row_items(grid: TableGrid, match: ColumnMatch, section: _Section, table_number: int) -> list[LocatedItem]:
    """One item per data row, skipping group-label rows and rows with an empty summary."""
    width = len(grid.slots[0])
    items = []
    summaries: dict[etree._Element, tuple[str, etree._Element | None]] = {}  # a rowspan summary cell is read once
    for row_number in range(1, len(grid.rows)):
        if is_group_label(grid.rows[row_number], width):
            continue
        # Interned: pages mostly share their origins, and a parse of a whole archive is held through a cycle.
        origin = sys.intern(f"row:{table_number}:{row_number}")
        item = _row_item(grid, row_number, match, section, origin, summaries)
        if item is not None:
            items.append(item)
    return items


def _row_item(grid: TableGrid, row_number: int, match: ColumnMatch, section: _Section, origin: str,
              summaries: dict[etree._Element, tuple[str, etree._Element | None]]) -> LocatedItem | None:
    """The item of one table row, or None when its summary cell is empty."""
    slots = grid.slots[row_number]
    columns = {name: slots[column] if column < len(slots) else None for name, column in match.columns.items()}
    summary_cell = columns["summary"]
    if summary_cell is None:
        return None
    if summary_cell not in summaries:
        summaries[summary_cell] = (text_of(summary_cell), next(summary_cell.iter(TASK), None))
    summary, checkbox = summaries[summary_cell]
    if not summary:
        return None
    distinct = dict.fromkeys(slots)  # a cell spanning columns fills several slots; an empty slot is None
    cells = tuple(cell for cell in distinct if cell is not None)
    return LocatedItem(origin, False, summary, grid.rows[row_number], checkbox, task_parts(checkbox), columns, cells,
                       match.template, section.heading_type)


def _task_items(task_list: etree._Element, section: _Section) -> list[LocatedItem]:
    """Every task of the list with body text, in document order; a nested list's tasks follow their parent."""
    items = []
    for task in task_list.iter(TASK):
        parts = task_parts(task)
        summary = text_of(parts.body, skip_task_lists=True)
        if summary:
            items.append(LocatedItem(sys.intern(f"task:{parts.task_id}"), True, summary, task, task, parts, {}, (),
                                     section.template, section.heading_type))
    return items


def macro_keys(item: LocatedItem) -> Iterator[str]:
    """Keys of the Jira macros in the item: anywhere in a row, in a task's body outside nested task lists."""
    if item.is_task:
        return iter(jira_macro_keys(item.parts.body, skip_task_lists=True))
    return (key for cell in item.cells for key in jira_macro_keys(cell))
