"""The browser view: pages at /wiki/spaces/{key}/pages/{id}[/{slug}], issues at /browse/{KEY}.

Plain server-rendered HTML with everything escaped, so a person (or headless Chromium in the
tests) can look at what the daemon wrote.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

from sandbox.browser.render import IssueInfo, RenderContext, render_storage
from sandbox.confluence.json_shapes import page_webui
from sandbox.confluence.model import Page
from sandbox.http.errors import ApiError
from sandbox.http.router import Router
from sandbox.http.wire import Reply, Request, html_reply
from sandbox.jira.adf import RichText
from sandbox.jira.store import Issue
from sandbox.state import SandboxState

_CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#172b4d}
header{background:#0747a6;color:#fff;padding:10px 24px}header a{color:#fff}
main{max-width:1000px;margin:24px auto;padding:0 24px}
table{border-collapse:collapse;margin:8px 0}
th,td{border:1px solid #dfe1e6;padding:6px 10px;vertical-align:top;text-align:left}
th{background:#f4f5f7}.meta{color:#6b778c;font-size:13px}
.status-lozenge{display:inline-block;border-radius:3px;padding:0 4px;font-size:11px;font-weight:700;
text-transform:uppercase}
.status-grey{background:#dfe1e6;color:#42526e}.status-red{background:#ffebe6;color:#bf2600}
.status-yellow{background:#fffae6;color:#ff8b00}.status-green{background:#e3fcef;color:#006644}
.status-blue{background:#deebff;color:#0747a6}.status-purple{background:#eae6ff;color:#403294}
.subtle{background:none;border:1px solid currentColor}
.user-mention{color:#0052cc;background:#f4f5f7;border-radius:20px;padding:0 6px}
.task-list{list-style:none;padding-left:4px}
.panel{border-left:4px solid #0052cc;background:#f4f5f7;padding:6px 12px;margin:8px 0}
.panel-warning{border-color:#ff8b00}.panel-note{border-color:#6554c0}.panel-tip{border-color:#00875a}
.layout-section{display:flex;gap:16px}.layout-cell{flex:1}
.date-lozenge{background:#f4f5f7;border-radius:3px;padding:0 4px}
.page-properties{background:#fafbfc}.labels span{background:#f4f5f7;margin-right:4px;padding:0 4px}
"""
_CATEGORY_COLOURS = {"new": "grey", "indeterminate": "blue", "done": "green"}


def register(router: Router) -> None:
    """Add the browser routes (not counted in statistics, no latency, no credentials needed)."""
    for template, handler in (
        ("/", index), ("/issues", issue_list), ("/browse/{key}", browse_issue),
        ("/wiki", space_view_default), ("/wiki/spaces/{key}", space_view), ("/wiki/spaces/{key}/overview", space_view),
        ("/wiki/spaces/{key}/pages", space_view), ("/wiki/display/{key}", space_view),
        ("/wiki/spaces/{key}/pages/{id}", page_view), ("/wiki/spaces/{key}/pages/{id}/{slug}", page_view),
        ("/wiki/pages/viewpage.action", page_view),
    ):
        router.add("GET", template, handler, kind="view")


def render_context(state: SandboxState, page: Page | None = None) -> RenderContext:
    """Look-ups the renderer needs: display names, issues, page links, a page's children."""

    def issue(key: str) -> IssueInfo | None:
        try:
            found = state.jira.issue(key)
        except ApiError:
            return None
        return IssueInfo(found.summary, found.status.name, found.status.category.key)

    def user_name(identifier: str) -> str | None:
        user = state.directory.by_any_id(identifier)
        return user.display_name if user else None

    def page_href(title: str, space_key: str | None) -> str | None:
        target = state.confluence.find_by_title(space_key or (page.space_key if page else "PM"), title)
        return _page_url(state, target) if target else None

    def child_pages() -> list[tuple[str, str]]:
        return [(kid.title, _page_url(state, kid)) for kid in state.confluence.children(page.id)] if page else []

    return RenderContext(user_name=user_name, issue=issue, page_href=page_href, child_pages=child_pages,
                         jira_links=dict(state.jira_links))


