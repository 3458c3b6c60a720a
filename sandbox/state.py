"""Everything the sandbox remembers, behind one lock, and how to go back to the seed."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sandbox.clock import SandboxClock
from sandbox.confluence.store import ConfluenceStore
from sandbox.directory import API_USER, User, UserDirectory, load_users
from sandbox.http.errors import jira_error
from sandbox.jira.store import JiraStore
from sandbox.options import SandboxOptions
from sandbox.seed import read_seed_pages, seed_confluence, seed_jira
from sandbox.timefmt import zone

# The id of Confluence's primary Jira application link, named "System Jira" (bundled example 07 uses it).
PRIMARY_JIRA_LINK = "a9986ca6-387c-3b09-9a85-450e12a1cf94"


class SandboxState:
    """Users, Confluence and Jira; handlers touch them only while holding `lock`."""

    def __init__(self, options: SandboxOptions, site: str) -> None:
        self.options = options
        self.site = site.rstrip("/")
        self.lock = threading.RLock()
        self.clock = SandboxClock(timedelta(seconds=options.clock_offset_s))  # survives resets: never runs back
        self.api_user = replace(API_USER, time_zone=options.timezone)
        self._seed_pages = read_seed_pages(options.effective_seed_dir)
        self._seed_users = load_users(options.effective_seed_dir)
        for user in self._seed_users:
            self.zone_of(user)  # an unknown zone in users.json stops the start, not a request later
        self.reset()

    @property
    def search_lag(self) -> timedelta:
        """How long a write takes to reach the search indexes."""
        return timedelta(milliseconds=self.options.search_lag_ms)

    def zone_of(self, user: User) -> tzinfo:
        """The user's profile time zone, else the site's default zone (as Jira answers for an unset one)."""
        return zone(user.time_zone or self.options.site_timezone)

    @property
    def cql_zone(self) -> tzinfo:
        """The zone CQL reads date literals in: the site's, or the (only) calling user's."""
        return self.zone_of(self.api_user) if self.options.cql_timezone == "user" else zone(self.options.site_timezone)

    def jira_now(self) -> datetime:
        """Jira's current time (its store's clock, which a test may have replaced)."""
        return self.jira.clock()

    def confluence_now(self) -> datetime:
        """Confluence's current time (its store's clock, which a test may have replaced)."""
        return self.confluence.clock()

    @property
    def jira_directory(self) -> UserDirectory:
        """The people Jira knows (with Jira's keys): some have a Confluence account only."""
        return self.directory.of_product("jira")

    @property
    def wiki(self) -> str:
        """Confluence's base URL (what `_links.base` carries)."""
        return f"{self.site}/wiki"

    def reset(self) -> None:
        """Back to the seed: same pages, same users, no issues."""
        with self.lock:
            now = self.clock()
            self.directory = UserDirectory(self._seed_users, self.api_user)
            self.confluence = ConfluenceStore(self.clock)
            self.jira = JiraStore(self.options.search_lag_ms, clock=self.clock)
            self.hidden_fields_by_project: dict[str, set[str]] = {}  # project key → fields off its screens
            self.required_fields_by_project: dict[str, dict[str, str]] = {}  # project key → {custom field id: name}
            # Confluence's Jira application links (id → base URL; "" is this sandbox's Jira, the primary link)
            self.jira_links: dict[str, str] = {PRIMARY_JIRA_LINK: ""}
            seed_confluence(self.confluence, self._seed_pages, self.api_user, now)
            seed_jira(self.jira, now)

    def move_issue(self, key: str, project_key: str) -> dict[str, str]:
        """Move an issue to another project, as a Jira user would: {"id", "key", "from"} afterwards."""
        with self.lock:
            issue = self.jira.issue(key)
            old_key = self.jira.move(issue, project_key)
            return {"id": issue.id, "key": issue.key, "from": old_key}

    def hide_field(self, project_key: str, field_id: str) -> list[str]:
        """Take a field off a project's create and edit screens; the project's hidden fields afterwards."""
        with self.lock:
            key = project_key.strip().upper()
            if key not in self.jira.projects:
                raise jira_error(404, f"No project could be found with key '{project_key}'.")
            self.hidden_fields_by_project.setdefault(key, set()).add(field_id)
            return sorted(self.fields_off_screen(key))

    def require_field(self, project_key: str, field_id: str, name: str) -> None:
        """Put a required custom field on a project's create screens."""
        with self.lock:
            key = project_key.strip().upper()
            if key not in self.jira.projects:
                raise jira_error(404, f"No project could be found with key '{project_key}'.")
            self.required_fields_by_project.setdefault(key, {})[field_id] = name

    def required_fields(self, project_key: str) -> dict[str, str]:
        """Required custom fields of a project's create screens: {field id: name}."""
        return self.required_fields_by_project.get(project_key.upper(), {})

    def fields_off_screen(self, project_key: str) -> set[str]:
        """Fields missing from a project's create and edit screens."""
        return self.hidden_fields_by_project.get(project_key.upper(), set())

    def add_jira_link(self, link_id: str, url: str) -> None:
        """Link Confluence to another Jira (an application link), whose macros render against `url`."""
        with self.lock:
            self.jira_links[link_id] = url.rstrip("/")

    def restrict_page_edit(self, page_id: str) -> None:
        """Let the sandbox user read the page but not edit it (an edit restriction naming someone else)."""
        with self.lock:
            self.confluence.edit_restricted.add(self.confluence.page(str(page_id)).id)

    def delete_page(self, page_id: str) -> None:
        """Move a page to the trash, as DELETE content/{id} does."""
        with self.lock:
            self.confluence.trash_page(page_id)

    def archive_page(self, page_id: str) -> None:
        """Archive a current page, as a space admin does (Confluence Cloud: Archive; Data Center: Archive page)."""
        with self.lock:
            self.confluence.archive_page(str(page_id))

    def restrict_page_view(self, page_id: str, status: int = 404) -> None:
        """Hide the page from the sandbox user (a view restriction naming someone else); reads answer `status`."""
        if status not in (403, 404):
            raise ValueError("a view-restricted page answers 403 or 404")
        with self.lock:
            self.confluence.view_restricted[self.confluence.stored(str(page_id)).id] = status

    def summary(self) -> dict[str, Any]:
        """Counts for /_sandbox/state."""
        with self.lock:
            by_status: dict[str, int] = {}
            for issue in self.jira.issues.values():
                by_status[issue.status.name] = by_status.get(issue.status.name, 0) + 1
            return {
                "flavor": self.options.flavor,
                "pages": len(self.confluence.pages),
                "issues": len(self.jira.issues),
                "issues_by_status": by_status,
                "issue_keys": [issue.key for issue in self.jira.issues.values()],
                "users": len(self.directory.all()),
            }
