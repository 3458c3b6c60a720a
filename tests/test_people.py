"""Owners as each product knows them, end to end against the sandbox.

Data Center: a `ri:userkey` is Confluence's key (Jira's own look like JIRAUSER10100), resolved once
through Confluence to the username Jira assigns by; an owner nobody can be found for, or Jira cannot
assign, is reported (`unknown-user`) and the ticket goes unassigned, still named on the summary page.
Updates: an assignee Jira refuses no longer blocks the rest of the edit; a 4xx on an update is
reported once and does not hold the page window back, while 429/5xx stay transient.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
import requests

from sandbox.directory import User
from sync.atlassian import make_adapters
from sync.checks import run_checks
from sync.cycle import run_cycle
from sync.identity import MANAGED_LABEL
from sync.models import Owner, Plan, SendReminder
from sync.people import with_people
from sync.problems import ProblemKind
from sync.state import State
from tests.harness import FLAVORS, SUMMARY_TITLE, World, replaced

BOTH_PROCESSES = True  # every world here runs as `run` and as `once` keep the state (tests/conftest.py)

FUTURE = (date.today() + timedelta(days=30)).isoformat()
LATER = (date.today() + timedelta(days=45)).isoformat()
TITLE = "Postmortem: queue backlog"
# hwagner in the bundled users.json: Confluence's userkey, and the key Jira Data Center gives him
HWAGNER = ("557058:ab022da7-c106-c2e7-4d21-c55521b87c0b", "hwagner", "ab022da7c106c2e74d21c55521b87c0b")
NKAUR = ("557058:f1cf1623-f9cc-a4c0-a936-7c72e691d7f1", "nkaur", "f1cf1623f9cca4c0a9367c72e691d7f1")
# Someone with a Confluence account only (no Jira account): Confluence resolves the key, Jira cannot assign.
GAIL = User("557058:6a11ab00-0000-4000-8000-000000006a11", "gghost", "6a11ab0000000000000000000000c0de", "Gail Ghost",
            "gail@example.com", products=("confluence",))
NOBODY_KEY = "deadbeefdeadbeefdeadbeefdeadbeef"  # a userkey Confluence does not know (a deleted user)


def mention(flavor: str, person: tuple[str, str, str]) -> str:
    """How an editor's @mention is stored: the accountId on Cloud, Confluence's userkey on Data Center."""
    account_id, _, userkey = person
    attribute = f'ri:account-id="{account_id}"' if flavor == "cloud" else f'ri:userkey="{userkey}"'
    return f"<ac:link><ri:user {attribute} /></ac:link>"


def page(rows: list[tuple[str, str, str]]) -> str:
    body = "".join(f"<tr><td>{summary}</td><td>{owner}</td><td><time datetime=\"{due}\" /></td></tr>"
                   for summary, owner, due in rows)
    return (f"<title>{TITLE}</title>\n<h2>Action items</h2><table><tbody>"
            f"<tr><th>Action</th><th>Owner</th><th>Due</th></tr>{body}</tbody></table>")


def issue_of(world: World, summary: str):
    """The sandbox's Jira issue with this summary (its assignee is the User Jira holds)."""
    with world.sb.state.lock:
        return next(i for i in world.sb.state.jira.issues.values() if i.summary == summary)


def add_person(world: World, user: User) -> None:
    with world.sb.state.lock:
        world.sb.state.directory.add(user)


def rendered_summary(world: World) -> str:
    """The summary page as a browser shows it (mentions rendered with the person's name)."""
    with world.sb.state.lock:
        page_id = next(p.id for p in world.sb.state.confluence.pages.values() if p.title == SUMMARY_TITLE)
    return requests.get(f"{world.url}/wiki/spaces/PM/pages/{page_id}", timeout=10).text


def kinds(result) -> list[ProblemKind]:
    return [problem.kind for problem in result.problems]


# --- Data Center userkeys ---------------------------------------------------------------------------


