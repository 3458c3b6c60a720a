"""Themes, recurrence, one owner row per person, a total order in every table, scoped pages, the plan table by
title, and the seed line of example pages: pure functions, by hand counts."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from sandbox.seed import SeedError, read_seed_pages, split_seed_line
from sync.metrics import TrackedItem, compute_metrics
from sync.models import (
    ActionItem,
    CreateIssue,
    IssueFields,
    ItemRecord,
    Owner,
    PageMeta,
    Plan,
    Postmortem,
    SummaryPage,
    UpdateIssue,
)
from sync.plan_view import render_plan_table
from sync.report import render_summary_page
from sync.settings import ScopedSummaryPage, Settings
from sync.summaries import in_scope, plan_scoped
from sync.themes import page_themes, services

BOTH_PROCESSES = True  # every world here runs as `run` and as `once` keep the state (tests/conftest.py)

TODAY = date(2026, 6, 15)
REPO = Path(__file__).resolve().parents[1]


def item(page: str, day: date, *, themes=("payments",), done=False, resolved=None, owner="Alice", key="acc-1",
         summary="Fix it", due=date(2026, 7, 1)) -> TrackedItem:
    return TrackedItem(page_title=page, page_url=f"https://wiki/{page}", incident_date=day, severity=None,
                       team="Payments", summary=summary, owner=owner, due=due, type="Fix", issue_key="OPS-1",
                       done=done, created=None, resolved=resolved, owner_key=key,
                       owner_mention=Owner(account_id=key) if key else None, page_id=page, space="PM",
                       labels=("postmortem", *themes), themes=themes, page_date=day)


def test_themes_are_labels_but_the_selecting_and_ours_plus_the_services():
    pm = Postmortem(title="PM", labels=("postmortem", "Payments", "pmsync-page-7", "tls"),
                    meta=PageMeta(service="orders-api, orders-db (PostgreSQL 15); checkout"))
    assert page_themes(pm, ("postmortem",)) == ("checkout", "orders-api", "orders-db", "payments", "tls")
    assert services(None) == [] and services("blobstore-gateway and media-upload") == ["blobstore-gateway",
                                                                                      "media-upload"]


def test_a_theme_recurs_within_the_window_and_says_whether_the_earlier_items_were_done_first():
    rows = [item("A", date(2026, 1, 15), done=True, resolved=date(2026, 2, 1)),
            item("A", date(2026, 1, 15), done=True, resolved=date(2026, 2, 25)),  # after B happened
            item("B", date(2026, 2, 20), done=True, resolved=date(2026, 3, 1)),
            item("C", date(2026, 4, 1)),
            item("Z", date(2026, 1, 1), themes=("dns",)), item("Y", date(2026, 5, 1), themes=("dns",))]
    m = compute_metrics(rows, TODAY, recurrence_days=90)
    (payments,) = m.recurring  # dns: 120 days apart, not recurring
    assert payments.theme == "payments"
    assert [(i.title, i.items, i.done, i.done_before_next) for i in payments.incidents] == [
        ("A", 2, 2, False), ("B", 1, 1, True), ("C", 1, 0, None)]
    assert {t.theme: (t.postmortems, t.tally.total, t.tally.done) for t in m.by_theme} == {
        "dns": (2, 2, 0), "payments": (3, 4, 3)}
    assert compute_metrics(rows, TODAY, recurrence_days=30).recurring == ()  # 36 and 40 days apart


def test_one_person_is_one_owner_row_whatever_link_text_their_mentions_have():
    rows = [item("A", date(2026, 1, 15), owner="Alice"), item("A", date(2026, 1, 15), owner="acc-1"),
            item("B", date(2026, 2, 1), owner="Bob", key="acc-2"),
            item("B", date(2026, 2, 1), owner="Bob", key="acc-9")]
    m = compute_metrics(rows, TODAY)
    assert [(name, t.total) for name, t in m.by_owner] == [("Alice", 2), ("Bob", 1), ("Bob (acc-9)", 1)]
    assert dict(m.mentions)["Alice"] == Owner(account_id="acc-1")  # the mention, without any link text


def test_every_table_has_the_same_order_whatever_order_the_items_come_in():
    rows = [item(f"PM {n % 4}", date(2026, 1 + n % 5, 1), owner=f"Owner {n % 3}", key=f"acc-{n % 3}",
                 summary=f"Item {n}", due=date(2026, 5, 1 + n % 7), themes=(f"t{n % 2}", "common"))
            for n in range(30)]
    rows += [replace(rows[0], page_url="https://wiki/other", summary="same title, another page")]
    first = compute_metrics(rows, TODAY)
    for seed in range(5):
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        again = compute_metrics(shuffled, TODAY)
        assert again == first and render_summary_page(again) == render_summary_page(first)


def test_owners_are_ordered_by_overdue_then_open_then_id_not_by_a_name_jira_learns_later():
    late = [item("A", date(2026, 1, 1), owner="zed", key="acc-z", due=date(2026, 6, 1))]
    rows = [*late, item("A", date(2026, 1, 1), owner="acc-b", key="acc-b"),
            item("A", date(2026, 1, 1), owner="acc-a", key="acc-a")]
    named = [replace(r, owner={"acc-a": "Zoe", "acc-b": "Adam"}.get(r.owner_key or "", r.owner)) for r in rows]
    order = [t.total for _, t in compute_metrics(rows, TODAY).by_owner]
    assert [n for n, _ in compute_metrics(rows, TODAY).by_owner] == ["zed", "acc-a", "acc-b"]
    assert [n for n, _ in compute_metrics(named, TODAY).by_owner] == ["zed", "Zoe", "Adam"] and order == [1, 1, 1]


def test_a_scoped_page_holds_its_scope_and_is_planned_only_when_its_content_changed():
    settings = Settings(jira={"url": "https://acme.atlassian.net", "email": "a@b.c", "api_token": "t",
                              "project": "OPS"},
                        confluence={"url": "https://acme.atlassian.net/wiki", "spaces": ["PM"]},
                        summary_pages=[{"title": "Payments", "themes": ["Payments"], "teams": ["payments"]}])
    scope = settings.summary_pages[0]
    rows = [item("A", date(2026, 1, 15)), item("B", date(2026, 2, 1), themes=("dns",))]
    assert [in_scope(r, scope) for r in rows] == [True, False]
    assert not in_scope(rows[0], ScopedSummaryPage(title="x", cql="label = x"))  # CQL not searched: out
    assert in_scope(rows[0], ScopedSummaryPage(title="x", cql="label = x"), frozenset({"A"}))
    where = SummaryPage("PM", "Payments")
    change = plan_scoped(rows, scope, where, TODAY, {}, settings)
    assert change is not None and "Scope: themes Payments; teams payments." in change.body
    assert ">B<" not in change.body and ">A<" in change.body
    remembered = {"scoped_summary_digest:PM:Payments": change.digest}
    assert plan_scoped(rows, scope, where, TODAY, remembered, settings) is None
    assert plan_scoped([*rows[:1], replace(rows[0], done=True)], scope, where, TODAY, remembered, settings)


def test_summary_pages_settings_are_checked():
    base = {"jira": {"url": "https://acme.atlassian.net", "email": "a@b.c", "api_token": "t", "project": "OPS"},
            "confluence": {"url": "https://acme.atlassian.net/wiki", "spaces": ["PM"]}}
    assert Settings(**base).themes.recurrence_days == 90
    with pytest.raises(ValidationError, match="duplicate summary page titles"):
        Settings(**base, summary_pages=[{"title": "T"}, {"title": "T"}])
    with pytest.raises(ValidationError, match="ORDER BY"):
        Settings(**base, summary_pages=[{"title": "T", "cql": "label = x order by created"}])


def test_the_plan_table_names_pages_by_title_and_prints_only_details_that_say_something():
    record = ItemRecord("k1", "100", "row:0:1", None, "Add the alert")
    plan = Plan(creates=(CreateIssue(record, IssueFields("Add the alert", assignee=Owner(account_id="acc-1"),
                                                         due=date(2026, 7, 1)), mark_done=False),
                         CreateIssue(replace(record, item_key="k2", page_id="200"), IssueFields("No owner"),
                                     mark_done=False)),
                updates=(UpdateIssue(replace(record, issue_key="OPS-1"), {"due": date(2026, 8, 1)}),))
    table = render_plan_table(plan, {"100": "Postmortem: cache stampede"})
    assert "None" not in table
    lines = table.splitlines()
    assert lines[1].split() == ["create", "Postmortem:", "cache", "stampede", "Add", "the", "alert", "owner",
                                "acc-1,", "due", "2026-07-01"]
    assert "page 200" in lines[2] and lines[2].rstrip().endswith("No owner")  # no title known: the id; no details
    assert lines[3].rstrip().endswith("changes due")


def test_the_seed_line_gives_labels_and_a_creation_time_and_leaves_the_body():
    body = '<p>Incident on <time datetime="2026-02-11" /></p>'
    labels, created, rest = split_seed_line(f"<!-- seed: labels=Database, storage; created=incident+2d -->\n{body}",
                                            Path("x.xml"))
    assert (labels, created, rest) == (("database", "storage"), datetime(2026, 2, 13, 9, tzinfo=UTC), body)
    assert split_seed_line("<!-- seed: created=2026-01-29+12h -->\n<p/>", Path("x.xml"))[1] == datetime(
        2026, 1, 29, 21, tzinfo=UTC)
    assert split_seed_line("<!-- seed: incident=2026-03-01; created=incident-1d -->\n<p/>", Path("x.xml"))[1] == \
        datetime(2026, 2, 28, 9, tzinfo=UTC)
    assert split_seed_line(body, Path("x.xml")) == ((), None, body)
    for wrong in ("colour=red", "created=yesterday", "created=incident+1d"):
        with pytest.raises(SeedError, match=r"x\.xml"):
            split_seed_line(f"<!-- seed: {wrong} -->\n<p/>", Path("x.xml"))


def test_the_examples_carry_themes_and_two_recur():
    pages = read_seed_pages(REPO / "sandbox" / "examples")
    assert all(page.labels for page in pages) and all("<!-- seed" not in page.body for page in pages)
    by_theme: dict[str, int] = {}
    for page in pages:
        for label in page.labels:
            by_theme[label] = by_theme.get(label, 0) + 1
    assert sorted(theme for theme, count in by_theme.items() if count > 1) == ["payments", "tls"]


def test_a_postmortem_without_an_incident_date_counts_in_the_month_its_page_was_created():
    from sync.metrics import tracked_items

    pm = Postmortem(title="PM", items=(ActionItem("Fix", origin="row:0:1"),), page_id="7",
                    created=datetime(2026, 3, 2, tzinfo=UTC), labels=("postmortem", "dns"))
    (row,) = tracked_items([pm], {}, {}, selecting=("postmortem",))
    assert (row.page_date, row.themes) == (date(2026, 3, 2), ("dns",))
    trend = {t.month: t.items for t in compute_metrics([row], TODAY).trend}
    assert trend["2026-03"] == 1 and sum(trend.values()) == 1
