"""Tables in storage format: their own rows and cells, laid out on a grid that honours colspan and rowspan."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from sync.storage_format import collapse_whitespace, text_of

_MAX_SPAN = 1000


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
    """A table as rows of column slots; a spanning cell fills every slot it covers."""

    rows: tuple[etree._Element, ...]
    slots: tuple[tuple[etree._Element | None, ...], ...]


def table_grid(table: etree._Element) -> TableGrid:
    """Lay out the table's cells on a grid, honouring colspan and rowspan."""
    rows = table_rows(table)
    carried: dict[int, tuple[etree._Element, int]] = {}
    slots = []
    for row in rows:
        line: dict[int, etree._Element] = {}
        for column, (cell, rows_left) in list(carried.items()):
            line[column] = cell
            carried[column] = (cell, rows_left - 1)
            if rows_left == 1:
                del carried[column]
        column = 0
        for cell in row_cells(row):
            while column in line:
                column += 1
            width, height = cell_span(cell, "colspan"), cell_span(cell, "rowspan")
            for covered in range(column, column + width):
                line[covered] = cell
                if height > 1:
                    carried[covered] = (cell, height - 1)
            column += width
        slots.append(tuple(line.get(index) for index in range(max(line, default=-1) + 1)))
    return TableGrid(tuple(rows), tuple(slots))


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
