"""What an operator of a running sandbox controls, over /_sandbox/… or in-process: its state, the
request statistics and the pending faults."""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.http.faults import FaultBook
from sandbox.http.stats import Stats
from sandbox.options import SandboxOptions
from sandbox.state import SandboxState


@dataclass(frozen=True)
class Controls:
    """The parts of a sandbox that the admin endpoints and `Sandbox` act on; the pipeline counts and faults here."""

    state: SandboxState
    stats: Stats = field(default_factory=Stats)
    faults: FaultBook = field(default_factory=FaultBook)

    @property
    def options(self) -> SandboxOptions:
        return self.state.options

    def reset(self) -> None:
        """Back to the seed: state, statistics and pending faults."""
        self.state.reset()
        self.stats.reset()
        self.faults.clear()
