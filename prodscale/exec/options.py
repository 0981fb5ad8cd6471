"""How a build runs, decided once by its caller and handed to the Builder whole (callers used to flip the
builder's attributes after making it: ``reanalyze`` turned commits and drift checks off, ``verify
--rebuild`` drift checks)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class BuildOptions:
    jobs: int | None = None             # workers; None: every usable core
    executor: str = "local"             # "local" (processes on this machine) or "dask"
    scheduler: str | None = None        # a Dask scheduler's address; None starts a LocalCluster
    commit: bool = True                 # False: compute the outputs, write nothing (reanalyze's preview)
    check_drift: bool = True            # False: a rebuild that is compared by its caller (verify --rebuild)
    #: story -> engine to compile it on instead of its pin (reanalyze moving a story on purpose)
    engine_overrides: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "engine_overrides", MappingProxyType(dict(self.engine_overrides)))