def render_page_html(state: SandboxState, page: Page, body: str) -> str:
    """`body.view`: the storage body as the browser view shows it."""
    return render_storage(body, render_context(state, page))


def _page_url(state: SandboxState, page: Page) -> str:
    return "/wiki" + page_webui(page, state.options.is_cloud)


def _esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _document(title: str, crumbs: str, content: str, status: int = 200) -> Reply:
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
        f"<style>{_CSS}</style></head><body><header>{crumbs}</header><main>{content}</main></body></html>"
    )
    return html_reply(page, status)


def not_found_page(what: str) -> Reply:
    return _document("Not found", '<a href="/">Sandbox</a>', f"<h1>Not found</h1><p>{_esc(what)}</p>", 404)


def index(state: SandboxState, request: Request) -> Reply:
    spaces = "".join(
        f'<li><a href="/wiki/spaces/{quote(key)}">{_esc(space.name)} ({_esc(key)})</a></li>'
        for key, space in state.confluence.spaces.items()
    )
    content = (
        f"<h1>postmortem-sync sandbox ({_esc(state.options.flavor)})</h1><h2>Confluence</h2><ul>{spaces}</ul>"
        '<h2>Jira</h2><p><a href="/issues">All issues</a></p>'
    )
    return _document("Sandbox", '<a href="/">Sandbox</a>', content)


def space_view_default(state: SandboxState, request: Request) -> Reply:
    request.params["key"] = next(iter(state.confluence.spaces), "PM")
    return space_view(state, request)


def space_view(state: SandboxState, request: Request) -> Reply:
    space = state.confluence.spaces.get(request.params["key"])
    if space is None:
        return not_found_page(f"No space {request.params['key']}")
    pages = [p for p in state.confluence.pages.values() if p.space_key == space.key]
    rows = "".join(_page_row(state, page) for page in pages)
    header = "<tr><th>Page</th><th>Version</th><th>Last updated (UTC)</th><th>Labels</th></tr>"
    table = f'<table class="page-list">{header}{rows}</table>'
    return _document(space.name, f'<a href="/">Sandbox</a> / {_esc(space.name)}', f"<h1>{_esc(space.name)}</h1>{table}")


def _page_row(state: SandboxState, page: Page) -> str:
    indent = "&nbsp;" * 4 * len(state.confluence.ancestors(page))
    labels = "".join(f"<span>{_esc(label.name)}</span>" for label in page.labels)
    return (
        f'<tr><td>{indent}<a href="{_esc(_page_url(state, page))}">{_esc(page.title)}</a></td>'
        f"<td>{page.current.number}</td><td>{_esc(page.last_modified.strftime('%Y-%m-%d %H:%M'))}</td>"
        f'<td class="labels">{labels}</td></tr>'
    )


def page_view(state: SandboxState, request: Request) -> Reply:
    page_id = request.params.get("id") or request.arg("pageId") or ""
    page = state.confluence.pages.get(page_id)
    if page is None or ("key" in request.params and request.params["key"] != page.space_key):
        return not_found_page(f"No page {page_id}")
    space = state.confluence.spaces[page.space_key]
    crumbs = f'<a href="/">Sandbox</a> / <a href="/wiki/spaces/{quote(space.key)}">{_esc(space.name)}</a>'
    for ancestor in state.confluence.ancestors(page):
        crumbs += f' / <a href="{_esc(_page_url(state, ancestor))}">{_esc(ancestor.title)}</a>'
    version = page.current
    labels = "".join(f"<span>{_esc(label.name)}</span>" for label in page.labels)
    meta = (
        f'<p class="meta">Version {version.number}{" (minor edit)" if version.minor_edit else ""} · last updated by '
        f"{_esc(version.by.display_name)} on {_esc(version.when.strftime('%Y-%m-%d %H:%M'))} UTC · "
        f'<span class="labels">{labels}</span></p>'
    )
    body = render_page_html(state, page, page.body)
    content = f'<h1 id="title-text">{_esc(page.title)}</h1>{meta}<div class="wiki-content">{body}</div>'
    return _document(page.title, crumbs, content)