def test_a_datacenter_userkey_owner_is_assigned_to_the_jira_user_confluence_names(make_world):
    world = make_world({"q.xml": page([("Drain the dead-letter queue", mention("datacenter", HWAGNER), FUTURE),
                                       ("Alert on queue age", mention("datacenter", HWAGNER), FUTURE),
                                       ("Page the on-call sooner", mention("datacenter", NKAUR), FUTURE)])},
                       flavor="datacenter")
    result = world.cycle()
    assert ProblemKind.UNKNOWN_USER not in kinds(result)
    for summary, username in (("Drain the dead-letter queue", "hwagner"), ("Alert on queue age", "hwagner"),
                              ("Page the on-call sooner", "nkaur")):
        assignee = issue_of(world, summary).assignee
        assert assignee is not None and assignee.username == username and assignee.jira_key.startswith("JIRAUSER")
    stats = world.sb.stats()["by_route"]
    assert stats.get("GET /wiki/rest/api/user") == 2  # one look-up per person, not per item
    assert "GET /rest/api/2/user" not in stats  # Confluence's key is never asked of Jira
    # An edit (a new owner for an item) costs a look-up only for someone not seen before, and none next cycle.
    world.edit_page(TITLE, lambda body: body.replace(mention("datacenter", NKAUR), mention("datacenter", HWAGNER)))
    world.cycle()
    assert issue_of(world, "Page the on-call sooner").assignee.username == "hwagner"
    assert world.cycle().plan.is_empty
    assert world.sb.stats()["by_route"]["GET /wiki/rest/api/user"] == 2


def test_an_owner_jira_cannot_assign_is_reported_created_unassigned_and_named_on_the_summary(make_world):
    world = make_world({"q.xml": page([("Replay the lost messages", mention("datacenter", (
        GAIL.account_id, GAIL.username, GAIL.userkey)), FUTURE)])}, flavor="datacenter")
    add_person(world, GAIL)
    result = world.cycle()
    assert issue_of(world, "Replay the lost messages").assignee is None
    assert ProblemKind.UNKNOWN_USER in kinds(result)
    assert "Gail Ghost" in rendered_summary(world)
    assert world.cycle().plan.is_empty


def test_an_unknown_userkey_is_reported_and_its_ticket_created_unassigned(make_world):
    # Confluence renders a mention of a deleted user by the link text the page kept, if any
    nobody = (f'<ac:link><ri:user ri:userkey="{NOBODY_KEY}" /><ac:plain-text-link-body><![CDATA[Nora Gone]]>'
              '</ac:plain-text-link-body></ac:link>')
    world = make_world({"q.xml": page([("Archive the old queue", nobody, FUTURE),
                                       ("Drain the dead-letter queue", mention("datacenter", HWAGNER), FUTURE)])},
                       flavor="datacenter")
    result = world.cycle()
    unknown = [p for p in result.problems if p.kind is ProblemKind.UNKNOWN_USER]
    assert len(unknown) == 1 and NOBODY_KEY in (unknown[0].detail or "")
    assert issue_of(world, "Archive the old queue").assignee is None
    assert issue_of(world, "Drain the dead-letter queue").assignee.username == "hwagner"
    summary = world.summary_pages()[0]
    assert NOBODY_KEY in summary and "Nora Gone" in rendered_summary(world)  # still named on the summary page
    again = world.cycle()
    assert again.plan.is_empty and ProblemKind.UNKNOWN_USER not in kinds(again)


# --- updates Jira refuses -----------------------------------------------------------------------------


@pytest.mark.parametrize("flavor", FLAVORS)
def test_an_edited_due_date_lands_when_jira_refuses_the_new_assignee(make_world, flavor):
    world = make_world({"q.xml": page([("Drain the dead-letter queue", mention(flavor, HWAGNER), FUTURE)])},
                       flavor=flavor)
    world.cycle()
    with world.sb.state.lock:  # nkaur leaves: Jira keeps the account, inactive, which cannot be assigned issues
        world.sb.state.directory.add(replace(world.sb.state.directory.by_username("nkaur"), active=False))
    world.edit_page(TITLE, lambda body: body.replace(mention(flavor, HWAGNER), mention(flavor, NKAUR))
                    .replace(FUTURE, LATER))
    before = world.state.meta()["pages_seen_at"]
    second = world.cycle()
    issue = issue_of(world, "Drain the dead-letter queue")
    assert issue.duedate == date.fromisoformat(LATER)  # the rest of the edit landed
    assert issue.assignee is not None and issue.assignee.username == "hwagner"  # the refused owner did not
    assert ProblemKind.UNKNOWN_USER in kinds(second) and ProblemKind.UPDATE_FAILED not in kinds(second)
    assert world.state.meta()["pages_seen_at"] != before
    third = world.cycle()  # neither re-reported nor re-failed
    assert third.plan.is_empty and not third.problems


@pytest.mark.parametrize("flavor", FLAVORS)
def test_a_4xx_on_an_update_is_reported_once_and_does_not_hold_the_page_window(make_world, flavor):
    world = make_world({"q.xml": page([("Drain the dead-letter queue", mention(flavor, HWAGNER), FUTURE)])},
                       flavor=flavor)
    world.cycle()
    world.edit_page(TITLE, lambda body: body.replace(FUTURE, LATER))
    world.sb.inject_fault(match="PUT /rest/api/2/issue/{issueIdOrKey}", status=400, count=5)
    before = world.state.meta()["pages_seen_at"]
    second = world.cycle()
    assert kinds(second).count(ProblemKind.UPDATE_REJECTED) == 1 and ProblemKind.UPDATE_FAILED not in kinds(second)
    assert world.state.meta()["pages_seen_at"] != before  # a refusal is not work to redo
    third = world.cycle()
    assert ProblemKind.UPDATE_REJECTED not in kinds(third) and third.plan.is_empty
    world.sb.clear_faults()


