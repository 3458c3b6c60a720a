"""Tables in storage format: their own rows and cells, laid out on a grid that honours colspan and rowspan."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from sync.storage_format import collapse_whitespace, text_of

_MAX_SPAN = 1000
# Caps that keep a table's layout linear in the page size (hitting one is reported as `table-too-large`): real
# postmortem tables have a handful of columns and at most hundreds of rows.
MAX_COLUMNS = _MAX_SPAN
MAX_TABLE_SLOTS = 200_000


def table_rows(table: etree._Element) -> list[etree._Element]:
    """The table's own `<tr>` rows in document order (header row included, nested tables' rows not)."""
    rows = []
    walker = etree.iterwalk(table, events=("start",))
    for _, node in walker:
        if node is table:
            continue
        if node.tag == "table":
            walker.skip_subtree()
        elif node.tag == "tr":
            rows.append(node)
    return rows


def row_cells(row: etree._Element) -> list[etree._Element]:
    """The row's own `<td>`/`<th>` cells."""
    return [cell for cell in row if cell.tag in ("td", "th")]


def cell_span(cell: etree._Element, attribute: str) -> int:
    """A cell's colspan/rowspan, clamped to a sane range."""
    value = cell.get(attribute)
    if value is None:  # most cells: no parse needed (this runs for every cell of every table)
        return 1
    try:
        return min(max(int(value), 1), _MAX_SPAN)
    except ValueError:
        return 1


@dataclass(frozen=True)
class TableGrid:
    """A table as rows of column slots; a spanning cell fills every slot it covers.

    `clipped` says a cap was hit: columns past `MAX_COLUMNS` are dropped, and rows past the slot budget are left
    out (`rows` holds only the rows laid out).
    """

    rows: tuple[etree._Element, ...]
    slots: tuple[tuple[etree._Element | None, ...], ...]
    clipped: bool = False


def table_grid(table: etree._Element, *, max_slots: int = MAX_TABLE_SLOTS,
               rows: list[etree._Element] | None = None) -> TableGrid:
    """Lay out the table's cells on a grid, honouring colspan and rowspan, in time linear in the slots laid out.

    A rowspan reaches at most the table's last row and a row at most `MAX_COLUMNS` columns; the grid stops at the
    row that would take it past `max_slots` slots.
    """
    rows = table_rows(table) if rows is None else rows
    above: list[etree._Element | None] = []  # per column: the cell a rowspan from above carries into this row
    left: list[int] = []  # per column: how many more rows it carries it
    slots: list[tuple[etree._Element | None, ...]] = []
    budget, clipped = max_slots, False
    for number, row in enumerate(rows):
        if any(left):
            line = [cell if count else None for cell, count in zip(above, left, strict=True)]
            left = [count - 1 if count else 0 for count in left]
        else:  # no rowspan from above (most rows): start empty
            line = []
        clipped |= _place_cells(row, line, above, left, len(rows) - number)
        while line and line[-1] is None:
            line.pop()
        budget -= len(line) + 1
        if budget < 0:
            return TableGrid(tuple(rows[:number]), tuple(slots), clipped=True)
        slots.append(tuple(line))
    return TableGrid(tuple(rows), tuple(slots), clipped)


def _place_cells(row: etree._Element, line: list[etree._Element | None], above: list[etree._Element | None],
                 left: list[int], rows_to_end: int) -> bool:
    """Put the row's own cells into the free slots of `line`, carrying rowspans down; True when a cap clipped."""
    column = 0
    for cell in row_cells(row):
        while column < len(line) and line[column] is not None:
            column += 1
        if column >= MAX_COLUMNS:
            return True
        width = min(cell_span(cell, "colspan"), MAX_COLUMNS - column)
        height = min(cell_span(cell, "rowspan"), rows_to_end)
        end = column + width
        if end > len(line):
            line.extend([None] * (end - len(line)))
        if width == 1:  # most cells: one slot, no slicing
            line[column] = cell
        else:
            line[column:end] = [cell] * width
        if height > 1:
            _carry(above, left, column, end, cell, height - 1)
        column = end
    return False


def _carry(above: list[etree._Element | None], left: list[int], column: int, end: int, cell: etree._Element,
           rows: int) -> None:
    """Carry the cell down `rows` more rows in columns column..end-1."""
    if end > len(above):
        above.extend([None] * (end - len(above)))
        left.extend([0] * (end - len(left)))
    above[column:end] = [cell] * (end - column)
    left[column:end] = [rows] * (end - column)


def _is_bold(cell: etree._Element) -> bool:
    """True when all of the cell's text is inside `<strong>`/`<b>`."""
    text = text_of(cell)
    bold = collapse_whitespace(" ".join(text_of(b) for b in cell.iter("strong", "b")))
    return bool(text) and text == bold


def is_header_row(row: etree._Element) -> bool:
    """A `thead` row, or a row whose cells are all `th` or bold `td` (empty cells allowed)."""
    parent = row.getparent()
    if parent is not None and parent.tag == "thead":
        return True
    cells = row_cells(row)
    headed = [cell.tag == "th" or _is_bold(cell) for cell in cells]
    return any(headed) and all(h or not text_of(c) for h, c in zip(headed, cells, strict=True))


def is_group_label(row: etree._Element, width: int) -> bool:
    """A row made of one cell spanning every column (e.g. "Short term")."""
    cells = row_cells(row)
    return width > 1 and len(cells) == 1 and cell_span(cells[0], "colspan") >= width
