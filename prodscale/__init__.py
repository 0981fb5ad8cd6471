"""prodscale: compile screenplays into what a production needs before anything is filmed or generated.

The public API is what ``__all__`` lists; everything else is internal and may change. Names are
imported on first use, so ``import prodscale`` (and a no-op ``prodscale build``) stays cheap::

    import prodscale
    project = prodscale.load_project("example_project")
    report = prodscale.build(project)
    assert prodscale.verify(project).ok
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

__version__ = "0.1.0"  # the version in pyproject.toml (tests/test_public_api.py holds them equal)

__all__ = [
    "BuildReport",
    "ConfigError",
    "Finding",
    "InputError",
    "IntegrityError",
    "ProdscaleError",
    "Project",
    "UsageError",
    "Verification",
    "__version__",
    "build",
    "load_project",
    "status",
    "verify",
    "why",
]

# public name -> the module that defines it
_WHERE = {
    "build": "prodscale.api", "load_project": "prodscale.api", "status": "prodscale.api",
    "verify": "prodscale.api", "why": "prodscale.api", "Verification": "prodscale.api",
    "BuildReport": "prodscale.exec.builder", "Finding": "prodscale.exec.verify",
    "Project": "prodscale.storage.project",
    "ProdscaleError": "prodscale.errors", "UsageError": "prodscale.errors", "InputError": "prodscale.errors",
    "ConfigError": "prodscale.errors", "IntegrityError": "prodscale.errors",
}

if _TYPE_CHECKING:
    from prodscale.api import Verification, build, load_project, status, verify, why
    from prodscale.errors import ConfigError, InputError, IntegrityError, ProdscaleError, UsageError
    from prodscale.exec.builder import BuildReport
    from prodscale.exec.verify import Finding
    from prodscale.storage.project import Project


def __getattr__(name: str) -> _Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'prodscale' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({n for n in globals() if n.startswith("__")} | set(__all__))
