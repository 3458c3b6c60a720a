"""What Confluence says about a postmortem page (labels, created, author) reaches the parsed page and the cache."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sync.atlassian import make_adapters
from sync.cycle import run_cycle
from sync.state_codec import postmortem_from_json, postmortem_to_json
from tests.harness import FLAVORS, replaced, table_page
from tests.test_daemon_e2e import small_page
from tests.test_quality_e2e import DETAILS, ROOT_CAUSE, SPECIFIC, VAGUE

BOTH_PROCESSES = True  # every world here runs as `run` and as `once` keep the state (tests/conftest.py)


@pytest.mark.parametrize("flavor", FLAVORS)
def test_labels_creation_and_author_reach_every_postmortem(world, flavor):
    world.cycle()
    pages = world.state.pages()
    assert pages, "the examples were synced"
    for pm in pages.values():
        assert "postmortem" in pm.labels
        assert pm.created is not None
        assert pm.author is not None
        assert (pm.author.account_id if flavor == "cloud" else pm.author.username)
        assert postmortem_from_json(postmortem_to_json(pm)) == pm


def _with_themes(body: str) -> str:
    return body.replace("\n<h2>Summary</h2>", "\n<!-- seed: labels=payments,tls -->\n<h2>Summary</h2>", 1)


def test_a_write_back_read_again_after_a_conflict_keeps_the_pages_labels_and_space(make_world):
    """Cloud reads a page by id through v2, which names no labels and the space only by id: the page we wrote
    back after a racing user edit is cached with what its listing said, so its themes stay."""
    world = make_world({"p.xml": _with_themes(small_page("cloud"))}, flavor="cloud", sprint=False,
                       sync={"lease_minutes": 0})
    jira, confluence = make_adapters(world.settings)
    update, raced = confluence.update_page, []

    def racing_update(page, body, **kwargs):
        if not raced:  # a user saves the page between our read and our write
            raced.append(world.edit_page(page.title, lambda b: b.replace("Things broke.", "Things broke. Edited.")))
        return update(page, body, **kwargs)

    confluence.update_page = racing_update
    assert run_cycle(world.settings, jira, confluence, world.state).ok and raced
    cached = world.state.pages()[world.page_id("Postmortem: cache stampede")]
    assert set(cached.labels) == {"postmortem", "payments", "tls"} and cached.space == "PM"
    assert "Edited." in world.body("Postmortem: cache stampede")


def test_a_quality_panel_written_to_a_page_read_by_id_keeps_its_labels_and_space(make_world):
    shaky = table_page("Postmortem: shaky", [VAGUE, SPECIFIC], before=DETAILS + ROOT_CAUSE)  # has findings
    world = make_world({"p.xml": shaky.replace("\n", "\n<!-- seed: labels=payments,tls -->\n", 1)}, flavor="cloud",
                       sprint=False, sync={"lease_minutes": 0})
    world.cycle()
    page_id = world.page_id("Postmortem: shaky")
    before = world.state.pages()[page_id]
    world.clock.offset += timedelta(hours=3)  # the page leaves the read window
    world.cycle()
    world.daemon.restart(replaced(world.daemon.settings, quality={"annotate_pages": True}))
    annotated = world.cycle()
    assert "Postmortem quality" in world.body("Postmortem: shaky")  # written after a read by id
    after = world.state.pages()[page_id]
    assert (after.labels, after.space) == (before.labels, before.space)
    assert {theme.theme for theme in annotated.metrics.by_theme} >= {"payments", "tls"}
    assert not world.cycle().summary_written


def test_a_cache_written_by_an_older_version_is_parsed_again_once(world):
    """Cached parses without the page's facts (written before they were read) would leave the summary without
    themes until the next full reconcile: the first cycle after an upgrade is one."""
    assert world.cycle().full
    assert not world.cycle().full
    world.state.set_meta(page_format=None)  # as a state file of the previous version has it
    assert world.cycle().full
    assert not world.cycle().full
