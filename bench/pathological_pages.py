"""Pathological storage-format pages from the hardening issue, and a one-page parse measurement.

    python bench/pathological_pages.py [name ...]

Each page is measured in a fresh subprocess: wall time and peak resident memory of `parse_page`.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

SECTION = "<h2>Action items</h2>"
HEADER = "<tr><th>Summary</th><th>Owner</th><th>Due</th></tr>"


def carried_rowspans(size: int) -> str:
    """Rows whose cells span many rows and columns: each carried span pushes later rows to the right."""
    row = '<tr><td rowspan="1000" colspan="1000">x</td></tr>'
    return SECTION + "<table>" + HEADER + row * max(1, (size - 80) // len(row)) + "</table>"


def wide_header(size: int = 100_000) -> str:
    """One header cell with `colspan="1000"` holding a large text."""
    text = "word " * (size // 5)
    return SECTION + f'<table><tr><th colspan="1000">Summary {text}</th></tr><tr><td>a</td></tr></table>'


def unclosed_comments(size: int = 100_000) -> str:
    """A malformed body of unclosed `<!--` openers."""
    return SECTION + "<p>R&D</p>" + "<!--" * (size // 4)


def unclosed_cdata(size: int = 100_000) -> str:
    """A malformed body of unclosed `<![CDATA[` openers."""
    return SECTION + "<p>R&D</p>" + "<![CDATA[" * (size // 9)


def control_character() -> str:
    """An item whose summary carries `&#1;`."""
    return SECTION + "<table>" + HEADER + "<tr><td>Fix &#1; the thing</td><td>Ann</td><td>2026-01-02</td></tr></table>"


PAGES = {
    "rowspan-5k": lambda: carried_rowspans(5_000),
    "rowspan-7.5k": lambda: carried_rowspans(7_500),
    "rowspan-15k": lambda: carried_rowspans(15_000),
    "colspan-header-100k": lambda: wide_header(100_000),
    "unclosed-comment-100k": lambda: unclosed_comments(100_000),
    "unclosed-cdata-100k": lambda: unclosed_cdata(100_000),
}


def measure(name: str) -> dict[str, object]:
    """Parse one named page in this process: size, seconds, peak RSS (MB) and problems."""
    from sync.parser import parse_page

    body = PAGES[name]()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    page = parse_page(body)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"page": name, "bytes": len(body.encode()), "seconds": round(elapsed, 3),
            "peak_rss_mb": round(peak / 1024, 1), "rss_growth_mb": round((peak - base) / 1024, 1),
            "items": len(page.items), "problems": list(page.problems)[:4]}


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(measure(sys.argv[2])))
        sys.exit(0)
    for name in sys.argv[1:] or list(PAGES):
        try:
            out = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True, text=True,
                                 timeout=600)
            print(out.stdout.strip() or out.stderr.strip()[-300:], flush=True)
        except subprocess.TimeoutExpired:
            print(json.dumps({"page": name, "seconds": ">600"}), flush=True)
