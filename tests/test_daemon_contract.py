"""The daemon's own HTTP traffic, checked against Atlassian's official OpenAPI specs, in both flavours,
and on Cloud once more as a scoped API token meets it: through the API gateway, v1 content retired.

One scripted run per flavour (`drive_every_route`) takes the real adapters through the sandbox: first
sync with epics, sprint and write-back; page edits; a Jira-side Done; a removed item coming back; a
deleted page; write-back off (remote links); overdue reminders; an over-long JQL; the `check` command;
the lease release.
Every exchange of every client the adapters build (deployment detection included) is recorded, and:

  * no exchange may violate the spec (nor send a query parameter it does not declare), except those
    listed with a reason in KNOWN_VIOLATIONS (and, where v1 content is retired, its 410 Gone, which
    the v1 spec does not declare);
  * the routes seen must be exactly EXPECTED_ROUTES for the variant, so a route the daemon starts or
    stops using shows up here;
  * every REST path spelt out in sync/atlassian/ must be an expected route or in NOT_EXERCISED, so a
    new adapter call without a scenario shows up too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from sync.atlassian import ClientOptions, make_adapters
from sync.atlassian.jira import MAX_GET_JQL_LENGTH
from sync.checks import run_checks
from sync.cycle import CycleResult
from sync.lease import release
from sync.problems import ProblemKind
from sync.query import jql_quote, managed_jql
from sync.settings import Settings
from tests.harness import ROOT, World, replaced, running_world
from tests.openapi_contract import (
    ContractViolation,
    Exchange,
    api_path,
    load_spec,
    recording,
    spec_for_path,
    validate_exchange,
)

FUTURE = (date.today() + timedelta(days=30)).isoformat()
LATER = (date.today() + timedelta(days=60)).isoformat()
PAST = (date.today() - timedelta(days=10)).isoformat()
ALICE = ("557058:ab022da7-c106-c2e7-4d21-c55521b87c0b", "hwagner", "ab022da7c106c2e74d21c55521b87c0b")
BOB = ("557058:f1cf1623-f9cc-a4c0-a936-7c72e691d7f1", "nkaur", "f1cf1623f9cca4c0a9367c72e691d7f1")
MISSING_KEY = "OPS-404"  # named on a page, never created: the daemon looks it up and reports it
MAIN_PAGE, OTHER_PAGE = "Postmortem: cache stampede", "Postmortem: dns blip"

_COMMON_ROUTES = {
    "GET /rest/api/2/serverInfo",  # deployment detection (anonymous) and `check`
    "GET /rest/api/2/issue/{issueIdOrKey}",  # a key named on a page that the search did not return
    "POST /rest/api/2/issue/bulk",
    "PUT /rest/api/2/issue/{issueIdOrKey}",  # field changes, removed-label add and remove, reminders
    "GET /rest/api/2/issue/createmeta/{projectIdOrKey}/issuetypes",  # `check`: the create screen's fields
    "GET /rest/api/2/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}",
    "GET /rest/api/2/issue/{issueIdOrKey}/transitions",  # with their screens; `check`: the Done transition
    "GET /rest/api/2/issue/{issueIdOrKey}/editmeta",  # `check`: the edit screen of a managed issue
    "POST /rest/api/2/issue/{issueIdOrKey}/transitions",
    "POST /rest/api/2/issue/{issueIdOrKey}/comment",
    "POST /rest/api/2/issue/{issueIdOrKey}/remotelink",
    "GET /rest/agile/1.0/board/{boardId}/sprint",
    "POST /rest/agile/1.0/sprint/{sprintId}/issue",
    "GET /wiki/rest/api/content/search",  # CQL: v1 on both deployments (v2 has no CQL)
    "PUT /wiki/rest/api/content/{id}",  # write-back, ticked tasks, summary page: minor edits (v1 on Cloud too)
    "GET /rest/api/2/myself",  # `check`: the account's time zone
    "GET /wiki/rest/api/search",  # `check`: how many pages the configured CQL selects (totalSize)
    "GET /rest/api/2/user/assignable/search",  # `check`: may the owners on the pages be assigned issues
}
_V1_PAGES = {  # Data Center's page calls
    "GET /wiki/rest/api/content",  # the summary page by title
    "POST /wiki/rest/api/content",
    "GET /wiki/rest/api/content/{id}",  # a page gone from the full search (status=any); `check`: may we edit
    "GET /wiki/rest/api/content/{id}/property/{key}",  # the write lease
    "POST /wiki/rest/api/content/{id}/property",
    "PUT /wiki/rest/api/content/{id}/property/{key}",
}
_V2_PAGES = {  # Cloud's, where v1 content is deprecated
    "GET /wiki/api/v2/spaces",  # the summary page's space id, asked once
    "GET /wiki/api/v2/pages",  # the summary page by title
    "POST /wiki/api/v2/pages",
    "GET /wiki/api/v2/pages/{id}",  # a page gone from the full search
    "GET /wiki/api/v2/pages/{id}/operations",  # `check`: may we edit the summary
    "GET /wiki/api/v2/pages/{page-id}/properties",  # the write lease, by key
    "POST /wiki/api/v2/pages/{page-id}/properties",
    "PUT /wiki/api/v2/pages/{page-id}/properties/{property-id}",
}
_CLOUD = _COMMON_ROUTES | _V2_PAGES | {
    "GET /rest/api/3/search/jql", "POST /rest/api/3/search/jql",
    "GET /wiki/rest/api/content",  # `check`: whether v1 content answers (410 where it is retired)
    "GET /wiki/rest/api/user/current",  # our account id, for the permission check below (asked once)
    "POST /wiki/rest/api/content/{id}/permission/check",  # a page answering 404: purged, or hidden from us?
}
EXPECTED_ROUTES = {
    "cloud": _CLOUD,
    # v1's PUT is still tried, and answers 410 once per run
    # (through the gateway there is no detection, only Cloud is there; serverInfo is `check`'s)
    "cloud-v1-gone": _CLOUD | {
        "PUT /wiki/api/v2/pages/{id}",  # minor edits once v1 answered 410: major edits, the only kind v2 has
    },
    "datacenter": _COMMON_ROUTES | _V1_PAGES | {
        "GET /rest/api/2/search", "POST /rest/api/2/search",
        "GET /wiki/rest/api/user",  # a ri:userkey owner: Confluence's key, resolved to the username Jira takes
        "GET /wiki/rest/api/user/current",  # `check`: Confluence accepts its own personal access token
        "POST /rest/agile/1.0/epic/{epicIdOrKey}/issue",  # Cloud sets `parent` in the create instead
        "GET /rest/api/2/field",  # the Epic Name field's id: an epic needs one on Data Center
    },
}
# The statuses a variant answers that the spec does not declare, and why they are right.
ALLOWED_STATUS = {"cloud-v1-gone": (410,)}  # Confluence Cloud's retired v1 routes (docs/atlassian-behaviours.md)

# REST paths in sync/atlassian/ that no scenario reaches, each with the reason.
NOT_EXERCISED: dict[str, str] = {}

# Exchanges that violate the spec today, keyed by (flavour, route), each with what is wrong and where
# it is built. Listed here, they keep the suite green while staying visible; any other violation fails,
# and so does an entry that no longer occurs.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {
    ("datacenter", "GET /wiki/rest/api/user"): (
        "Confluence Data Center looks a user up by ?key= (its userkey; sync/atlassian/confluence.py `person`), "
        "which Confluence Cloud's v1 spec, the only one published, replaced by a required ?accountId="),
}


def mention(flavor: str, person: tuple[str, str, str], *, by_key: bool = False) -> str:
    account_id, username, userkey = person
    if flavor == "cloud":
        attribute = f'ri:account-id="{account_id}"'
    else:
        attribute = f'ri:userkey="{userkey}"' if by_key else f'ri:username="{username}"'
    return f"<ac:link><ri:user {attribute} /></ac:link>"


def row(summary: str, owner: str, due: str, kind: str = "Fix", status: str = "Open") -> str:
    return (f'<tr><td>{summary}</td><td>{owner}</td><td><time datetime="{due}" /></td>'
            f'<td>{kind}</td><td>{status}</td></tr>')


def task(task_id: int, status: str, text: str) -> str:
    return (f"<ac:task><ac:task-id>{task_id}</ac:task-id><ac:task-status>{status}</ac:task-status>"
            f"<ac:task-body>{text}</ac:task-body></ac:task>")


def main_page(flavor: str) -> str:
    """Three open rows (one overdue, one naming an issue that does not exist), one done row, two tasks."""
    alice, bob = mention(flavor, ALICE), mention(flavor, BOB, by_key=True)
    missing = (f'Track the cache fleet <ac:structured-macro ac:name="jira" ac:schema-version="1">'
               f'<ac:parameter ac:name="key">{MISSING_KEY}</ac:parameter></ac:structured-macro>')
    return (f"<title>{MAIN_PAGE}</title>\n<h2>Action items</h2><table><tbody>"
            "<tr><th>Action</th><th>Owner</th><th>Due</th><th>Type</th><th>Status</th></tr>"
            + row("Add request coalescing", alice, FUTURE)
            + row("Alert on hit ratio", bob, PAST, "Detect")
            + row("Write the runbook", alice, FUTURE, "Respond")
            + row("Retire the old cache", bob, FUTURE, "Prevent", "Done")
            + row(missing, alice, FUTURE)
            + "</tbody></table><h3>Follow-ups</h3><ac:task-list>"
            + task(1, "incomplete", f'Load test {bob} <time datetime="{FUTURE}" />')
            + task(2, "incomplete", f'Share the timeline {alice} <time datetime="{FUTURE}" />')
            + "</ac:task-list>\n")


def other_page(flavor: str) -> str:
    return (f"<title>{OTHER_PAGE}</title>\n<h2>Action items</h2><table><tbody>"
            "<tr><th>Action</th><th>Owner</th><th>Due</th></tr>"
            f"<tr><td>Pin the resolver</td><td>{mention(flavor, ALICE)}</td><td>{FUTURE}</td></tr></tbody></table>")


@dataclass
class Traffic:
    """What one variant's run sent: every exchange of the daemon's clients, in order."""

    flavor: str
    exchanges: list[Exchange]


def route_template(exchange: Exchange) -> str:
    """'METHOD /path/{param}' as the governing spec names it (the most literal matching path), on the site."""
    method, path = exchange.request.method or "", api_path(urlsplit(exchange.request.url).path)
    info = spec_for_path(path)
    if info is None:
        return f"{method} {path}"
    server = info.server.rstrip("/")  # v2's spec keys its paths below /wiki/api/v2
    paths = load_spec(info.name).spec / "paths"
    # SIM118 is wrong here: `paths` is a jsonschema-path SchemaPath, not a dict; iterating it yields child paths.
    matching = [template for template in paths.keys()  # noqa: SIM118
                if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(server + template)), path)
                and method.lower() in (paths / template).keys()]  # noqa: SIM118
    return f"{method} {server}{min(matching, key=lambda t: t.count('{'))}" if matching else f"{method} {path}"


def undeclared_query_parameters(exchange: Exchange) -> list[str]:
    """Query parameters the operation does not declare (openapi-core lets them through; Jira ignores a typo)."""
    url = urlsplit(exchange.request.url)
    info = spec_for_path(url.path)
    method, template = route_template(exchange).split(" ", 1)
    paths = load_spec(info.name).spec / "paths" if info else None
    template = template.removeprefix(info.server.rstrip("/")) if info else template  # v2: keys below its server
    if paths is None or template not in paths:
        return []  # not an Atlassian call, or a path validate_exchange already reports
    declared = set()
    for node in (paths / template, paths / template / method.lower()):
        for parameter in (node / "parameters" if "parameters" in node else ()):
            with parameter.open() as contents:  # resolves a $ref
                declared.add(contents["name"])
    return sorted({name for name, _ in parse_qsl(url.query)} - declared)


def violations(traffic: Traffic) -> dict[str, str]:
    """route -> the first violation seen on it: the spec's own check, then undeclared query parameters."""
    found: dict[str, str] = {}
    for exchange in traffic.exchanges:
        try:
            validate_exchange(exchange.request, exchange.response, ALLOWED_STATUS.get(traffic.flavor, ()))
        except ContractViolation as exc:
            found.setdefault(route_template(exchange), str(exc))
        undeclared = undeclared_query_parameters(exchange)
        if undeclared:
            found.setdefault(route_template(exchange), f"query parameters the spec does not declare: {undeclared}")
    return found