@pytest.mark.parametrize("status", [429, 503])
def test_a_429_or_5xx_on_an_update_stays_transient(make_world, status):
    world = make_world({"q.xml": page([("Drain the dead-letter queue", mention("cloud", HWAGNER), FUTURE)])},
                       flavor="cloud", record_waits=True)
    world.cycle()
    world.edit_page(TITLE, lambda body: body.replace(FUTURE, LATER))
    world.sb.inject_fault(match="PUT /rest/api/2/issue/{issueIdOrKey}", status=status, count=50,
                          headers={"Retry-After": "1"} if status == 429 else None)
    before = world.state.meta()["pages_seen_at"]
    second = world.attempt()
    assert ProblemKind.UPDATE_FAILED in kinds(second) and ProblemKind.UPDATE_REJECTED not in kinds(second)
    assert world.state.meta()["pages_seen_at"] == before  # the same pages are read again
    world.sb.clear_faults()
    world.cycle()
    assert issue_of(world, "Drain the dead-letter queue").duedate == date.fromisoformat(LATER)
    labels = world.search(f"labels = {MANAGED_LABEL}", "labels")
    assert len(labels) == 1


# --- personal access tokens, per product --------------------------------------------------------------


def test_datacenter_sandbox_accepts_each_products_pat_only_on_that_product(make_world):
    world = make_world({"q.xml": page([])}, flavor="datacenter")
    jira_pat, confluence_pat = world.sb.options.pat, world.sb.options.confluence_pat
    assert jira_pat != confluence_pat
    for path, own, other in (("/rest/api/2/myself", jira_pat, confluence_pat),
                             ("/wiki/rest/api/user/current", confluence_pat, jira_pat)):
        def get(token: str, path: str = path) -> int:
            return requests.get(world.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=5).status_code
        assert (get(own), get(other)) == (200, 401), path


def run_once(world: World, settings, tmp_path) -> tuple[object, list]:
    """One cycle with these settings on a state file of their own, and what `check` says of them."""
    jira, confluence = make_adapters(settings)
    state = State.open(tmp_path / f"{len(list(tmp_path.iterdir()))}.sqlite3")
    try:
        result = run_cycle(settings, jira, confluence, state, now=world.clock)
    finally:
        state.close()
    return result, list(run_checks(settings, jira, confluence))


def test_jiras_pat_is_never_sent_to_confluence_and_a_copy_of_it_is_named_by_check(make_world, tmp_path):
    world = make_world({"q.xml": page([("Drain the dead-letter queue", mention("datacenter", HWAGNER), FUTURE)])},
                       flavor="datacenter")
    # A Data Center configuration: jira.pat only, deployment auto. Nothing reaches Confluence; cycle and check say why.
    without = replaced(world.settings_for("without"), jira={"email": None, "api_token": None},
                       confluence={"pat": None})
    result, checks = run_once(world, without, tmp_path)
    assert not result.ok and "set confluence.pat" in str(result.problems) and "per product" in str(result.problems)
    assert world.sb.stats()["by_route"].get("GET /wiki/rest/api/content/search") is None
    failed = [check for check in checks if not check.passed]
    assert failed[0].name == "confluence credentials" and "set confluence.pat" in failed[0].message, checks
    assert next(c for c in checks if c.name == "credentials").passed  # Jira accepts its own
    # confluence.pat set to a copy of Jira's: Confluence answers 401, and check names the mix-up
    copied = replaced(world.settings_for("copied"), confluence={"pat": world.settings.jira.pat})
    result, checks = run_once(world, copied, tmp_path)
    assert not result.ok and "401" in str(result.problems)
    failed = [check for check in checks if not check.passed]
    assert failed[0].name == "confluence credentials" and "(HTTP 401)" in failed[0].message, checks
    assert "per product" in failed[0].message and "not a copy of jira.pat" in failed[0].message


# --- check: the owners on real pages ----------------------------------------------------------------


