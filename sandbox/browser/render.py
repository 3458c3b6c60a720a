"""Confluence storage format → safe HTML for the browser view (and `body.view`).

Everything from the page is escaped; only a fixed set of HTML tags and attributes passes through.
Macros become what a reader expects: status lozenges, Jira links with the issue's status, task
lists with checkboxes, mentions as display names, dates, panels, page properties, a bar chart.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from html.entities import name2codepoint

from lxml import etree

AC_NS = "http://www.atlassian.com/schema/confluence/4/ac/"
RI_NS = "http://www.atlassian.com/schema/confluence/4/ri/"
AC, RI = f"{{{AC_NS}}}", f"{{{RI_NS}}}"

_PASS_THROUGH = {
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tfoot", "tr", "th", "td", "ul", "ol",
    "li", "strong", "b", "em", "i", "u", "s", "del", "ins", "code", "pre", "br", "hr", "blockquote", "sub", "sup",
    "span", "div", "a", "colgroup", "col", "caption", "small", "mark", "cite", "q",
}
_VOID = {"br", "hr", "col"}
_ATTRIBUTES = {"colspan", "rowspan", "title"}
_SAFE_HREF = re.compile(r"^(https?:|mailto:|/|#)", re.IGNORECASE)
_ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);|&")
_XML_ENTITIES = {"amp", "lt", "gt", "quot", "apos"}
_EMOTICONS = {"tick": "✅", "cross": "❌", "warning": "⚠️", "information": "ℹ️", "smile": "🙂",
              "sad": "🙁",
              "blue-star": "🔵", "yellow-star": "⭐", "red-star": "🔴", "green-star": "🟢", "light-on": "💡",
              "thumbs-up": "👍", "thumbs-down": "👎", "plus": "➕", "minus": "➖", "question": "❓"}
_STATUS_COLOURS = {"grey", "red", "yellow", "green", "blue", "purple"}
_PANELS = {"info", "note", "warning", "tip", "panel"}


@dataclass(frozen=True)
class IssueInfo:
    summary: str
    status: str
    category: str  # new | indeterminate | done


@dataclass(frozen=True)
class RenderContext:
    """What the renderer may look up; every callable returns None when it does not know the answer."""

    user_name: Callable[[str], str | None] = lambda identifier: None
    issue: Callable[[str], IssueInfo | None] = lambda key: None
    page_href: Callable[[str, str | None], str | None] = lambda title, space: None
    child_pages: Callable[[], list[tuple[str, str]]] = list
    jira_prefix: str = ""
    # Confluence's Jira application links: id -> that Jira's base URL ("" for this sandbox's Jira, the
    # primary link, which a macro without serverId uses). Empty: links are not checked.
    jira_links: Mapping[str, str] = field(default_factory=dict)


def render_storage(body: str, context: RenderContext) -> str:
    """Storage XHTML → an HTML fragment, at any nesting depth (the walk keeps its own stack, not Python's)."""
    root = parse_storage(body)
    headings = list(root.iter("h1", "h2", "h3"))
    return _Renderer(context, headings).walk(root)


def parse_storage(body: str) -> etree._Element:
    """Parse leniently: HTML entities become characters, bare ampersands are escaped first."""
    wrapped = f'<root xmlns:ac="{AC_NS}" xmlns:ri="{RI_NS}">{_ENTITY.sub(_entity, body)}</root>'
    parser = etree.XMLParser(recover=True, resolve_entities=False, huge_tree=True)
    root = etree.fromstring(wrapped.encode("utf-8"), parser)
    return root if root is not None else etree.Element("root")


def _entity(match: re.Match) -> str:
    name = match.group(1)
    if name is None:
        return "&amp;"  # a bare '&' (libxml2's recovery would silently drop later entities)
    if name.startswith("#") or name in _XML_ENTITIES:
        return match.group(0)
    codepoint = name2codepoint.get(name)
    return f"&#{codepoint};" if codepoint else f"&amp;{name};"


def _esc(text: str | None) -> str:
    return html.escape(text or "", quote=True)


def _local(element: etree._Element) -> tuple[str, str]:
    """(namespace kind, local name): kind is 'ac', 'ri' or 'html'."""
    tag = element.tag if isinstance(element.tag, str) else ""
    if tag.startswith(AC):
        return "ac", tag[len(AC):]
    if tag.startswith(RI):
        return "ri", tag[len(RI):]
    return "html", tag.lower()


def _str(value: str | bytes) -> str:
    """lxml's stubs allow bytes for text and attribute values; storage format parsed from str gives str."""
    return value.decode() if isinstance(value, bytes) else value


def _text(element: etree._Element) -> str:
    return "".join(_str(part) for part in element.itertext())


@dataclass(frozen=True)
class _Later:
    """A part of the output not rendered yet: `render(element)` gives its parts when the walk reaches it."""

    render: Callable[[etree._Element], list[Part]]
    element: etree._Element


# Each handler returns its output as parts: finished text, or a _Later for what is nested inside it.
# The walk expands them with a stack of its own, so a page nested thousands deep never recurses.
Part = str | _Later


def _wrap(opening: str, inner: _Later, closing: str) -> list[Part]:
    return [opening, inner, closing]


@dataclass
class _Renderer:
    context: RenderContext
    headings: list = field(default_factory=list)

    def walk(self, root: etree._Element) -> str:
        """The children of `root` rendered to one string, depth first, without recursion."""
        out: list[str] = []
        todo: list[Part] = [_Later(self.children, root)]
        while todo:
            part = todo.pop()
            if isinstance(part, str):
                out.append(part)
            else:
                todo.extend(reversed(part.render(part.element)))
        return "".join(out)

    def children(self, element: etree._Element) -> list[Part]:
        out: list[Part] = [_esc(element.text)]
        for child in element:
            if isinstance(child.tag, str):
                out.append(_Later(self.element, child))
            out.append(_esc(child.tail))
        return out

    def element(self, element: etree._Element) -> list[Part]:
        kind, name = _local(element)
        if kind == "html":
            return self.html_element(element, name)
        handler = getattr(self, f"ac_{name.replace('-', '_')}", None) if kind == "ac" else None
        return handler(element) if handler else self.children(element)

    def html_element(self, element: etree._Element, name: str) -> list[Part]:
        if name == "time":
            return [self.time(element)]
        if name not in _PASS_THROUGH:
            return self.children(element)
        attributes = "".join(
            f' {_str(key)}="{_esc(_str(value))}"' for key, value in element.attrib.items() if key in _ATTRIBUTES
        )
        href = element.get("href")
        if name == "a" and href and _SAFE_HREF.match(href.strip()):
            attributes += f' href="{_esc(href.strip())}"'
        if name in ("h1", "h2", "h3") and element in self.headings:
            attributes += f' id="heading-{self.headings.index(element) + 1}"'
        if name in _VOID:
            return [f"<{name}{attributes}>"]
        return _wrap(f"<{name}{attributes}>", _Later(self.children, element), f"</{name}>")

    def time(self, element: etree._Element) -> str:
        value = element.get("datetime", "")
        try:
            shown = date.fromisoformat(value).strftime("%d %b %Y").lstrip("0")
        except ValueError:
            shown = value
        return f'<time class="date-lozenge" datetime="{_esc(value)}">{_esc(shown)}</time>'

    def ac_link(self, element: etree._Element) -> list[Part]:
        return [self.link(element)]

    def link(self, element: etree._Element) -> str:
        target = next((child for child in element if _local(child)[0] == "ri"), None)
        bodies = ("plain-text-link-body", "link-body")
        link_body = next((child for child in element if _local(child)[1] in bodies), None)
        body_text = _text(link_body).strip() if link_body is not None else ""
        if target is None:
            return _esc(body_text)
        kind = _local(target)[1]
        if kind == "user":
            ids = (target.get(f"{RI}{name}") for name in ("account-id", "userkey", "username"))
            identifier = next((value for value in ids if value), "")
            name = self.context.user_name(identifier) or body_text or identifier
            return f'<span class="user-mention" data-user="{_esc(identifier)}">@{_esc(name)}</span>'
        if kind == "page":
            title = target.get(f"{RI}content-title", "")
            href = self.context.page_href(title, target.get(f"{RI}space-key"))
            text = _esc(body_text or title)
            return f'<a class="page-link" href="{_esc(href)}">{text}</a>' if href else text
        if kind == "url" and _SAFE_HREF.match(target.get(f"{RI}value", "")):
            return f'<a href="{_esc(target.get(f"{RI}value"))}">{_esc(body_text or target.get(f"{RI}value"))}</a>'
        return _esc(body_text or target.get(f"{RI}filename", ""))

    def ac_task_list(self, element: etree._Element) -> list[Part]:
        items = [_Later(self.task, task) for task in element if _local(task)[1] == "task"]
        return ['<ul class="task-list">', *items, "</ul>"]

    def task(self, task: etree._Element) -> list[Part]:
        done = any(_local(c)[1] == "task-status" and _text(c).strip() == "complete" for c in task)
        body = [_Later(self.children, c) for c in task if _local(c)[1] == "task-body"]
        nested = [_Later(self.ac_task_list, c) for c in task if _local(c)[1] == "task-list"]
        state = "complete" if done else "incomplete"
        checked = " checked" if done else ""
        return [f'<li class="task {state}"><input type="checkbox" disabled{checked}> ', *body, *nested, "</li>"]

    def ac_emoticon(self, element: etree._Element) -> list[Part]:
        fallback = element.get(f"{AC}emoji-fallback") or _EMOTICONS.get(element.get(f"{AC}name", ""), "")
        return [f'<span class="emoticon">{_esc(fallback)}</span>']

    def ac_placeholder(self, element: etree._Element) -> list[Part]:
        return []  # instructional template text is hidden when a page is viewed

    def ac_image(self, element: etree._Element) -> list[Part]:
        attachment = next((c for c in element if _local(c)[1] == "attachment"), None)
        name = attachment.get(f"{RI}filename", "image") if attachment is not None else "image"
        return [f'<span class="image-placeholder">[image: {_esc(name)}]</span>']

    def ac_layout(self, element: etree._Element) -> list[Part]:
        return _wrap('<div class="layout">', _Later(self.children, element), "</div>")

    def ac_layout_section(self, element: etree._Element) -> list[Part]:
        return _wrap('<div class="layout-section">', _Later(self.children, element), "</div>")

    def ac_layout_cell(self, element: etree._Element) -> list[Part]:
        return _wrap('<div class="layout-cell">', _Later(self.children, element), "</div>")

    def ac_structured_macro(self, element: etree._Element) -> list[Part]:
        name = element.get(f"{AC}name", "")
        params = {c.get(f"{AC}name", ""): _text(c).strip() for c in element if _local(c)[1] == "parameter"}
        rich = next((c for c in element if _local(c)[1] == "rich-text-body"), None)
        plain = next((c for c in element if _local(c)[1] == "plain-text-body"), None)
        render = _MACROS.get("panel" if name in _PANELS else name)
        if render is not None:
            return render(self, name, params, rich, plain)
        if rich is not None:
            return _wrap(f'<div class="macro macro-{_esc(name)}">', _Later(self.children, rich), "</div>")
        return [f'<span class="macro-placeholder">[{_esc(name)}]</span>']

    ac_macro = ac_structured_macro


_Params = dict[str, str]  # a macro's parameters by name
_Body = etree._Element | None  # a macro's rich-text or plain-text body, when it has one
_Macro = Callable[[_Renderer, str, _Params, _Body, _Body], list[Part]]


def _rich(renderer: _Renderer, rich: etree._Element | None) -> list[Part]:
    """A macro's rich-text body, rendered when the walk reaches it; nothing when there is none."""
    return [_Later(renderer.children, rich)] if rich is not None else []


def _status(renderer: _Renderer, name: str, params: _Params, rich: _Body, plain: _Body) -> list[Part]:
    colour = params.get("colour", "Grey").lower()
    colour = colour if colour in _STATUS_COLOURS else "grey"
    subtle = " subtle" if params.get("subtle", "").lower() == "true" else ""
    return [f'<span class="status-lozenge status-{colour}{subtle}">{_esc(params.get("title", ""))}</span>']


UNKNOWN_JIRA_LINK = "Unable to locate Jira server for this macro. It may be due to Application Link configuration."


def _jira(renderer: _Renderer, name: str, params: _Params, rich: _Body, plain: _Body) -> list[Part]:
    """A Jira macro, rendered against the link its serverId names (the primary link without one)."""
    key, links, server_id = params.get("key", ""), renderer.context.jira_links, params.get("serverId")
    if server_id and links and server_id not in links:
        return [f'<span class="jira-error">{_esc(UNKNOWN_JIRA_LINK)}</span>']
    elsewhere = bool(server_id and links.get(server_id))  # another Jira: its issues are not ours to show
    if not key:
        return [f'<span class="jira-query">Jira query: {_esc(params.get("jqlQuery", ""))}</span>']
    prefix = links[server_id] if elsewhere and server_id else renderer.context.jira_prefix
    link = f'<a class="jira-issue-key" href="{_esc(prefix)}/browse/{_esc(key)}">{_esc(key)}</a>'
    info = None if elsewhere else renderer.context.issue(key)
    if info is None:
        return [f'<span class="jira-issue">{link}</span>']
    colour = _CATEGORY_COLOURS.get(info.category, "grey")
    lozenge = f'<span class="status-lozenge status-{colour}">{_esc(info.status)}</span>'
    return [f'<span class="jira-issue">{link} <span class="jira-summary">{_esc(info.summary)}</span> {lozenge}</span>']


_CATEGORY_COLOURS = {"new": "grey", "indeterminate": "blue", "done": "green"}


def _details(renderer: _Renderer, name: str, params: _Params, rich: _Body, plain: _Body) -> list[Part]:
    return ['<div class="page-properties">', *_rich(renderer, rich), "</div>"]


def _panel(renderer: _Renderer, name: str, params: _Params, rich: _Body, plain: _Body) -> list[Part]:
    title = f'<p class="panel-title">{_esc(params["title"])}</p>' if params.get("title") else ""
    return [f'<div class="panel panel-{_esc(name)}">{title}', *_rich(renderer, rich), "</div>"]


def _expand(renderer: _Renderer, name: str, params: _Params, rich: _Body, plain: _Body) -> list[Part]:
    title = params.get("title") or "Click here to expand..."
    return [f"<details><summary>{_esc(title)}</summary>", *_rich(renderer, rich), "</details>"]


def _code(renderer: _Renderer, name: str, params: _Params, rich: _Body, plain: _Body) -> list[Part]:
    return [f'<pre class="code"><code>{_esc(_text(plain) if plain is not None else "")}</code></pre>']


def _toc(renderer: _Renderer, name: str, params: _Params, rich: _Body, plain: _Body) -> list[Part]:
    items = "".join(
        f'<li><a href="#heading-{i}">{_esc(_text(h).strip())}</a></li>' for i, h in enumerate(renderer.headings, 1)
    )
    return [f'<nav class="toc"><ul>{items}</ul></nav>']


def _children(renderer: _Renderer, name: str, params: _Params, rich: _Body, plain: _Body) -> list[Part]:
    pages = renderer.context.child_pages()
    items = "".join(f'<li><a href="{_esc(href)}">{_esc(title)}</a></li>' for title, href in pages)
    return [f'<ul class="child-pages">{items}</ul>']


def _chart(renderer: _Renderer, name: str, params: _Params, rich: _Body, plain: _Body) -> list[Part]:
    table = next(rich.iter("table"), None) if rich is not None else None
    data_table = renderer.html_element(table, "table") if table is not None else []
    svg = bar_chart_svg(_table_rows(table) if table is not None else [], params.get("title", ""))
    return [f'<figure class="chart">{svg}', *data_table, "</figure>"]


def _table_rows(table: etree._Element) -> list[list[str]]:
    return [
        [" ".join(_text(cell).split()) for cell in row if _local(cell)[1] in ("th", "td")] for row in table.iter("tr")
    ]


def bar_chart_svg(rows: list[list[str]], title: str) -> str:
    """A bar per data row from the first numeric column; the header row names the axis."""
    points = []
    for row in rows[1:]:
        numbers = [float(v) for v in row[1:] if re.fullmatch(r"-?\d+(\.\d+)?", v)]
        if row and numbers:
            points.append((row[0], numbers[0]))
    width, height, bar = 60 * max(len(points), 1) + 40, 220, 40
    peak = max((value for _, value in points), default=1) or 1
    bars = []
    for index, (label, value) in enumerate(points):
        bar_height = 160 * max(value, 0) / peak
        x, y = 30 + index * 60, 180 - bar_height
        bars.append(
            f'<rect x="{x}" y="{y:.1f}" width="{bar}" height="{bar_height:.1f}" fill="#0052cc">'
            f"<title>{_esc(label)}: {value:g}</title></rect>"
            f'<text x="{x + bar / 2}" y="198" font-size="10" text-anchor="middle">{_esc(label[:10])}</text>'
            f'<text x="{x + bar / 2}" y="{y - 4:.1f}" font-size="10" text-anchor="middle">{value:g}</text>'
        )
    caption = f'<text x="10" y="14" font-size="12">{_esc(title)}</text>' if title else ""
    svg_open = (
        f'<svg class="bar-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">'
    )
    return f'{svg_open}{caption}{"".join(bars)}</svg>'


_MACROS: dict[str, _Macro] = {
    "status": _status, "jira": _jira, "details": _details, "panel": _panel, "expand": _expand,
    "code": _code, "noformat": _code, "toc": _toc, "children": _children, "chart": _chart,
}
