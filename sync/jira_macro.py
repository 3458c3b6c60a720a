"""The Jira issue macro we write back, and which Jira it names.

Without `server`/`serverId` Confluence renders the macro against its primary Jira application link,
so on a site with several Jira links a key from another Jira shows the wrong issue or none. We name the
link where it is known: the configured one (`confluence.jira_server`, `confluence.jira_server_id`),
else the one the page's own Jira macros for our projects' issues agree on; otherwise none, as before.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from lxml import etree

from sync.storage_format import MACRO, macro_name, macro_parameter


@dataclass(frozen=True)
class JiraServer:
    """A Jira application link as Jira macros name it: its display name (`server`) and id (`serverId`)."""

    name: str | None = None
    id: str | None = None

    def __bool__(self) -> bool:
        return bool(self.name or self.id)


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def jira_macro_xml(issue_key: str, server: JiraServer | None = None) -> str:
    """A Jira issue macro for the key, escaped; naming the application link when `server` is given."""
    parameters = [("server", server.name if server else None), ("serverId", server.id if server else None),
                  ("key", issue_key)]
    inner = "".join(f'<ac:parameter ac:name="{name}">{_escaped(value)}</ac:parameter>'
                    for name, value in parameters if value)
    return f'<ac:structured-macro ac:name="jira" ac:schema-version="1">{inner}</ac:structured-macro>'


def page_server(root: etree._Element, projects: Collection[str]) -> JiraServer | None:
    """The link the page's Jira macros name for issues of `projects`, if they all agree on one.

    Macros for other projects' issues may well point at another Jira, so they never count.
    """
    seen = set()
    for macro in root.iter(MACRO):
        key = macro_parameter(macro, "key") if macro_name(macro) == "jira" else None
        if not key or key.rsplit("-", 1)[0] not in projects:
            continue
        server = JiraServer(macro_parameter(macro, "server"), macro_parameter(macro, "serverId"))
        if server:
            seen.add(server)
    return seen.pop() if len(seen) == 1 else None