# --- the scripted run -----------------------------------------------------------------------------


def cycle(world: World, settings: Settings, **sync_changes: Any) -> CycleResult:
    """One cycle with fresh adapters (as after a restart with this configuration); it must succeed
    and report no failed or interrupted step."""
    world.daemon.restart(replaced(settings, sync=sync_changes) if sync_changes else settings)
    result = world.cycle()
    failures = [p for p in result.problems if "-failed" in str(p) or "-interrupted" in str(p)]
    assert not failures, result.problems
    return result


def drive_every_route(world: World) -> None:
    """The scenarios, in order; each step names the routes it is there for."""
    configured = world.settings
    # creates, epics (DC: agile epic move), sprint, done-on-the-page transition, write-back, summary
    # page and lease; the missing key: search by key (400) then GET issue (404)
    first = cycle(world, configured)
    assert len(first.applied.created) == 7 and first.applied.written_back == 2
    unresolved = [p for p in first.problems if p.kind is ProblemKind.UNRESOLVED_KEY and p.subject == MISSING_KEY]
    assert unresolved, first.problems

    # page edits: summary, owner and due (PUT issue); a row removed (flag: PUT labels + comment);
    # a task ticked on the page (transition, the done transition cached or read again)
    removed = re.search(r"<tr><td>Write the runbook.*?</tr>", world.page(MAIN_PAGE)["body"]["storage"]["value"])[0]
    alice = mention(world.flavor, ALICE)

    def edit(body: str) -> str:
        body = body.replace("Add request coalescing", "Add request coalescing everywhere").replace(removed, "")
        body = re.sub(r"(<tr><td>Alert on hit ratio.*?</td><td>).*?</td><td><time datetime=\"" + PAST,
                      lambda m: m[1] + alice + '</td><td><time datetime="' + LATER, body)
        return body.replace("<ac:task-id>1</ac:task-id><ac:task-status>incomplete",
                            "<ac:task-id>1</ac:task-id><ac:task-status>complete")

    world.edit_page(MAIN_PAGE, edit)
    second = cycle(world, configured)
    assert len(second.plan.updates) == 2 and second.applied.flagged == 1 and second.applied.transitioned == 1

    # Done in Jira: the task is ticked on the page (PUT content), the summary page updated
    world.transition_done(world.issue("Share the timeline").key)
    third = cycle(world, configured)
    assert third.applied.written_back == 1 and third.summary_written

    # the removed row comes back: unflag (PUT labels remove)
    world.edit_page(MAIN_PAGE, lambda body: body.replace("</tbody>", removed + "</tbody>", 1))
    assert len(cycle(world, configured).plan.unflags) == 1

    # a page deleted, seen by a full reconcile: GET content/{id} answers 404
    world.confluence_client.delete(f"rest/api/content/{world.page(OTHER_PAGE)['id']}")
    assert any(p.kind is ProblemKind.PAGE_DELETED for p in cycle(world, configured, full_reconcile_every=1).problems)

    # write-back off: a new item gets a remote link to its page instead
    no_write_back = world.settings_for(write_back=False)
    world.edit_page(MAIN_PAGE, lambda body: body.replace(
        "</tbody>", row("Document the cache tiers", alice, FUTURE) + "</tbody>", 1))
    assert len(cycle(world, no_write_back).applied.created) == 1

    jira, confluence = make_adapters(configured)
    # a JQL too long for a URL is POSTed to the search route (MAX_GET_JQL_LENGTH)
    padding = " or summary ~ " + jql_quote("x" * MAX_GET_JQL_LENGTH)
    list(jira.search(managed_jql(configured.jira.project, None).replace(" order by", padding + " order by")))
    # `postmortem-sync check`, as sync.cli._cmd_check runs it
    # (before the clock moves on: `check` compares the servers' clocks with ours)
    assert [check for check in run_checks(configured, jira, confluence) if not check.passed] == []
    # two months on, reminders on: each overdue issue gets its comment and step label in one edit (PUT issue)
    world.clock.offset += timedelta(days=61)
    reminded = cycle(world, replaced(configured, reminders={"enabled": True}))
    assert reminded.applied.reminded and all(not r.final for r in reminded.applied.reminded)
    # a page hidden by a view restriction, seen by a full reconcile: 404 even with status=any (v1) or on v2;
    # on Cloud the permission check for ourselves (our account id from user/current) says it exists
    world.sb.restrict_page_view(world.page_id(MAIN_PAGE))
    world.daemon.restart(replaced(configured, sync={"full_reconcile_every": 1}))
    hidden = world.cycle()
    assert [p.kind for p in hidden.problems if p.subject == world.page_id(MAIN_PAGE)] == [
        ProblemKind.PAGE_CHECK_FAILED] and not hidden.plan.flags
    # shutdown: the lease is released (GET + PUT property)
    release(confluence, world.state, datetime.now(UTC))


