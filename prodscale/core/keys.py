"""Action keys: the hash of everything that can change an action's output, and nothing else.

Components (design, "Action keys and the cache"): the rule's name and implementation version,
the interpreter's Unicode version (``unicodedata.unidata_version``), the engine version, the
digests of the rule files it reads, the digests of the settings it reads, and the digests of its
inputs. No paths, no times. ``why`` compares components, so they
are kept as a dict, not only hashed.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from prodscale.core.canon import digest_obj
from prodscale.core.stages import StageSpec

UNICODE_VERSION = unicodedata.unidata_version


def components(spec: StageSpec, engine: str, rule_digests: dict[str, str], settings: dict[str, Any],
               inputs: dict[str, str], settings_digests: dict[str, str] | None = None) -> dict[str, Any]:
    """The key components of running ``spec`` with these rule digests, settings and inputs
    (``settings_digests``, when given, are the digests of ``settings`` computed once per task)."""
    missing = [f for f in spec.rule_files if f not in rule_digests]
    if missing:
        raise KeyError(f"engine {engine} has no rule file(s) {', '.join(missing)} needed by {spec.name}")
    return {
        "rule": spec.name,
        "impl": spec.version,
        # the interpreter's Unicode tables decide what \w, isalpha and upper() mean (Python 3.11 has Unicode
        # 14.0, 3.12 15.0, 3.13 15.1): a story with characters new in a later version may compile otherwise,
        # so a cache filled by one interpreter never serves another (docs/determinism.md)
        "unicode": UNICODE_VERSION,
        "engine": engine,
        "rules": {f: rule_digests[f] for f in spec.rule_files},
        "settings": {k: settings_digests[k] if settings_digests is not None else digest_obj(settings.get(k))
                     for k in spec.settings},
        "inputs": dict(inputs),
    }


def action_key(comps: dict[str, Any]) -> str:
    return digest_obj(comps)


def diff_components(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str, Any, Any]]:
    """Which components differ: a list of (kind, name, old value, new value), in a stable order."""
    out: list[tuple[str, str, Any, Any]] = []
    for field in ("rule", "impl", "engine"):
        if old.get(field) != new.get(field):
            out.append((field, field, old.get(field), new.get(field)))
    for group in ("rules", "settings", "inputs"):
        o, n = old.get(group, {}), new.get(group, {})
        for name in sorted(set(o) | set(n)):
            if o.get(name) != n.get(name):
                out.append((group, name, o.get(name), n.get(name)))
    return out
