"""What went wrong in a cycle, as values: a kind, what it concerns, and whether the next cycle redoes it.

Logs, the CLI and the summary render a problem with `str()` (e.g. `page-deleted:123`,
`unresolved-key:OPS-9:404`); decisions read its kind or its flags, never its text. The parser's
page-level codes (`Postmortem.problems`, e.g. `malformed`) stay strings: they are the documented
extraction output; the cycle reports them as problems of kind PAGE with the page as subject.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ProblemKind(Enum):
    """What kind of thing went wrong; the value is the code operators see first in the rendered text."""

    # Reading pages
    PARSE_FAILED = "parse-failed"
    PAGE = "page"  # a parser finding, rendered `page <id>: <code>`
    PAGE_DELETED = "page-deleted"
    PAGE_CHECK_FAILED = "page-check-failed"
    PAGE_OUT_OF_SCOPE = "page-out-of-scope"
    PAGE_ARCHIVED = "page-archived"  # out of the search but kept: its items stay, it still counts on the summary
    # Reading issues
    UNRESOLVED_KEY = "unresolved-key"
    ISSUE_MOVED = "issue-moved"
    # Planning
    DUPLICATE_ISSUES = "duplicate-issues"
    JIRA_WINS = "jira-wins"
    CREATE_PENDING = "create-pending"
    EPIC_PENDING = "epic-pending"
    ISSUE_GONE = "issue-gone"
    UNKNOWN_ISSUE = "unknown-issue"
    FOREIGN_ISSUE = "foreign-issue"  # a page names an issue outside the managed projects: never written to
    INVALID_KEY = "invalid-key"  # a page names an issue key that is none by Jira's syntax
    UNSAFE_PLAN = "unsafe-plan"
    # The write lease
    LEASE_PAGE_MISSING = "lease-page-missing"
    LEASE_DENIED = "lease-denied"
    LEASE_LOST = "lease-lost"
    LEASE_FAILED = "lease-failed"
    LEASE_HELD = "lease-held"
    LEASE_HANDOVER = "lease-handover"
    # Applying the plan
    ADOPT_FAILED = "adopt-failed"
    EPIC_CREATE_FAILED = "epic-create-failed"
    EPIC_REJECTED = "epic-rejected"
    CREATE_FAILED = "create-failed"
    CREATE_INTERRUPTED = "create-interrupted"
    CREATE_REJECTED = "create-rejected"
    UNKNOWN_USER = "unknown-user"
    UPDATE_FAILED = "update-failed"  # transient (429, 5xx, no answer): redone next cycle
    UPDATE_REJECTED = "update-rejected"  # Jira refused the change (4xx): reported once, not redone
    TRANSITION_FAILED = "transition-failed"
    FLAG_FAILED = "flag-failed"
    UNFLAG_FAILED = "unflag-failed"
    NO_ACTIVE_SPRINT = "no-active-sprint"
    SPRINT_FAILED = "sprint-failed"
    REMOTE_LINK_FAILED = "remote-link-failed"
    REMINDER_FAILED = "reminder-failed"  # sent again only after the search-lag grace (it may have landed)
    WRITE_BACK_FAILED = "write-back-failed"
    WRITE_BACK_GAVE_UP = "write-back-gave-up"
    SUMMARY_FAILED = "summary-failed"
    SUMMARY_NOT_OURS = "summary-not-ours"  # a page titled like the summary page that we did not create
    ANNOTATE_FAILED = "annotate-failed"  # a quality panel (quality.annotate_pages) could not be written
    # The cycle as a whole
    CYCLE_FAILED = "cycle-failed"


# Work that did not happen for a reason that may pass (not a rejection): the next cycle reads the
# same pages again and redoes it, so the page window must not move past them.
_RETRIED = frozenset({
    ProblemKind.PARSE_FAILED, ProblemKind.CREATE_PENDING, ProblemKind.EPIC_PENDING,
    ProblemKind.EPIC_CREATE_FAILED, ProblemKind.CREATE_FAILED, ProblemKind.CREATE_INTERRUPTED,
    ProblemKind.UPDATE_FAILED, ProblemKind.TRANSITION_FAILED, ProblemKind.FLAG_FAILED,
    ProblemKind.WRITE_BACK_FAILED, ProblemKind.WRITE_BACK_GAVE_UP,
})
# The cycle failed (exit 1, readiness degraded): it could not do its job and someone should look.
_FAILS_CYCLE = frozenset({ProblemKind.UNSAFE_PLAN, ProblemKind.LEASE_DENIED, ProblemKind.LEASE_FAILED,
                          ProblemKind.SUMMARY_NOT_OURS, ProblemKind.CYCLE_FAILED})


@dataclass(frozen=True)
class Problem:
    """One thing a cycle reports: its kind, what it concerns (a page, issue or item key) and the details."""

    kind: ProblemKind
    subject: str | None = None
    detail: str | None = None

    @property
    def retried(self) -> bool:
        """Whether the next cycle redoes this work (so this cycle's pages are read again)."""
        return self.kind in _RETRIED

    @property
    def fails_cycle(self) -> bool:
        """Whether the cycle counts as failed because of it."""
        return self.kind in _FAILS_CYCLE

    def __str__(self) -> str:
        if self.kind is ProblemKind.PAGE:
            return f"page {self.subject}: {self.detail}"
        return ":".join([self.kind.value, *(part for part in (self.subject, self.detail) if part is not None)])