@pytest.mark.parametrize("flavor", FLAVORS)
def test_check_names_owners_that_cannot_be_resolved_or_assigned(make_world, flavor):
    nobody = f'<ac:link><ri:user ri:userkey="{NOBODY_KEY}" /></ac:link>'
    gail = (GAIL.account_id, GAIL.username, GAIL.userkey)
    rows = [("Drain the dead-letter queue", mention(flavor, HWAGNER), FUTURE),
            ("Replay the lost messages", mention(flavor, gail), FUTURE)]
    rows += [("Archive the old queue", nobody, FUTURE)] if flavor == "datacenter" else []
    world = make_world({"q.xml": page(rows)}, flavor=flavor)
    add_person(world, GAIL)
    jira, confluence = make_adapters(world.settings)
    owners = [check for check in run_checks(world.settings, jira, confluence) if check.name == "owners"]
    failed = {check.message.split(" (owner", 1)[0]: check.message for check in owners if not check.passed}
    gail_named = "Gail Ghost" if flavor == "datacenter" else GAIL.account_id  # Cloud mentions carry the id only
    assert "cannot assign" in failed[gail_named]
    assert len(failed) == (2 if flavor == "datacenter" else 1), owners  # hwagner can be assigned
    if flavor == "datacenter":
        assert "Confluence does not know the userkey" in failed[f"userkey {NOBODY_KEY}"]
        assert any(c.name == "confluence credentials" and c.passed for c in run_checks(world.settings, jira,
                                                                                       confluence))
    assert world.sb.stats()["by_route"].get("POST /rest/api/2/issue/bulk") is None  # read-only


# --- sync.people, pure ------------------------------------------------------------------------------


def test_with_people_resolves_userkeys_and_says_which_it_could_not():
    from sync.models import CreateIssue, IssueFields, ItemRecord, Owner, Plan, UpdateIssue
    from sync.people import with_people
    from sync.ports import AtlassianError, PermissionDenied

    known = Owner(userkey="k1", display=None)
    people = {"k1": Owner(userkey="k1", username="hwagner", display="Hwagner")}
    asked: list[str] = []

    def lookup(key: str) -> Owner | None:
        asked.append(key)
        if key == "denied":
            raise PermissionDenied("GET rest/api/user", status=403)
        if key == "down":
            raise AtlassianError("GET rest/api/user", status=503)
        return people.get(key)

    def record(n: int) -> ItemRecord:
        return ItemRecord(item_key=f"i{n}", page_id="1", origin="row:0:1", issue_key=f"OPS-{n}", summary="s")

    plan = Plan(
        creates=(CreateIssue(record(1), IssueFields(summary="a", assignee=known), False),
                 CreateIssue(record(2), IssueFields(summary="b", assignee=Owner(account_id="557058:x")), False)),
        updates=(UpdateIssue(record(3), {"assignee": Owner(userkey="gone"), "due": None}),
                 UpdateIssue(record(4), {"assignee": Owner(userkey="denied")})),
    )
    resolved, problems = with_people(plan, lookup)
    assert resolved.creates[0].fields.assignee == Owner(userkey="k1", username="hwagner", display="Hwagner")
    assert resolved.creates[1] is plan.creates[1]  # an accountId needs no look-up
    assert resolved.updates[0].changes == {"due": None}  # the assignee is left alone, the rest goes
    assert resolved.updates[1].changes == {}
    assert [(p.kind, p.subject) for p in problems] == [(ProblemKind.UNKNOWN_USER, "i3"),
                                                        (ProblemKind.UNKNOWN_USER, "i4")]
    assert asked == ["k1", "gone", "denied"]
    with pytest.raises(AtlassianError):  # may work next time: nothing is written this cycle
        with_people(Plan(creates=(CreateIssue(record(5), IssueFields(summary="c", assignee=Owner(userkey="down")),
                                              False),)), lookup)


def test_a_final_reminder_mentions_a_data_center_postmortem_owner_by_the_username_confluence_gives():
    """The page's owner field names a userkey (Confluence's): Jira mentions people by username."""
    owner, stranger = Owner(userkey="8a7f808a7b1c2d3e017b1c2d3e4f0001"), Owner(userkey="ffff", display="Nora Gone")
    reminder = SendReminder(issue_key="OPS-1", page_id="7", step=4, final=True, label="pmsync-reminded-final-20261202",
                            comment=("Overdue. ", owner, " and ", stranger, " (postmortem owners)."))
    known = {owner.userkey: Owner(userkey=owner.userkey, username="hwagner", display="H. Wagner")}
    plan, problems = with_people(Plan(reminders=(reminder,)), known.get)
    comment = plan.reminders[0].comment
    assert comment[1] == Owner(userkey=owner.userkey, username="hwagner", display="H. Wagner")
    assert comment[3] == "Nora Gone"  # nobody to mention: named as the page named them
    assert [p.kind for p in problems] == [ProblemKind.UNKNOWN_USER]
