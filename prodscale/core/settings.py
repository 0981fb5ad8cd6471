"""Project settings (``prodscale.toml``) as validated, immutable data.

Parsing TOML is the caller's job (storage); this module checks the parsed table against the typed
structs below (:func:`prodscale.core.toml_lines.convert`: strict types, no unknown sections or keys) so
every error names the file, the line of the offending key inside its own table, and what to do.
Stages read settings by dotted key (``project.profile``, ``style``, ``characters``); the engine
hashes exactly the keys a stage declares, from ``Settings.raw``: the parsed table as it is, never the
structs (a default the structs fill in must not change a build key).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

import msgspec

from prodscale.core.toml_lines import convert, line_of, says
from prodscale.errors import ConfigError

DEFAULT_ENGINE = "2.0.0"

_VERSION = r"^\d+\.\d+\.\d+$"
_SOME_TEXT = r"\S"   # a string with more than blanks in it
_TABLE = says("'{key}' must be a table", "write it as [{key}]")


def _text(default: str) -> msgspec.Meta:
    return says("{name} must be a non-empty string", f'e.g. {{key}} = "{default}"', min_length=1)


def _style(example: str) -> msgspec.Meta:   # a wrong-typed value reached the prompts stage as an internal error
    return says("{name} must be a string, not {type}", f'e.g. {{key}} = "{example}"')


class _Project(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, says("{name} must be a string", 'e.g. name = "Tidewater Shorts"')] = "untitled"
    engine: Annotated[str, says("{name} '{value}' is not a version like 1.0.0", 'e.g. engine = "1.0.0"',
                                pattern=_VERSION)] = DEFAULT_ENGINE
    profile: Annotated[str, _text("generic")] = "generic"
    stories: Annotated[str, _text("stories")] = "stories"
    heading_prefixes: Annotated[list[Annotated[str, msgspec.Meta(pattern=_SOME_TEXT)]],
                                says("{name} must be a list of non-empty strings",
                                     'e.g. heading_prefixes = ["ИНТ.", "НАТ."]')] = []
    paper: Annotated[Literal["letter", "a4"],
                     says("{name} '{value}' is not a paper size prodscale paginates",
                          'paper = "letter" (US Letter, 55 lines a page) or paper = "a4" (57 lines)')] = "letter"


class _Style(msgspec.Struct, forbid_unknown_fields=True):
    look: Annotated[str, _style("natural light, 35mm film grain")] = ""
    aspect: Annotated[str, _style("16:9")] = ""
    negative: Annotated[str, _style("text, watermark")] = ""


class _Character(msgspec.Struct):   # other keys are the writer's notes, free-form
    WORDS: ClassVar[msgspec.Meta] = says("[characters.{key}] must be a table with a description string",
                                         'e.g. [characters.{key}]\\ndescription = "..."')
    description: str = ""


_Acknowledged = Annotated[str, says("{name} must be a non-empty string",   # an ill-typed entry matched nothing
                                    'e.g. code = "PS401" and reason = "the boathouse is timeless"',
                                    pattern=_SOME_TEXT)]


class _Acknowledgement(msgspec.Struct, forbid_unknown_fields=True):
    WORDS: ClassVar[msgspec.Meta] = says(
        "each [[acknowledge]] needs code and reason (and optionally story)",
        'e.g. [[acknowledge]]\\nstory = "pilot"\\ncode = "PS401"\\nreason = "..."',
        missing="each [[acknowledge]] needs code and reason (and optionally story)")
    code: _Acknowledged
    reason: _Acknowledged
    story: _Acknowledged | None = None
    scene: _Acknowledged | None = None


_WAIVER = "each [[waive]] needs code and a reason (and optionally story, scene, match)"
_WAIVER_HINT = ('e.g. [[waive]]\nstory = "pilot"\ncode = "PS107"\nmatch = "Abraham Lincoln"\n'
                'reason = "the historical figure is played by an actor; likeness cleared"')


class _Waiver(msgspec.Struct, forbid_unknown_fields=True):   # engine 2.0.0: a producer's waiver of one error
    WORDS: ClassVar[msgspec.Meta] = says(_WAIVER, _WAIVER_HINT, missing=_WAIVER)
    code: Annotated[str, msgspec.Meta(pattern=_SOME_TEXT)]
    reason: Annotated[str, msgspec.Meta(pattern=_SOME_TEXT)]
    story: str | None = None
    scene: str | int | None = None
    match: str | None = None


class _SettingsFile(msgspec.Struct, forbid_unknown_fields=True):
    """prodscale.toml as a whole; [providers] and [budget] are read by core/generation.py, on use."""

    WORDS: ClassVar[msgspec.Meta] = says(unknown="unknown section or key '{key}'",
                                         unknown_hint="known sections: {known}")
    project: Annotated[_Project, _TABLE] = msgspec.field(default_factory=_Project)
    style: Annotated[_Style, _TABLE] = msgspec.field(default_factory=_Style)
    characters: Annotated[dict[str, _Character], _TABLE] = {}
    acknowledge: Annotated[list[_Acknowledgement],
                           says("'acknowledge' must be an array of tables ([[acknowledge]])",
                                "write [[acknowledge]] with story, code and reason")] = []
    waive: Annotated[list[_Waiver], says(_WAIVER, _WAIVER_HINT)] = []
    providers: Annotated[dict[str, Any], says("'providers' must be a table", "write [providers.<name>] tables")] = {}
    budget: Annotated[dict[str, Any], _TABLE] = {}


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
    project = convert(data, _SettingsFile, text=text, file=path).project
    stories_dir = project.stories
    if stories_dir.startswith("/") or ".." in stories_dir.split("/"):
        raise ConfigError("[project] stories must be a folder inside the project", hint='e.g. stories = "stories"',
                          path=path, line=line_of(text, ("project", "stories")))
    return Settings(raw=data, path=path, name=project.name, engine=project.engine, profile=project.profile,
                    stories_dir=stories_dir, heading_prefixes=tuple(project.heading_prefixes))


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