@pytest.fixture(scope="module", params=["cloud", "datacenter", "cloud-v1-gone"])
def traffic(request, tmp_path_factory) -> Iterator[Traffic]:
    """One scripted run per variant with every client the adapters build recorded (not yet validated)."""
    variant = request.param
    flavor, v1_gone = variant.removesuffix("-v1-gone"), variant.endswith("-v1-gone")
    pages = {"main.xml": main_page(flavor), "other.xml": other_page(flavor)}
    logs: list[list[Exchange]] = []
    with pytest.MonkeyPatch.context() as patch, ExitStack() as stack:
        for name in ("jira", "confluence"):
            patch.setattr(ClientOptions, name, _recorded(getattr(ClientOptions, name), stack, logs))
        with running_world(tmp_path_factory.mktemp(f"contract-{variant}"), pages, flavor=flavor, epics=True,
                           v1_content_gone=v1_gone) as world:
            drive_every_route(world)
    return Traffic(variant, [exchange for log in logs for exchange in log])


def _recorded(build, stack, logs: list[list[Exchange]]):
    """ClientOptions.jira/.confluence, with each client built entered into `recording` (no validation yet)."""

    def build_recorded(self, *args, **kwargs):
        client = build(self, *args, **kwargs)
        logs.append(stack.enter_context(recording(client, validate=False)))
        return client

    return build_recorded