def issue_list(state: SandboxState, request: Request) -> Reply:
    rows = "".join(
        f'<tr><td><a href="/browse/{quote(i.key)}">{_esc(i.key)}</a></td><td>{_esc(i.summary)}</td>'
        f"<td>{_lozenge(i)}</td><td>{_esc(i.assignee.display_name if i.assignee else 'Unassigned')}</td>"
        f"<td>{_esc(i.duedate or '')}</td></tr>"
        for i in state.jira.issues.values()
    )
    table = f"<table><tr><th>Key</th><th>Summary</th><th>Status</th><th>Assignee</th><th>Due</th></tr>{rows}</table>"
    return _document("Issues", '<a href="/">Sandbox</a> / Issues', f"<h1>Issues</h1>{table}")


def _lozenge(issue: Issue) -> str:
    colour = _CATEGORY_COLOURS.get(issue.status.category.key, "grey")
    return f'<span class="status-lozenge status-{colour}">{_esc(issue.status.name)}</span>'


def _paragraphs(text: RichText | None) -> str:
    if text is None:
        return '<p class="meta">None</p>'
    blocks = [block for block in text.as_wiki().split("\n\n") if block.strip()]
    return "".join(f"<p>{_esc(block).replace(chr(10), '<br>')}</p>" for block in blocks)


def browse_issue(state: SandboxState, request: Request) -> Reply:
    try:
        issue = state.jira.issue(request.params["key"])
    except ApiError:
        return not_found_page(f"Issue {request.params['key']} does not exist.")
    sprints = ", ".join(state.jira.sprints[s].name for s in issue.sprint_ids if s in state.jira.sprints)
    fields = [
        ("Type", _esc(issue.issuetype.name)), ("Status", _lozenge(issue)), ("Priority", _esc(issue.priority.name)),
        ("Assignee", _esc(issue.assignee.display_name if issue.assignee else "Unassigned")),
        ("Reporter", _esc(issue.reporter.display_name)),
        ("Labels", "".join(f"<span>{_esc(label)}</span>" for label in issue.labels)),
        ("Due date", _esc(issue.duedate or "")), ("Created", _esc(issue.created.strftime("%Y-%m-%d %H:%M"))),
        ("Updated", _esc(issue.updated.strftime("%Y-%m-%d %H:%M"))),
        ("Resolved", _esc(issue.resolutiondate.strftime("%Y-%m-%d %H:%M") if issue.resolutiondate else "")),
        ("Parent", _issue_link(issue.parent_key) if issue.parent_key else ""),
        ("Components", _esc(", ".join(c.name for c in issue.components))), ("Sprint", _esc(sprints)),
    ]
    table = "".join(f'<tr><th>{name}</th><td class="labels">{value}</td></tr>' for name, value in fields)
    links = "".join(_remote_link(link.object) for link in issue.remote_links) or '<li class="meta">None</li>'
    comments = "".join(
        f'<div class="comment"><p class="meta">{_esc(c.author.display_name)} · '
        f'{_esc(c.created.strftime("%Y-%m-%d %H:%M"))}</p>{_paragraphs(c.body)}</div>'
        for c in issue.comments
    ) or '<p class="meta">No comments</p>'
    content = (
        f'<h1><span class="issue-key">{_esc(issue.key)}</span> {_esc(issue.summary)}</h1>'
        f'<table class="issue-fields">{table}</table><h2>Description</h2>{_paragraphs(issue.description)}'
        f'<h2>Links</h2><ul class="remote-links">{links}</ul><h2>Comments</h2>{comments}'
    )
    crumbs = '<a href="/">Sandbox</a> / <a href="/issues">Issues</a>'
    return _document(f"[{issue.key}] {issue.summary}", crumbs, content)


def _issue_link(key: str) -> str:
    return f'<a href="/browse/{quote(key)}">{_esc(key)}</a>'


def _remote_link(obj: dict[str, Any]) -> str:
    url, title = str(obj.get("url", "")), str(obj.get("title", ""))
    if url.lower().startswith(("http://", "https://", "/")):
        return f'<li><a href="{_esc(url)}">{_esc(title or url)}</a></li>'
    return f"<li>{_esc(title or url)}</li>"
