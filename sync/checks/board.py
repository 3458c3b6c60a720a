"""Check of the Jira board whose active sprint receives new tickets (`jira.sprint`), when sprints are on."""

from __future__ import annotations

from collections.abc import Iterator

from sync.checks import Check, Probe
from sync.checks.site import explain
from sync.ports import AtlassianError, NotFound


def sprint_board(probe: Probe) -> Iterator[Check]:
    """The configured board exists for us and has an active sprint."""
    sprint = probe.settings.jira.sprint
    if not sprint.enabled or sprint.board_id is None:
        yield Check("sprint board", True, "sprint placement is off (jira.sprint.enabled = false)")
        return
    board = sprint.board_id
    try:
        active = probe.jira.active_sprint(board)
    except NotFound:
        yield Check("sprint board", False, (
            f"Jira board {board} does not exist, or the account cannot see it (Jira answers 404 for both): "
            "check jira.sprint.board_id (the number in the board's URL, rapidView=N or /boards/N) and that the "
            "account may browse the projects of the board's filter"))
        return
    except AtlassianError as exc:
        yield Check("sprint board", False, f"Jira board {board}: {explain('Jira', exc)} (Browse projects permission)")
        return
    if active is None:
        yield Check("sprint board", False, (
            f"Jira board {board} has no active sprint: new tickets are created outside any sprint (reported as "
            "no-active-sprint) until someone starts one; start a sprint, or set jira.sprint.enabled = false"))
        return
    yield Check("sprint board", True, f"Jira board {board} has an active sprint (id {active}): new tickets go there")