# --- the tests ------------------------------------------------------------------------------------


def test_every_request_the_daemon_sends_matches_the_official_specs(traffic):
    found = violations(traffic)
    known = {route: reason for (flavor, route), reason in KNOWN_VIOLATIONS.items() if flavor == traffic.flavor}
    new = {route: message for route, message in found.items() if route not in known}
    assert not new, "\n\n".join(f"{route}:\n{message}" for route, message in new.items())
    fixed = sorted(set(known) - set(found))
    assert not fixed, f"no longer violating, remove from KNOWN_VIOLATIONS: {fixed}"


def test_the_run_covers_exactly_the_expected_routes(traffic):
    seen = {route_template(exchange) for exchange in traffic.exchanges}
    expected = EXPECTED_ROUTES[traffic.flavor]
    assert not expected - seen, f"expected but not exercised: {sorted(expected - seen)}"
    assert not seen - expected, f"new routes, add them to EXPECTED_ROUTES: {sorted(seen - expected)}"


def test_every_rest_path_in_the_adapters_is_an_expected_route():
    source = "\n".join(path.read_text() for path in sorted((ROOT / "sync" / "atlassian").glob("*.py")))
    spelt = {re.sub(r"\{[^}]*\}", "{}", path) for path in re.findall(r'"((?:rest|api/v2)/[^"]*)"', source)}
    # Confluence's v1 paths carry no version number (rest/api/content, rest/api/user); Jira's do (rest/api/2/…)
    in_adapters = {("/wiki/" if re.match(r"(rest/api/(?!\d)|api/v2/)", path) else "/") + path for path in spelt}
    expected = {re.sub(r"\{[^}]*\}", "{}", route.split(" ", 1)[1])
                for routes in EXPECTED_ROUTES.values() for route in routes}
    assert in_adapters - expected - set(NOT_EXERCISED) == set()
    assert set(NOT_EXERCISED) <= in_adapters, "NOT_EXERCISED names a path the adapters no longer use"
