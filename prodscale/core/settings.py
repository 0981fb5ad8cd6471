"""Project settings (``prodscale.toml``) as validated, immutable data.

Parsing TOML is the caller's job (storage); this module validates the parsed table so every
error names the file, the line of the offending key where it can be found, and what to do.
Stages read settings by dotted key (``project.profile``, ``style``, ``characters``); the engine
hashes exactly the keys a stage declares.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from prodscale.core.toml_lines import KeyPath, line_of
from prodscale.errors import ConfigError

DEFAULT_ENGINE = "2.0.0"

# section -> allowed keys (None: free-form table whose values are validated elsewhere)
_KNOWN: dict[str, set[str] | None] = {
    "project": {"name", "engine", "profile", "stories", "heading_prefixes", "paper"},
    "style": {"look", "aspect", "negative"},
    "characters": None,
    "acknowledge": None,
    "waive": None,   # engine 2.0.0: a producer's waiver of one error, with a reason
    "providers": None,
    "budget": None,
}


# what each [style] key looks like, for the hint of a wrong-typed value
_STYLE_EXAMPLES = {"look": "natural light, 35mm film grain", "aspect": "16:9", "negative": "text, watermark"}


@dataclass(frozen=True)
class Settings:
    raw: dict[str, Any]
    path: str = "prodscale.toml"
    name: str = "untitled"
    engine: str = DEFAULT_ENGINE
    profile: str = "generic"
    stories_dir: str = "stories"
    heading_prefixes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def get(self, dotted: str) -> Any:
        """The value at a dotted key (``project.profile``), or None when absent."""
        node: Any = self.raw
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    def select(self, keys: tuple[str, ...]) -> dict[str, Any]:
        """The settings a stage declared, by dotted key: what goes into its action key."""
        return {k: self.get(k) for k in keys}


def validate_settings(data: dict[str, Any], *, path: str, text: str) -> Settings:
    """Check the parsed ``prodscale.toml`` table and return Settings; errors name the line."""

    def fail(message: str, key: KeyPath, hint: str) -> ConfigError:
        return ConfigError(message, hint=hint, path=path, line=line_of(text, key))

    for section, value in data.items():
        if section not in _KNOWN:
            raise fail(f"unknown section or key '{section}'", (section,),
                       f"known sections: {', '.join(sorted(_KNOWN))}")
        allowed = _KNOWN[section]
        if section == "waive":
            entries = value if isinstance(value, list) else [None]
            for index, e in enumerate(entries):
                if not (isinstance(e, dict) and {"code", "reason"} <= set(e) and str(e.get("reason", "")).strip()):
                    raise fail("each [[waive]] needs code and a reason (and optionally story, scene, match)",
                               (section, index) if isinstance(value, list) else (section,),
                               'e.g. [[waive]]\nstory = "pilot"\ncode = "PS107"\nmatch = "Abraham Lincoln"\n'
                               'reason = "the historical figure is played by an actor; likeness cleared"')
            continue
        if section == "acknowledge":
            if not isinstance(value, list):
                raise fail("'acknowledge' must be an array of tables ([[acknowledge]])", (section,),
                           "write [[acknowledge]] with story, code and reason")
            for index, entry in enumerate(value):
                if not isinstance(entry, dict) or not {"code", "reason"} <= set(entry):
                    raise fail("each [[acknowledge]] needs code and reason (and optionally story)",
                               (section, index),
                               'e.g. [[acknowledge]]\\nstory = "pilot"\\ncode = "PS401"\\nreason = "..."')
                bad = [k for k, v in entry.items() if not isinstance(v, str) or not v.strip()]
                if bad:   # an ill-typed entry was accepted silently and matched nothing
                    raise fail(f"[[acknowledge]] {bad[0]} must be a non-empty string", (section, index, bad[0]),
                               'e.g. code = "PS401" and reason = "the boathouse is timeless"')
            continue
        if not isinstance(value, dict):
            raise fail(f"'{section}' must be a table", (section,), f"write it as [{section}]")
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    raise fail(f"unknown key '{key}' in [{section}]", (section, key),
                               f"known keys in [{section}]: {', '.join(sorted(allowed))}")
        if section == "style":   # a wrong-typed value reached the prompts stage as an internal error
            for key, v in value.items():
                if not isinstance(v, str):
                    raise fail(f"[style] {key} must be a string, not {type(v).__name__}", ("style", key),
                               f'e.g. {key} = "{_STYLE_EXAMPLES.get(key, "...")}"')
    project = data.get("project", {})

    def text_value(key: str, default: str) -> str:
        value = project.get(key, default)
        if not isinstance(value, str) or not value:
            raise fail(f"project.{key} must be a non-empty string", ("project", key), f'e.g. {key} = "{default}"')
        return value

    engine = text_value("engine", DEFAULT_ENGINE)
    if not re.fullmatch(r"\d+\.\d+\.\d+", engine):
        raise fail(f"project.engine '{engine}' is not a version like 1.0.0", ("project", "engine"),
                   'e.g. engine = "1.0.0"')
    stories_dir = text_value("stories", "stories")
    if stories_dir.startswith("/") or ".." in stories_dir.split("/"):
        raise fail("project.stories must be a folder inside the project", ("project", "stories"),
                   'e.g. stories = "stories"')
    prefixes = project.get("heading_prefixes", [])
    if not isinstance(prefixes, list) or not all(isinstance(p, str) and p.strip() for p in prefixes):
        raise fail("project.heading_prefixes must be a list of non-empty strings", ("project", "heading_prefixes"),
                   'e.g. heading_prefixes = ["ИНТ.", "НАТ."]')
    paper = project.get("paper", "letter")
    if paper not in ("letter", "a4"):
        raise fail(f"project.paper '{paper}' is not a paper size prodscale paginates", ("project", "paper"),
                   'paper = "letter" (US Letter, 55 lines a page) or paper = "a4" (57 lines)')
    characters = data.get("characters", {})
    for cname, entry in characters.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("description", ""), str):
            raise fail(f"characters.{cname} must be a table with a description string", ("characters", cname),
                       f'e.g. [characters.{cname}]\\ndescription = "..."')
    return Settings(raw=data, path=path, name=str(project.get("name", "untitled")), engine=engine,
                    profile=text_value("profile", "generic"), stories_dir=stories_dir,
                    heading_prefixes=tuple(prefixes))


# a story name becomes build/<name>/ and temp files ".<file>.<random>.tmp" in it: file systems allow 255 bytes
MAX_STORY_NAME = 120


def story_name_problem(name: str) -> str | None:
    """What is wrong with a story name, in words a writer can act on; None when it is fine. Story names
    become folder names under build/: ASCII letters, digits, '.', '_' and '-', at most MAX_STORY_NAME
    characters (a longer name passed the check and then failed every build)."""
    if not name:
        return "is empty"
    if len(name) > MAX_STORY_NAME:
        return f"is {len(name)} characters long; at most {MAX_STORY_NAME} characters fit a folder name everywhere"
    if not (name[0].isascii() and name[0].isalnum()):
        return (f"starts with {name[0]!r}: a name starts with a letter or a digit (a leading '-' reads as an "
                "option on a command line, a leading '.' hides the folder)")
    if name.endswith("."):
        return "ends with '.', which some file systems drop from folder names"
    bad = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c in "._-"))})
    if bad:
        return f"has {', '.join(repr(c) for c in bad)}: use ASCII letters, digits, '-', '_' or '.'"
    return None
