"""The postmortem quality rules (sync.quality), each on both sides, and the vague-item rule by property."""

from __future__ import annotations

import string
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.models import ActionItem, Owner, PageMeta, Postmortem
from sync.parser import parse_page
from sync.quality import (
    CODES,
    DEFAULT_VAGUE_PHRASES,
    QualityRules,
    assess,
    assess_pages,
    has_measurable_object,
    human_error_mentions,
    is_vague,
)
from sync.settings import QualitySettings

RULES = QualityRules()
INCIDENT = date(2026, 3, 1)
ADA = Owner(account_id="557058:ada", display="Ada")


def item(summary: str = "Alert when checkout errors exceed 1% for 5 minutes", *, owner: Owner | None = ADA,
         due: date | None = date(2026, 3, 20)) -> ActionItem:
    return ActionItem(summary=summary, owner=owner, due=due)


def page(*items: ActionItem, incident: date | None = INCIDENT, created: datetime | None = None,
         root_cause: str = "", problems: tuple[str, ...] = (), title: str = "Postmortem") -> Postmortem:
    return Postmortem(title=title, items=items, meta=PageMeta(incident_date=incident), problems=problems,
                      created=created or datetime(2026, 3, 3, 9, tzinfo=UTC), root_cause_text=root_cause)


def codes(pm: Postmortem, rules: QualityRules = RULES) -> list[str]:
    return [finding.code for finding in assess(pm, rules)]


def test_a_good_postmortem_has_no_findings():
    assert assess(page(item(), item("Add a synthetic TLS probe for api.edge from 3 regions")), RULES) == ()


# --- counts -----------------------------------------------------------------------------------------


def test_no_action_items_says_why():
    none_listed = assess(page(), RULES)
    no_section = assess(page(problems=("no-action-section",)), RULES)
    assert [f.code for f in none_listed] == [f.code for f in no_section] == ["no-action-items"]
    assert "lists none" in none_listed[0].sentence and "no action-item section" in no_section[0].sentence


@pytest.mark.parametrize(("count", "found"), [(1, False), (10, False), (11, True), (30, True)])
def test_too_many_items_above_max_items(count, found):
    pm = page(*[item(f"Alert {n}: checkout errors over 1%") for n in range(count)])
    assert ("too-many-items" in codes(pm)) is found


def test_max_items_is_configurable():
    pm = page(*[item(f"Alert {n}: checkout errors over 1%") for n in range(4)])
    assert "too-many-items" in codes(pm, QualityRules(max_items=3))
    assert "too-many-items" not in codes(pm, QualityRules(max_items=4))


# --- owner and due date -----------------------------------------------------------------------------


def test_items_without_owner_or_due_date_are_named():
    pm = page(item("Rotate the api.edge key", owner=None), item("Pin libssl to 3.0", due=None), item())
    found = {f.code: f for f in assess(pm, RULES)}
    assert set(found) == {"item-without-owner", "item-without-due"}
    assert found["item-without-owner"].items == ("Rotate the api.edge key",)
    assert found["item-without-owner"].sentence.startswith("1 of 3 action items has no owner: “Rotate")
    assert found["item-without-due"].items == ("Pin libssl to 3.0",)


def test_a_plain_text_owner_is_an_owner():
    assert codes(page(item(owner=Owner(display="the platform team")))) == []


def test_a_long_list_of_named_items_is_clipped_in_the_sentence_but_whole_in_items():
    pm = page(*[item(f"Task {n} " + "x" * 80, owner=None) for n in range(6)])
    finding = assess(pm, RULES)[0]
    assert finding.code == "item-without-owner" and len(finding.items) == 6
    assert "and 3 more" in finding.sentence and "…" in finding.sentence


# --- due dates against the incident -----------------------------------------------------------------


