"""The plan as people read it before a backfill (`postmortem-sync plan`): one line per change, by page title."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from sync.models import IssueFields, Owner, Plan

WIDTH = 60  # characters per cell; the rest is cut


def render_plan_table(plan: Plan, titles: Mapping[str, str] | None = None) -> str:
    """The plan as a table: action, the postmortem's title (its id when the title is unknown), item, issue, and
    details only where they say something."""
    page = _titler(titles or {})
    rows = [("create", page(c.record.page_id), c.fields.summary, "", _create_details(c.fields, c.mark_done))
            for c in plan.creates]
    rows += [("create epic", page(e.page_id), e.fields.summary, "", "") for e in plan.epics]
    rows += [("adopt", page(a.record.page_id), a.record.summary, a.record.issue_key or "",
              _listed("adds labels", a.add_labels)) for a in plan.adopts]
    rows += [("update", page(u.record.page_id), u.record.summary, u.record.issue_key or "",
              _listed("changes", [*u.changes, *(["labels"] if u.add_labels or u.remove_labels else [])]))
             for u in plan.updates]
    rows += [("done", page(t.record.page_id), t.record.summary, t.record.issue_key or "", "done on the page")
             for t in plan.transitions]
    rows += [("flag", page(f.record.page_id), f.record.summary, f.record.issue_key or "", "removed from the page")
             for f in plan.flags]
    rows += [("unflag", page(u.record.page_id), u.record.summary, u.record.issue_key or "", "back on the page")
             for u in plan.unflags]
    rows += [("remind", page(r.page_id), "final reminder" if r.final else f"reminder {r.step}", r.issue_key,
              _listed("mentions", _mentioned(r.comment))) for r in plan.reminders]
    rows += [("write-back", page(w.page_id), _write_back(len(w.keys), len(w.complete)), "", "")
             for w in plan.write_backs]
    if not rows:
        return "Nothing to change."
    out = _aligned([("ACTION", "PAGE", "ITEM", "ISSUE", "DETAILS"), *rows])
    out += [f"problem: {p}" for p in plan.problems]
    if plan.unsafe_reason:
        out.append(f"UNSAFE: {plan.unsafe_reason} (re-run with --force to apply)")
    return "\n".join(out)


def _titler(titles: Mapping[str, str]) -> Callable[[str], str]:
    return lambda page_id: titles.get(page_id) or f"page {page_id}"


def _create_details(fields: IssueFields, done: bool) -> str:
    """Owner, due date and type of a new issue, each only when there is one."""
    parts = [f"owner {_person(fields.assignee)}" if fields.assignee else "",
             f"due {fields.due.isoformat()}" if fields.due else "", f"priority {fields.priority}" if fields.priority
             else "", "done on the page" if done else ""]
    return ", ".join(part for part in parts if part)


def _person(owner: Owner) -> str:
    return owner.display or owner.account_id or owner.username or owner.userkey or "?"


def _mentioned(comment: Sequence[object]) -> list[str]:
    """Who a planned comment mentions, as `@name` (or `@id`)."""
    return [f"@{_person(part)}" for part in comment if isinstance(part, Owner)]


def _listed(verb: str, names: Sequence[str]) -> str:
    return f"{verb} {', '.join(names)}" if names else ""


def _write_back(keys: int, ticks: int) -> str:
    parts = [f"{keys} Jira key(s) into the page" if keys else "", f"{ticks} task(s) ticked" if ticks else ""]
    return ", ".join(part for part in parts if part) or "page edit"


def _aligned(rows: Sequence[Sequence[object]]) -> list[str]:
    widths = [max(min(WIDTH, len(str(row[i]))) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(str(cell)[:WIDTH].ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in rows]
