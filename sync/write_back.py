"""Write the Jira keys (and ticked tasks) back into a postmortem page, surgically, never losing a user's edit."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import structlog

from sync.jira_macro import JiraServer
from sync.models import Page, WriteBack
from sync.ports import AtlassianError, ConfluencePort, VersionConflict
from sync.problems import Problem, ProblemKind
from sync.storage_edits import EditError, edit_items
from sync.templates import DEFAULT_TEMPLATES, TemplateSpec

log = structlog.get_logger(__name__)

WRITE_BACK_ATTEMPTS = 4


def edit_body(body: str, write: WriteBack, keys: Mapping[str, str | None], *,
              templates: tuple[TemplateSpec, ...] = DEFAULT_TEMPLATES, server: JiraServer | None = None,
              projects: Sequence[str] = ()) -> str:
    """The page body with the Jira keys inserted and tasks ticked, in one pass; unknown targets are skipped.

    `templates` are the parser's (so the same items are found), `server` the Jira link macros name, and
    `projects` the managed ones (whose macros on the page tell which link that is).
    """
    links = [(origin, key, summary) for origin, item_key, summary in write.keys if (key := keys.get(item_key))]
    try:
        edited, problems = edit_items(body, links=links, completions=write.complete, templates=templates,
                                      server=server, projects=projects)
    except EditError as exc:  # e.g. a body that is not well-formed: never edited
        log.warning("write_back_refused", page_id=write.page_id, error=str(exc))
        return body
    for problem in problems:
        log.warning("write_back_target_missing", page_id=write.page_id, error=str(problem))
    return edited


def write_back(write: WriteBack, edit: Callable[[str], str], confluence: ConfluencePort,
               page: Page | None) -> tuple[Page | None, list[Problem]]:
    """Edit one page with `edit`; on a version conflict re-read it and re-apply, so no user edit is lost.

    Returns (the page as written, None if it was not, problems); safe to run for different pages at once.
    """
    for _ in range(WRITE_BACK_ATTEMPTS):
        try:
            page = page or confluence.get_page(write.page_id)
            body = edit(page.body)
            if body == page.body:
                return None, []
            written = confluence.update_page(page, body, message="postmortem-sync: linked Jira issues",
                                             minor_edit=True)
            log.info("page_written_back", page_id=write.page_id, version=written.version)
            return written, []
        except VersionConflict:
            log.info("write_back_conflict_retrying", page_id=write.page_id)
            page = None
        except AtlassianError as exc:
            return None, [Problem(ProblemKind.WRITE_BACK_FAILED, write.page_id, str(exc))]
    return None, [Problem(ProblemKind.WRITE_BACK_GAVE_UP, write.page_id)]