@pytest.mark.parametrize(("due", "code"), [
    (date(2026, 2, 28), "due-before-incident"),
    (date(2026, 3, 1), None),  # the day of the incident itself is fine
    (date(2026, 8, 28), None),  # 180 days after
    (date(2026, 8, 29), "due-too-late"),  # 181 days after
])
def test_due_dates_are_checked_against_the_incident(due, code):
    found = [c for c in codes(page(item(due=due))) if c.startswith("due-")]
    assert found == ([code] if code else [])


def test_due_date_rules_need_an_incident_date():
    assert codes(page(item(due=date(2020, 1, 1)), item(due=date(2030, 1, 1)), incident=None)) == []


def test_max_due_days_is_configurable():
    pm = page(item(due=date(2026, 3, 31)))
    assert codes(pm, QualityRules(max_due_days=29)) == ["due-too-late"]
    assert codes(pm, QualityRules(max_due_days=30)) == []


# --- publishing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("created", "late"), [
    (datetime(2026, 3, 1, 23, tzinfo=UTC), False),
    (datetime(2026, 3, 6, 23, 59, tzinfo=UTC), False),  # 5 days
    (datetime(2026, 3, 7, 0, 1, tzinfo=UTC), True),  # 6 days
    (datetime(2026, 6, 1, tzinfo=UTC), True),
])
def test_published_late_after_max_publish_days(created, late):
    found = assess(page(item(), created=created), RULES)
    assert ([f.code for f in found] == ["published-late"]) is late
    if late:
        assert f"Published {(created.date() - INCIDENT).days} days after the incident (2026-03-01)" in found[0].sentence


def test_publish_delay_needs_both_dates():
    assert codes(page(item(), incident=None, created=datetime(2027, 1, 1, tzinfo=UTC))) == []
    assert codes(Postmortem(title="t", items=(item(),), meta=PageMeta(incident_date=INCIDENT))) == []


# --- human error as the root cause ------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "Human error: the operator ran the migration against production.",
    "Root cause was operator error during the failover.",
    "The deploy failed because of a user-error in the form. Other text.",
    "Mostly HUMAN ERRORS in the runbook steps",
    "Not a capacity problem. It was human error.",  # the negation is in another sentence
])
def test_human_error_as_a_cause_is_found(text):
    assert human_error_mentions(text)
    assert codes(page(item(), root_cause=text)) == ["human-error-root-cause"]


@pytest.mark.parametrize("text", [
    "",
    "This was not human error: the tool allowed a production write without review.",
    "We look beyond human error to the missing guard rail.",
    "The system, rather than operator error, made the outage possible.",
    "Humans erred? No: the error budget was spent by a bad deploy.",
    "A user reported an error in the checkout form.",
])
def test_rejected_or_unrelated_mentions_are_not_findings(text):
    assert human_error_mentions(text) == []
    assert codes(page(item(), root_cause=text)) == []


def test_human_error_outside_the_root_cause_section_is_not_read():
    body = ("<h2>Timeline</h2><p>10:02 human error suspected, then ruled out.</p>"
            "<h2>Root cause</h2><p>A schema change without a review step.</p>"
            "<h2>Action items</h2><table><tbody><tr><th>Action</th><th>Owner</th><th>Due</th></tr>"
            "<tr><td>Require review of schema changes in CI (CHG-12)</td><td>Ada</td><td>2026-03-20</td></tr>"
            "</tbody></table>")
    pm = parse_page(body, title="t")
    assert pm.root_cause_text == "A schema change without a review step."
    assert "human-error-root-cause" not in codes(pm)


@pytest.mark.parametrize("heading", ["Root cause", "Root Causes", "3. Contributing factors", "Causes",
                                     "Why did it happen?", "Contributing Factors:", "Root-cause analysis"])
def test_root_cause_sections_by_heading(heading):
    body = (f"<h2>Summary</h2><p>Checkout was down.</p><h2>{heading}</h2><p>Human error.</p>"
            "<h3>Details</h3><p>More.</p><h2>Lessons</h2><p>After.</p>")
    assert parse_page(body).root_cause_text == "Human error. More."


