"""Everything the sandbox remembers, behind one lock, and how to go back to the seed."""

from __future__ import annotations

import threading

from sync.sandbox.confluence import ConfluenceStore
from sync.sandbox.directory import API_USER, UserDirectory, load_users
from sync.sandbox.jira import JiraStore
from sync.sandbox.options import SandboxOptions
from sync.sandbox.seed import read_seed_pages, seed_confluence, seed_jira
from sync.sandbox.timefmt import utcnow


class SandboxState:
    """Users, Confluence and Jira; handlers touch them only while holding `lock`."""

    def __init__(self, options: SandboxOptions, site: str) -> None:
        self.options = options
        self.site = site.rstrip("/")
        self.lock = threading.RLock()
        self.api_user = API_USER
        self._seed_pages = read_seed_pages(options.effective_seed_dir)
        self._seed_users = load_users(options.effective_seed_dir)
        self.reset()

    @property
    def wiki(self) -> str:
        """Confluence's base URL (what `_links.base` carries)."""
        return f"{self.site}/wiki"

    def reset(self) -> None:
        """Back to the seed: same pages, same users, no issues."""
        with self.lock:
            now = utcnow()
            self.directory = UserDirectory(self._seed_users)
            self.confluence = ConfluenceStore()
            self.jira = JiraStore(self.options.search_lag_ms)
            seed_confluence(self.confluence, self._seed_pages, self.api_user, now)
            seed_jira(self.jira, now)

    def move_issue(self, key: str, project_key: str) -> dict:
        """Move an issue to another project, as a Jira user would: {"id", "key", "from"} afterwards."""
        with self.lock:
            issue = self.jira.issue(key)
            old_key = self.jira.move(issue, project_key)
            return {"id": issue.id, "key": issue.key, "from": old_key}

    def delete_page(self, page_id: str) -> None:
        """Move a page to the trash, as DELETE content/{id} does."""
        with self.lock:
            self.confluence.trash_page(page_id)

    def summary(self) -> dict:
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
