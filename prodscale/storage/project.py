"""Loading a project from disk: its root, settings, stories and the rule data of an engine.

This is the storage layer's door to the user's files; everything it returns is plain data for
the pure core. Errors name the file and line and say what to do.
"""

from __future__ import annotations

import importlib.resources
import os
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from prodscale.core.canon import digest_bytes, digest_obj
from prodscale.core.settings import Settings, story_name_problem, validate_settings
from prodscale.errors import ConfigError, InputError, UsageError
from prodscale.storage.fs import atomic_write

CONFIG_NAME = "prodscale.toml"
STATE_DIR = ".prodscale"
BUILD_DIR = "build"
STORY_SUFFIX = ".fountain"
RULE_DIGESTS = "rule-digests.json"


@dataclass(frozen=True)
class StoryFile:
    name: str          # story name: file stem, also its folder under build/
    rel_path: str      # path relative to the project root, with '/' separators
    abs_path: Path


class RuleSet:
    """The rule files of one engine version: raw text, canonical digests, and the parsed data.

    The digests (what action keys hold) come from a cache of text digest -> canonical digest when
    it knows the text, so a no-op build reads the files but never parses them; ``data`` is parsed
    on first use (a story that compiles needs it)."""

    def __init__(self, version: str, texts: dict[str, str], digests: dict[str, str],
                 data: dict[str, Any] | None = None) -> None:
        self.version = version
        self.texts = texts         # file name -> raw text (for `why` diffs)
        self.digests = digests     # file name -> digest of canonical JSON of the parsed TOML
        self._data = data

    @property
    def data(self) -> Mapping[str, Any]:
        """File name -> parsed TOML, each file parsed when first read (a one-scene edit reads the files
        its reader and stages use, not explain.toml)."""
        return _Parsed(self)

    @cached_property
    def digest(self) -> str:
        return digest_obj(self.digests)


class _Parsed(Mapping[str, Any]):
    """A rule set's parsed files as a read-only mapping, parsing on first access and keeping the result."""

    def __init__(self, rules: RuleSet) -> None:
        self._rules = rules

    def __getitem__(self, name: str) -> Any:
        cache = self._rules._data
        if cache is None:
            cache = self._rules._data = {}
        if name not in cache:
            if name not in self._rules.texts:
                raise KeyError(name)
            cache[name] = _parse_rule_file(self._rules.version, name, self._rules.texts[name])
        return cache[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rules.texts)

    def __len__(self) -> int:
        return len(self._rules.texts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self.items()) == dict(other.items())

    __hash__ = None  # type: ignore[assignment]


def _parse_rule_file(version: str, name: str, text: str) -> Any:
    if name.endswith(".tsv"):   # a word list: rows of tab-separated fields
        return [line.split("\t") for line in text.split("\n") if line.strip() and not line.startswith("#")]
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"rule file {name} of engine {version} is not valid TOML: {exc}") from None