@pytest.mark.parametrize("heading", ["Five whys", "Lessons learned", "Timeline", "Because"])
def test_other_sections_are_not_root_cause(heading):
    assert parse_page(f"<h2>{heading}</h2><p>Human error.</p>").root_cause_text == ""


def test_a_page_properties_row_names_the_root_cause():
    body = ('<ac:structured-macro ac:name="details"><ac:rich-text-body><table><tbody>'
            "<tr><th>Incident date</th><td>2026-03-01</td></tr><tr><th>Root cause</th><td>Operator error</td></tr>"
            "</tbody></table></ac:rich-text-body></ac:structured-macro>")
    pm = parse_page(body)
    assert pm.root_cause_text == "Operator error" and "human-error-root-cause" in codes(pm)


def test_root_cause_in_a_layout_cell():
    body = ("<ac:layout><ac:layout-section><ac:layout-cell><h2>Root cause</h2><p>User error.</p></ac:layout-cell>"
            "<ac:layout-cell><h2>Impact</h2><p>Human error elsewhere.</p></ac:layout-cell></ac:layout-section>"
            "</ac:layout>")
    assert parse_page(body).root_cause_text == "User error."


# --- vague items ------------------------------------------------------------------------------------


VAGUE = [
    "Improve monitoring",
    "Improve monitoring of the checkout service",
    "Look into the failover",
    "Investigate why the orders database failover left writers pinned",
    "Consider adding more alerts",
    "Be more careful when deploying",
    "We should be more careful",
    "We need to investigate the root cause further",
    "Monitor better",
    "Better monitoring",
    "More monitoring and more testing",
    "- improve alerting",
    "TODO: look into flaky deploys",
    "Improvements to on-call handover",
    "Investigating the dashboards",
    "keep an eye on queue depth",
    "Try to avoid manual changes on Fridays",
    "IMPROVE DNS RESILIENCE",
    "1. Improve monitoring",
    "(2) Look into alert noise",
]
SPECIFIC = [
    "Improve p99 latency of checkout to under 300 ms",
    "Improve the error rate of webhooks to below 0.1%",
    "Investigate CFG-1042 and close it",
    "Look into https://status.example.com outages",
    "Consider raising max_connections on orders-db",
    "Improve the checkoutService retry logic",
    "Improve /etc/resolv.conf templating",
    "Investigate api.edge certificate rotation",
    "Improve PgBouncer pool sizing",
    "Evaluate the `--dry-run` flag of the deploy tool",
    "Alert when writes fail above 1% for 2 minutes",
    "Add a synthetic TLS handshake probe from three regions",
    "Rotate the deploy token and revoke the old one",
    "Write a runbook section for flushing node-local DNS caches",
    "Walk the data-platform team through the new upgrade checklist",
    "Document the emergency certificate swap in the edge runbook",
    "Require a second approver for resolver changes",
    "Pin the TLS library in the base image",
    "Reviewers should consider the blast radius in every change request",  # the vague word is not the action
    "Add a Consideration section to the change template",
]


@pytest.mark.parametrize("summary", VAGUE)
def test_vague_items(summary):
    assert is_vague(summary, RULES)


@pytest.mark.parametrize("summary", SPECIFIC)
def test_specific_items(summary):
    assert not is_vague(summary, RULES)


def test_vague_items_are_named_in_one_finding():
    pm = page(item("Improve monitoring"), item(), item("Be more careful"))
    (finding,) = assess(pm, RULES)
    assert finding.code == "vague-item" and finding.items == ("Improve monitoring", "Be more careful")
    assert finding.sentence.startswith("2 of 3 action items are vague")


def test_teams_extend_the_vocabulary():
    settings_ = QualitySettings(extra_vague_phrases=["socialise", "  sync   up  on "])
    rules = settings_.rules()
    assert settings_.extra_vague_phrases == ("socialise", "sync up on")
    assert set(DEFAULT_VAGUE_PHRASES) < set(rules.vague_phrases)
    assert is_vague("Socialise the new runbook", rules) and is_vague("Sync up on alert ownership", rules)
    assert not is_vague("Socialise the new runbook", RULES)


