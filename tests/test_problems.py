"""Problems are values: operators read the rendered text, the cycle decides on the kind's flags."""

from __future__ import annotations

from sync.problems import Problem, ProblemKind


def test_rendering_is_the_text_operators_know():
    assert str(Problem(ProblemKind.PAGE_DELETED, "123")) == "page-deleted:123"
    assert str(Problem(ProblemKind.UNRESOLVED_KEY, "OPS-9", "404")) == "unresolved-key:OPS-9:404"
    assert str(Problem(ProblemKind.JIRA_WINS, "OPS-1", "due")) == "jira-wins:OPS-1:due"
    assert str(Problem(ProblemKind.LEASE_HELD, "host/1", "until 2026-01-01T00:00:00+00:00")) == \
        "lease-held:host/1:until 2026-01-01T00:00:00+00:00"
    assert str(Problem(ProblemKind.CREATE_FAILED, None, "HTTP 500")) == "create-failed:HTTP 500"
    assert str(Problem(ProblemKind.PAGE, "42", "malformed")) == "page 42: malformed"


def test_retried_problems_hold_the_page_window():
    retried = {k for k in ProblemKind if Problem(k).retried}
    assert retried == {
        ProblemKind.PARSE_FAILED, ProblemKind.CREATE_PENDING, ProblemKind.EPIC_PENDING,
        ProblemKind.EPIC_CREATE_FAILED, ProblemKind.CREATE_FAILED, ProblemKind.CREATE_INTERRUPTED,
        ProblemKind.UPDATE_FAILED, ProblemKind.TRANSITION_FAILED, ProblemKind.FLAG_FAILED,
        ProblemKind.WRITE_BACK_FAILED, ProblemKind.WRITE_BACK_GAVE_UP,
    }
    assert not Problem(ProblemKind.CREATE_REJECTED, "abc", "duedate").retried  # Jira said no: redoing it helps nobody


def test_only_some_problems_fail_the_cycle():
    failing = {k for k in ProblemKind if Problem(k).fails_cycle}
    assert failing == {ProblemKind.UNSAFE_PLAN, ProblemKind.LEASE_DENIED, ProblemKind.LEASE_FAILED,
                       ProblemKind.SUMMARY_NOT_OURS, ProblemKind.CYCLE_FAILED}
