"""Postmortem quality: what a parsed postmortem does not do that every postmortem guide asks for (pure).

The guides (Google's SRE book and workbook, Atlassian's incident handbook, PagerDuty's postmortem guide)
agree: action items are specific, measurable, owned and dated; three to five beat a long list; and
"human error" as the root cause means the analysis stopped too early. Each rule gives at most one
`Finding(code, sentence, items)` per postmortem; the rules are written down in docs/quality.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property

from sync.models import ActionItem, Postmortem

# The default vocabulary of vague action items (quality.vague_phrases; teams add to it with
# quality.extra_vague_phrases). An item is vague only when it also names nothing measurable: see `is_vague`.
DEFAULT_VAGUE_PHRASES: tuple[str, ...] = (
    "improve", "enhance", "look into", "investigate", "consider", "explore", "evaluate", "think about",
    "revisit", "discuss", "be more careful", "be careful", "monitor better", "better monitoring",
    "more monitoring", "more testing", "keep an eye on", "follow up on", "raise awareness", "try to", "work on",
)
HUMAN_ERRORS = ("human error", "operator error", "user error")
# The order findings are listed in, on the summary page and in the panel.
CODES = ("no-action-items", "too-many-items", "item-without-owner", "item-without-due", "vague-item",
         "due-before-incident", "due-too-late", "human-error-root-cause", "published-late")
NAMED_ITEMS = 3  # items quoted in a sentence; the finding's `items` has them all


@dataclass(frozen=True)
class Finding:
    """One shortcoming of a postmortem: a stable code, a sentence for people, and the action items concerned."""

    code: str
    sentence: str
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class PageQuality:
    """The findings of one postmortem page, in `CODES` order."""

    title: str
    url: str | None
    page_id: str | None
    incident_date: date | None
    findings: tuple[Finding, ...] = ()
    archived: bool = False  # Confluence archived the page: listed, but its page is read-only

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(finding.code for finding in self.findings)


@dataclass(frozen=True)
class QualityRules:
    """The limits and vocabulary the rules apply (from the [quality] settings)."""

    max_items: int = 10
    max_due_days: int = 180
    max_publish_days: int = 5
    vague_phrases: tuple[str, ...] = DEFAULT_VAGUE_PHRASES

    @cached_property
    def vague(self) -> re.Pattern[str]:
        """The vague phrases as one regular expression (built once per rules)."""
        return vague_pattern(self.vague_phrases)


# --- vague items ------------------------------------------------------------------------------------

# Words that may come before the verb without changing what the item asks: "We should investigate ...".
_FILLER = re.compile(
    r"^(?:(?:[-*•–—:;,.!]+|\[[^\]]*\]|(?:action(?:\s+item)?|todo|ai)\s*:)\s*"
    r"|(?:please|we|team|the\s+team|you|they|i|let's|lets|should|must|will|shall|(?:need|needs|have|has|going|want)"
    r"\s+to|to|also|then|and)\b\s*)+", re.I)
_LIST_NUMBER = re.compile(r"^\(?\d{1,2}[.)]\s+")  # "1. Improve ...": the list's number, not the item's
# What makes an item measurable or names a concrete artefact: any digit (numbers, percentages, durations,
# versions, dates, p99, issue keys), a URL, a path, a dotted, snake_case or camelCase identifier, a
# command-line flag, or text in backticks.
_MEASURABLE = re.compile(
    r"\d|https?://|\bwww\.|(?<!\w)/\w|\b[A-Za-z_]\w+\.[A-Za-z_]\w*|\b\w+_\w+|\b[a-z]+[A-Z]\w*|\b[A-Z][a-z]+[A-Z]\w*"
    r"|(?<!\w)--[A-Za-z]|`[^`]+`")
_WORD = re.compile(r"[A-Za-z']+")
_INFLECTIONS = "(?:s|es|d|ed|ing|ment|ments)?"


def _phrase_regex(phrase: str) -> str:
    """A phrase as a regex: whole words, any whitespace between them, words of 4+ letters also inflected."""
    words = []
    for word in phrase.lower().split():
        if len(word) < 4:
            words.append(re.escape(word))
        elif word.endswith("e"):
            words.append(re.escape(word[:-1]) + "(?:e|es|ed|ing|ement|ements)")
        else:
            words.append(re.escape(word) + _INFLECTIONS)
    return r"\s+".join(words)


def vague_pattern(phrases: Iterable[str]) -> re.Pattern[str]:
    """One regex matching any of the phrases as whole words (longest first, so a longer phrase wins)."""
    ordered = sorted({p.strip() for p in phrases if p.strip()}, key=len, reverse=True)
    if not ordered:
        return re.compile(r"(?!)")
    return re.compile(r"(?<![\w'])(?:" + "|".join(_phrase_regex(p) for p in ordered) + r")(?![\w'])", re.I)


def has_measurable_object(text: str) -> bool:
    """Whether the text names something measurable or concrete (see `_MEASURABLE`)."""
    return _MEASURABLE.search(text) is not None


def is_vague(summary: str, rules: QualityRules) -> bool:
    """An item is vague when it names nothing measurable and either starts with a vague phrase (after
    filler such as "We should") or vague phrases make up at least half of its words."""
    text = _LIST_NUMBER.sub("", " ".join(summary.split()))
    if not text or has_measurable_object(text):
        return False
    rest = _FILLER.sub("", text)
    if rules.vague.match(rest):
        return True
    words = len(_WORD.findall(rest))
    vague_words = sum(len(_WORD.findall(m.group(0))) for m in rules.vague.finditer(rest))
    return words > 0 and vague_words * 2 >= words


# --- human error as the root cause ------------------------------------------------------------------

_HUMAN_ERROR = re.compile(r"\b(?:human|operator|user)[\s-]+errors?\b", re.I)
# A mention in a sentence that first says "not", "no", "never", "rather than", ... is the analysis rejecting it.
_NEGATION = re.compile(r"\b(?:not|no|never|nor|rather\s+than|instead\s+of|beyond|without|isn't|wasn't|aren't"
                       r"|weren't|don't|doesn't|didn't|cannot|can't)\b|n't\b", re.I)
_SENTENCE = re.compile(r"[^.!?;]+[.!?;]?")


def human_error_mentions(text: str) -> list[str]:
    """The phrases naming human, operator or user error as a cause (mentions that are negated are left out)."""
    found = []
    for sentence in _SENTENCE.findall(text):
        for match in _HUMAN_ERROR.finditer(sentence):
            if not _NEGATION.search(sentence[:match.start()]):
                found.append(" ".join(match.group(0).lower().replace("-", " ").split()))
    return found


# --- the rules --------------------------------------------------------------------------------------


def _quoted(summaries: Sequence[str]) -> str:
    """Up to NAMED_ITEMS summaries, quoted and clipped, and how many more."""
    shown = [f"“{s if len(s) <= 60 else s[:59] + '…'}”" for s in summaries[:NAMED_ITEMS]]
    more = len(summaries) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


def _items_finding(code: str, items: Sequence[ActionItem], total: int, many: str, one: str) -> list[Finding]:
    """One finding naming the items a rule caught ("2 of 7 action items <many>: ..."), or none."""
    if not items:
        return []
    summaries = tuple(item.summary for item in items)
    if total == 1:
        count = f"The only action item {one}"
    else:
        count = f"{len(items)} of {total} action items {many if len(items) > 1 else one}"
    return [Finding(code, f"{count}: {_quoted(summaries)}.", summaries)]


def _count_findings(pm: Postmortem, rules: QualityRules) -> list[Finding]:
    if not pm.items:
        where = ("the page has no action-item section" if "no-action-section" in pm.problems
                 else "its action-item section lists none")
        return [Finding("no-action-items", f"No action items: {where}. Every postmortem should lead to changes.")]
    if len(pm.items) > rules.max_items:
        return [Finding("too-many-items", f"{len(pm.items)} action items, more than {rules.max_items}: "
                                          "a few specific items get done, a long list does not.")]
    return []


def _due_findings(pm: Postmortem, rules: QualityRules) -> list[Finding]:
    incident, items, total = pm.meta.incident_date, pm.items, len(pm.items)
    if incident is None:
        return []
    early = [i for i in items if i.due is not None and i.due < incident]
    late = [i for i in items if i.due is not None and (i.due - incident).days > rules.max_due_days]
    before = f"due before the incident ({incident.isoformat()})"
    after = f"due more than {rules.max_due_days} days after the incident"
    return (_items_finding("due-before-incident", early, total, f"are {before}", f"is {before}")
            + _items_finding("due-too-late", late, total, f"are {after}", f"is {after}"))


def _root_cause_findings(pm: Postmortem) -> list[Finding]:
    mentions = human_error_mentions(pm.root_cause_text)
    if not mentions:
        return []
    return [Finding("human-error-root-cause",
                    f"The root cause names “{mentions[0]}”: ask why the system let the mistake happen "
                    "and cause harm; the analysis stopped too early.")]


def _publish_findings(pm: Postmortem, rules: QualityRules) -> list[Finding]:
    incident, created = pm.meta.incident_date, pm.created
    if incident is None or created is None:
        return []
    days = (created.date() - incident).days
    if days <= rules.max_publish_days:
        return []
    return [Finding("published-late", f"Published {days} days after the incident ({incident.isoformat()}), "
                                      f"more than {rules.max_publish_days}: memories fade and fixes wait.")]


def assess(pm: Postmortem, rules: QualityRules) -> tuple[Finding, ...]:
    """Every finding of one postmortem, in `CODES` order."""
    items, total = pm.items, len(pm.items)
    findings = _count_findings(pm, rules)
    findings += _items_finding("item-without-owner", [i for i in items if i.owner is None], total,
                               "have no owner", "has no owner")
    findings += _items_finding("item-without-due", [i for i in items if i.due is None], total,
                               "have no due date", "has no due date")
    findings += _items_finding("vague-item", [i for i in items if is_vague(i.summary, rules)], total,
                               "are vague (nothing measurable)", "is vague (nothing measurable)")
    findings += _due_findings(pm, rules) + _root_cause_findings(pm) + _publish_findings(pm, rules)
    return tuple(sorted(findings, key=lambda f: CODES.index(f.code)))


def assess_pages(pages: Iterable[Postmortem], rules: QualityRules) -> tuple[PageQuality, ...]:
    """The postmortems that have findings, newest incident first, then by title and page id (a stable order)."""
    assessed = [PageQuality(pm.title, pm.url, pm.page_id, pm.meta.incident_date, found, pm.archived)
                for pm in pages if (found := assess(pm, rules))]
    assessed.sort(key=lambda q: (q.title, q.page_id or ""))
    assessed.sort(key=lambda q: q.incident_date or date.min, reverse=True)
    return tuple(assessed)