def test_teams_replace_the_vocabulary():
    rules = QualitySettings(vague_phrases=["tidy up"]).rules()
    assert is_vague("Tidy up the dashboards", rules) and not is_vague("Improve monitoring", rules)


def test_blank_phrases_are_refused():
    with pytest.raises(ValueError, match="blank"):
        QualitySettings(extra_vague_phrases=["  "])


def test_an_empty_vocabulary_finds_nothing_vague():
    assert not is_vague("Improve monitoring", QualityRules(vague_phrases=()))


_OBJECT_WORDS = st.lists(st.sampled_from(["the", "alerting", "on-call", "handover", "checkout", "service",
                                          "dashboards", "process", "reviews", "of", "for", "deploys", "DNS"]),
                         min_size=0, max_size=8).map(" ".join)
_MEASURES = st.sampled_from(["under 300 ms", "to 99.9%", "by 2026-04-01", "CFG-1042", "https://wiki.example/x",
                             "max_connections", "api.edge", "p99", "`deploy --force`", "in 3 regions"])


@settings(max_examples=200, deadline=None)
@given(phrase=st.sampled_from(DEFAULT_VAGUE_PHRASES), rest=_OBJECT_WORDS,
       lead=st.sampled_from(["", "We should ", "- "]))
def test_property_a_vague_phrase_with_nothing_measurable_is_vague(phrase, rest, lead):
    assert is_vague(f"{lead}{phrase} {rest}", RULES)
    assert is_vague(f"{lead}{phrase.upper()}   {rest}", RULES)  # case and spacing do not matter


@settings(max_examples=200, deadline=None)
@given(phrase=st.sampled_from(DEFAULT_VAGUE_PHRASES), rest=_OBJECT_WORDS, measure=_MEASURES)
def test_property_anything_measurable_makes_an_item_specific(phrase, rest, measure):
    assert has_measurable_object(measure)
    assert not is_vague(f"{phrase} {rest} {measure}", RULES)
    assert not is_vague(f"{phrase} {measure} {rest}", RULES)


@settings(max_examples=200, deadline=None)
@given(verb=st.sampled_from(["Add", "Alert", "Rotate", "Pin", "Document", "Require", "Replace", "Remove", "Page"]),
       rest=_OBJECT_WORDS)
def test_property_a_concrete_verb_is_never_vague(verb, rest):
    assert not is_vague(f"{verb} {rest}", RULES)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=string.printable + "äé“”…", max_size=80))
def test_property_the_rule_never_raises_and_digits_always_win(text):
    is_vague(text, RULES)
    assert not is_vague(text + " 5", RULES)


# --- the report over many pages ---------------------------------------------------------------------


def test_assess_pages_lists_only_pages_with_findings_in_a_stable_order():
    good = page(item(), title="Good")
    older = page(title="Older", incident=date(2026, 1, 1))
    newer_b = page(title="B", incident=date(2026, 2, 1))
    newer_a = page(title="A", incident=date(2026, 2, 1))
    undated = page(title="Undated", incident=None)
    order = [q.title for q in assess_pages([good, older, newer_b, undated, newer_a], RULES)]
    assert order == ["A", "B", "Older", "Undated"]
    assert order == [q.title for q in assess_pages([newer_a, undated, older, good, newer_b], RULES)]


def test_findings_follow_the_code_order():
    pm = page(item("Improve monitoring", owner=None, due=date(2020, 1, 1)),
              root_cause="Human error.", created=datetime(2026, 5, 1, tzinfo=UTC))
    found = codes(pm)
    assert found == sorted(found, key=CODES.index)
    assert found == ["item-without-owner", "vague-item", "due-before-incident", "human-error-root-cause",
                     "published-late"]
