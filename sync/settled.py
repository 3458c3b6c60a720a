"""When a cycle may skip its conclusion (metrics, summary pages, quality panels): it is settled.

`once` starts a new process each time. Its quiet cycle would decode every item, issue and parsed page of
the state to compute metrics that come out as they did last time, then write nothing. A conclusion is a
function of the state's content (its generation, moved on by every write of items, pages or issues), the
date, the configuration and this code. So a quiet cycle that concluded and wrote nothing, nor ran into a
problem, records that basis; a later quiet cycle at the same basis skips the conclusion. `run` keeps its
figures in memory instead (sync.state.State.derived), and has them for its health endpoint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date
from typing import NamedTuple

from sync import __version__
from sync.settings import Settings
from sync.state_codec import PAGE_FORMAT

SETTLED_META = "settled_conclusion"


class Basis(NamedTuple):
    """What a conclusion was drawn from: the state's generation, and the rest as one string."""

    generation: int
    text: str


def basis(settings: Settings, generation: int, today: date) -> Basis:
    """The basis of a conclusion drawn now (the configuration hashed: secrets are masked in its dump anyway)."""
    configuration = f"{__version__}\n{PAGE_FORMAT}\n{settings.model_dump_json()}"
    digest = hashlib.sha256(configuration.encode()).hexdigest()[:32]
    return Basis(generation, f"{generation}:{today.isoformat()}:{digest}")


def is_settled(meta: Mapping[str, str], at: Basis | None) -> bool:
    """Whether a quiet cycle at this basis may skip its conclusion (None: it may not)."""
    return at is not None and meta.get(SETTLED_META) == at.text


def settles(at: Basis | None, generation_now: int, problems: int) -> bool:
    """Whether a quiet cycle that concluded at this basis records it: it wrote nothing and had no problem."""
    return at is not None and generation_now == at.generation and problems == 0
