"""The pages a cycle read, parsed one at a time, each with what Confluence says of the page itself."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from sync.models import Page, Postmortem
from sync.parser import parse_page
from sync.problems import Problem, ProblemKind
from sync.settings import Settings
from sync.templates import combine_templates


def parse_pages(pages: Iterable[Page], settings: Settings) -> tuple[list[Postmortem], frozenset[str], list[Problem]]:
    """Parse each page on its own: the parsed pages, the ids of those that failed, and the problems to report."""
    templates = combine_templates(settings.templates)
    parsed, failed, problems = [], set(), []
    for page in pages:
        try:
            pm = parse_page(page.body, title=page.title, templates=templates, page_id=page.id)
        except Exception as exc:  # noqa: BLE001 - the parser promises not to raise; defend the cycle anyway
            failed.add(page.id)
            problems.append(Problem(ProblemKind.PARSE_FAILED, page.id, type(exc).__name__))
            continue
        parsed.append(with_page_facts(replace(pm, page_id=page.id, version=page.version), page))
        problems += findings(parsed[-1])
    return parsed, frozenset(failed), problems


def with_page_facts(pm: Postmortem, page: Page) -> Postmortem:
    """A parsed page with what Confluence says about the page itself (where, labels, created, author)."""
    # A page the search returns is current: one archived before and restored since is no longer marked.
    return replace(pm, url=page.url, space=page.space, labels=page.labels, created=page.created, author=page.author,
                   archived=False)


def findings(pm: Postmortem) -> list[Problem]:
    """The parser's findings on a page, as problems to report."""
    # Items without an owner or due date are listed on the summary page ("needs attention") instead.
    return [Problem(ProblemKind.PAGE, pm.page_id, code) for code in pm.problems if not code.startswith("missing-")]