def find_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` holding prodscale.toml."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    raise ConfigError(f"no {CONFIG_NAME} found in {start} or any folder above it",
                      hint="run `prodscale init` to create a project here, or pass -C DIR")


def rules_root() -> Path:
    return Path(str(importlib.resources.files("prodscale.rules")))


def load_rules(version: str, known: dict[str, str] | None = None) -> RuleSet:
    """The rule files of ``version``. ``known`` maps the sha256 of a file's text to its canonical
    digest (filled in for the files this call parsed): a text it knows is not parsed."""
    folder = rules_root() / version
    if not folder.is_dir():
        raise UsageError(f"no rule data for engine {version} (looked in {folder.name}/)",
                         hint="reinstall prodscale, or pin the story to a shipped engine")
    data: dict[str, Any] = {}
    digests: dict[str, str] = {}
    texts: dict[str, str] = {}
    for path in sorted([*folder.rglob("*.toml"), *folder.rglob("*.tsv")]):
        name = path.relative_to(folder).as_posix()
        raw = path.read_bytes()
        text = raw.decode("utf-8")
        key = digest_bytes(raw)
        digest = None if known is None else known.get(key)
        if digest is None:
            data[name] = _parse_rule_file(version, name, text)
            digest = digest_obj(data[name])
            if known is not None:
                known[key] = digest
        digests[name] = digest
        texts[name] = text
    return RuleSet(version, texts, digests, data)


class Project:
    """A project on disk: root folder, settings and where things live."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config_path = root / CONFIG_NAME
        self.state_dir = root / STATE_DIR
        self.build_dir = root / BUILD_DIR
        self._rules: dict[str, RuleSet] = {}
        self._known_digests: dict[str, str] | None = None
        self.hidden_stories: list[str] = []   # stories/.name.fountain, found by story_files (never compiled)
        self.config_text, self.settings = self._load_settings()

    @classmethod
    def open(cls, directory: str | os.PathLike[str] | None) -> Project:
        start = Path(directory) if directory else Path.cwd()
        if directory and not start.is_dir():
            raise UsageError(f"project folder {directory} does not exist")
        return cls(find_root(start))

    def _load_settings(self) -> tuple[str, Settings]:
        try:
            raw = self.config_path.read_bytes()
        except FileNotFoundError:
            raise ConfigError(f"{CONFIG_NAME} is missing", path=CONFIG_NAME,
                              hint="run `prodscale init` to create one") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad_line = raw[: exc.start].count(b"\n") + 1
            raise ConfigError("not valid UTF-8", path=CONFIG_NAME, line=bad_line, hint="save it as UTF-8") from None
        try:
            data = tomllib.loads(text)
        except RecursionError:   # 5,000-deep arrays: the parser's recursion, not a traceback
            raise ConfigError("nested too deeply to read", path=CONFIG_NAME,
                              hint="prodscale.toml needs no nesting beyond a few levels: remove the deep array"
                              ) from None
        except tomllib.TOMLDecodeError as exc:
            line = getattr(exc, "lineno", None)
            msg = str(exc)
            if line is None and "(at line " in msg:
                try:
                    line = int(msg.rsplit("(at line ", 1)[1].split(",")[0])
                except ValueError:
                    line = None
            raise ConfigError(f"malformed TOML: {msg}", path=CONFIG_NAME, line=line,
                              hint="fix the line shown (see https://toml.io for the syntax)") from None
        return text, validate_settings(data, path=CONFIG_NAME, text=text)

    def rules(self, version: str) -> RuleSet:
        """The engine's rule data; its digests come through ``.prodscale/rule-digests.json`` (text
        digest -> canonical digest: a pure function of the text, so a stale entry cannot exist),
        which spares a no-op build the parsing of every rule file."""
        if version not in self._rules:
            known = self._rule_digests()
            before = len(known)
            self._rules[version] = load_rules(version, known)
            if len(known) != before and self.state_dir.is_dir():
                try:
                    atomic_write(self.state_dir / RULE_DIGESTS,
                                 orjson.dumps(dict(sorted(known.items())), option=orjson.OPT_SORT_KEYS))
                except OSError:
                    pass  # a cache: without it the next build parses again
        return self._rules[version]

    def _rule_digests(self) -> dict[str, str]:
        if self._known_digests is None:
            self._known_digests = {}
            try:
                loaded = orjson.loads((self.state_dir / RULE_DIGESTS).read_bytes())
                if isinstance(loaded, dict):
                    self._known_digests = {k: v for k, v in loaded.items() if isinstance(k, str) and isinstance(v, str)}
            except (OSError, orjson.JSONDecodeError):
                pass
        return self._known_digests

    def _config_line(self, *key: str) -> int | None:
        """The line of the key path ``key`` (``"project", "stories"``) in prodscale.toml, for an error that
        names it."""
        from prodscale.core.toml_lines import line_of
        return line_of(self.config_text, key)

    def stories_dir(self) -> Path:
        return self.root / self.settings.stories_dir

    def story_files(self) -> tuple[list[StoryFile], list[InputError]]:
        """Every ``*.fountain`` under the stories folder, sorted by name; bad ones as errors."""
        folder = self.stories_dir()
        found: list[StoryFile] = []
        errors: list[InputError] = []
        if not folder.is_dir():
            # a mistyped `stories` must not read as "every story was deleted" (a build would drop them all)
            raise ConfigError(f"the stories folder '{self.settings.stories_dir}' does not exist", path=CONFIG_NAME,
                              line=self._config_line("project", "stories"),
                              hint="fix `stories` under [project] in prodscale.toml, or create the folder")
        root_real = os.path.realpath(self.root)
        folder_real = os.path.realpath(folder)
        with os.scandir(folder) as it:
            entries = sorted((e.name, e.is_symlink()) for e in it)
        self.hidden_stories = [f"{self.settings.stories_dir}/{e}" for e, _ in entries
                               if e.startswith(".") and e.endswith(STORY_SUFFIX)]
        for entry, is_link in entries:
            if not entry.endswith(STORY_SUFFIX) or entry.startswith("."):
                continue
            path = folder / entry
            rel = f"{self.settings.stories_dir}/{entry}"
            name = entry[: -len(STORY_SUFFIX)]
            # only links (or a linked stories folder) can lead out of the project; resolve just those
            real = os.path.realpath(path) if is_link else os.path.join(folder_real, entry)
            if os.path.commonpath([root_real, real]) != root_real:
                errors.append(InputError("the story is a symbolic link that leaves the project", path=rel,
                                         hint="copy the file into the project instead of linking to it"))
                continue
            problem = story_name_problem(name)
            if problem is not None:
                errors.append(InputError(f"story name '{name[:60]}{'...' if len(name) > 60 else ''}' {problem}",
                                         path=rel, hint="rename the file: a story's name is its folder under build/"))
                continue
            if not os.path.isfile(path):
                continue
            found.append(StoryFile(name, rel, path))
        return found, errors
