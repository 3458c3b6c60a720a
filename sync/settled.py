"""When a cycle may skip its conclusion (metrics, summary pages, quality panels): it is settled.

`once` starts a new process each time. Its quiet cycle would decode every item, issue and parsed page of
the state to compute metrics that come out as they did last time, then write nothing. A conclusion is a
function of the state's content (its generation, moved on with every write of items, pages or issues), the
date, the configuration and this code (a digest of the package's source: a deploy changes it even when the
version number does not). So a quiet cycle that concluded and wrote nothing, nor ran into a
problem, records that basis; a later quiet cycle at the same basis skips the conclusion. `run` keeps its
figures in memory instead (sync.state.State.derived), and has them for its health endpoint.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from sync import __version__
from sync.settings import Settings
from sync.state_codec import PAGE_FORMAT

SETTLED_META = "settled_conclusion"


def basis(settings: Settings, generation: int, today: date) -> str:
    """The basis of a conclusion drawn now (the configuration hashed: secrets are masked in its dump anyway)."""
    # All of it but where the state file lives (a copied or moved file says the same).
    configuration = f"{_code()}\n{PAGE_FORMAT}\n{settings.model_dump_json(exclude={'sync': {'state_path'}})}"
    digest = hashlib.sha256(configuration.encode()).hexdigest()[:32]
    return f"{generation}:{today.isoformat()}:{digest}"


@functools.cache
def _code() -> str:
    """This code: the version and a digest of the package's source (read once a process)."""
    root, digest = Path(__file__).parent, hashlib.sha256(__version__.encode())
    for path in sorted(root.rglob("*.py")):
        digest.update(f"\0{path.relative_to(root).as_posix()}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def is_settled(meta: Mapping[str, str], at: str | None) -> bool:
    """Whether a quiet cycle at this basis may skip its conclusion (None: it may not)."""
    return at is not None and meta.get(SETTLED_META) == at


def settles(at: str | None, *, problems: int, finished: bool) -> bool:
    """Whether a quiet cycle that concluded at this basis records it: it had no problem and left nothing for
    the next cycle (the quality panels are written at most so many a cycle). Had it written content, the
    generation moved on, and the basis it records is one no later cycle has."""
    return at is not None and problems == 0 and finished
