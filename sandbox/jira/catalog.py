"""The fixed configuration of the sandbox's Jira: project OPS, its issue types and their workflows, resolutions,
priorities, board and sprint."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar


@dataclass(frozen=True)
class StatusCategory:
    id: int
    key: str  # new | indeterminate | done
    name: str
    color: str


@dataclass(frozen=True)
class Status:
    id: str
    name: str
    category: StatusCategory


@dataclass(frozen=True)
class Transition:
    """A workflow transition; `screen` lists the fields of its screen, `required` those it demands."""

    id: str
    name: str
    to: Status
    screen: tuple[str, ...] = ()
    required: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resolution:
    id: str
    name: str
    description: str


@dataclass(frozen=True)
class IssueType:
    id: str
    name: str
    hierarchy_level: int
    description: str


@dataclass(frozen=True)
class Priority:
    id: str
    name: str
    color: str


@dataclass(frozen=True)
class Component:
    id: str
    name: str


@dataclass(frozen=True)
class Project:
    id: str
    key: str
    name: str


@dataclass
class Sprint:
    id: int
    name: str
    state: str  # future | active | closed
    board_id: int
    start: datetime | None
    end: datetime | None
    goal: str = ""


@dataclass(frozen=True)
class Board:
    id: int
    name: str
    type: str
    project: Project


CATEGORY_NEW = StatusCategory(2, "new", "To Do", "blue-gray")
CATEGORY_IN_PROGRESS = StatusCategory(4, "indeterminate", "In Progress", "yellow")
CATEGORY_DONE = StatusCategory(3, "done", "Done", "green")
STATUS_CATEGORIES = (CATEGORY_NEW, CATEGORY_IN_PROGRESS, CATEGORY_DONE)

TO_DO = Status("10000", "To Do", CATEGORY_NEW)
IN_PROGRESS = Status("3", "In Progress", CATEGORY_IN_PROGRESS)
DONE = Status("10001", "Done", CATEGORY_DONE)
STATUSES = (TO_DO, IN_PROGRESS, DONE)

# Global transitions: every status can reach every status, as in a simplified Jira workflow (Task, Epic).
# Its Done transition has no screen: a post function sets the resolution to Done.
TRANSITIONS = (
    Transition("11", "To Do", TO_DO), Transition("21", "In Progress", IN_PROGRESS), Transition("31", "Done", DONE),
)
# Another workflow, as sites give bugs: other transition ids, and a screen on the ways into Done that
# requires a Resolution ("Field Resolution is required." without one).
BUG_TRANSITIONS = (
    Transition("41", "Reopen", TO_DO), Transition("51", "Start progress", IN_PROGRESS),
    Transition("61", "Resolve", DONE, screen=("resolution", "comment"), required=("resolution",)),
    Transition("71", "Won't do", DONE, screen=("resolution", "comment"), required=("resolution",)),
)

RESOLUTIONS = (
    Resolution("10000", "Done", "Work has been completed on this issue."),
    Resolution("10001", "Won't Do", "This issue won't be actioned."),
    Resolution("10002", "Duplicate", "The problem is a duplicate of an existing issue."),
)
DONE_RESOLUTION = RESOLUTIONS[0]

TASK = IssueType("10001", "Task", 0, "A small, distinct piece of work.")
EPIC = IssueType("10000", "Epic", 1, "A collection of related bugs, stories, and tasks.")
BUG = IssueType("10002", "Bug", 0, "A problem which impairs or prevents the functions of the product.")
ISSUE_TYPES = (TASK, EPIC, BUG)
WORKFLOWS: dict[str, tuple[Transition, ...]] = {TASK.id: TRANSITIONS, EPIC.id: TRANSITIONS, BUG.id: BUG_TRANSITIONS}


def workflow_of(issuetype: IssueType) -> tuple[Transition, ...]:
    """The transitions of an issue type's workflow."""
    return WORKFLOWS.get(issuetype.id, TRANSITIONS)

PRIORITIES = (
    Priority("1", "Highest", "#d04437"),
    Priority("2", "High", "#f15C75"),
    Priority("3", "Medium", "#f79232"),
    Priority("4", "Low", "#707070"),
    Priority("5", "Lowest", "#999999"),
)
DEFAULT_PRIORITY = PRIORITIES[2]

OPS = Project("10000", "OPS", "Operations")
COMPONENTS = (Component("10100", "Backend"), Component("10101", "Infrastructure"))
SCRUM_BOARD = Board(1, "OPS board", "scrum", OPS)

# Data Center links epics through this custom field ("Epic Link"), Cloud through `parent`.
EPIC_LINK_FIELD = "customfield_10101"
# Data Center's Epic Name: a custom field every Epic create must fill (Cloud has none).
EPIC_NAME_FIELD = "customfield_10100"
EPIC_NAME_SCHEMA = "com.pyxis.greenhopper.jira:gh-epic-label"  # its schema.custom: how clients find its id
# The Sprint field; Cloud's id is customfield_10020 on most sites.
SPRINT_FIELD = "customfield_10020"


class Catalogued(Protocol):
    """A catalogue entry, which requests may name by its id or its name."""

    @property
    def id(self) -> str | int: ...

    @property
    def name(self) -> str: ...


E = TypeVar("E", bound=Catalogued)


def find_by_name_or_id(items: Iterable[E], value: object) -> E | None:
    """The catalogue entry a {"name": …} or {"id": …} reference points at, else None."""
    if not isinstance(value, dict):
        return None
    if "id" in value:
        return next((i for i in items if str(i.id) == str(value["id"])), None)
    if "name" in value:
        return next((i for i in items if i.name.lower() == str(value["name"]).lower()), None)
    return None
