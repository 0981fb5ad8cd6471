"""Errors in prodscale.toml and prodscale.lock name the line of the key inside its own table, in words.

The reported bug (issue 14): with two providers ``[providers.a]`` and ``[providers.b]``, a bad ``endpoint``
in b was reported at the line of a's ``endpoint``, because every helper searched the whole text for the
first ``endpoint =``. These tests write a file where the same key appears earlier in another table (or in a
multi-line string) and check that the error names the line of the one that is wrong. Then the locator
itself (core/toml_lines.line_of), and the typed reading of the tables (core/toml_lines.convert): strict
types, prodscale's words, the same values as before.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from prodscale.core.toml_lines import line_of
from prodscale.errors import ConfigError, InputError
from projects import CONFIG, make_project, run, story

PROVIDERS = """
[providers.a]
kind = "http"
endpoint = "http://127.0.0.1:8765"
model = "m1"
api_key_env = "A_KEY"

[providers.a.prices.m1]
per_request = 1

[providers.b]
kind = "http"
endpoint = "ftp://example.com"
model = "m1"
api_key_env = "B_KEY"

[providers.b.prices.m1]
per_request = 1
"""


def line_with(text: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the ``occurrence``-th line that holds ``needle``."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


def test_a_bad_endpoint_of_the_second_provider_names_its_own_line(tmp_path: Path, capsys) -> None:
    config = CONFIG + PROVIDERS
    root = make_project(tmp_path / "p", {"alpha": story(1)}, config)
    want = line_with(config, 'endpoint = "ftp://example.com"')
    assert want != line_with(config, "endpoint =")          # a's endpoint comes first
    code, out, err = run(capsys, "generate", "--dry-run", "-C", str(root))
    assert code == 2 and f"prodscale.toml:{want}: error: providers.b" in err, err


def test_the_provider_parser_names_the_line_in_its_own_table() -> None:
    import tomllib

    from prodscale.core.generation import parse_providers
    text = PROVIDERS.replace('endpoint = "ftp://example.com"', 'endpoint = "http://b.example.com"')
    text = text.replace('api_key_env = "B_KEY"', 'api_key_env = "B KEY"')
    with pytest.raises(ConfigError) as err:
        parse_providers(tomllib.loads(text), path="prodscale.toml", text=text)
    assert "providers.b" in err.value.message and "api_key_env" in err.value.message
    assert err.value.line == line_with(text, 'api_key_env = "B KEY"'), err.value.render()


def test_a_bad_acknowledgement_names_its_own_entry(tmp_path: Path) -> None:
    from prodscale.storage.project import Project
    config = (CONFIG + '\n[[acknowledge]]\ncode = "PS401"\nreason = "fine"\n'
              '\n[[acknowledge]]\ncode = 403\nreason = "also fine"\n')
    root = make_project(tmp_path / "p", {"alpha": story(1)}, config)
    with pytest.raises(ConfigError) as err:
        Project(root)
    assert "code must be a non-empty string" in err.value.message
    assert err.value.line == line_with(config, "code = 403"), err.value.render()


def test_a_key_like_line_inside_a_multi_line_string_is_not_the_key(tmp_path: Path) -> None:
    from prodscale.storage.project import Project
    config = ('[style]\nnegative = """text,\npaper = "a4"\n"""\nlook = \'\'\'\n[project]\npaper = "a4"\'\'\'\n\n'
              '[project]\nengine = "1.0.0"  # paper = "letter"\npaper = "legal"\n')
    root = make_project(tmp_path / "p", {"alpha": story(1)}, config)
    with pytest.raises(ConfigError) as err:
        Project(root)
    assert "paper" in err.value.message
    assert err.value.line == line_with(config, 'paper = "legal"'), err.value.render()


def test_a_bad_floor_in_the_lock_names_its_own_story(tmp_path: Path) -> None:
    from prodscale.storage.lockfile import LockFile
    digest = "0" * 64
    text = ("format = 1\n\n"
            f'[stories.alpha]\nengine = "1.0.0"\nfloor = "1.0.0"\ncompilation_hash = "{digest}"\n\n'
            f'[stories.beta]\nengine = "1.0.0"\nfloor = "one"\ncompilation_hash = "{digest}"\n')
    (tmp_path / "prodscale.lock").write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        LockFile.load(tmp_path)
    assert "stories.beta" in err.value.message
    assert err.value.line == line_with(text, 'floor = "one"'), err.value.render()


# --------------------------------------------------------------------------- the locator itself

DOC = '''# a comment: endpoint = "not a key"
title = "x"

[providers.a]
endpoint = "a"

[providers.b]    # b's header
kind = "http"
  endpoint = "b"
prices.m1 = { per_request = 1, durations = { "10000" = 45 } }
retry = [
  1,  # endpoint = "still not a key"
  { x = 2 },
]
notes = """
endpoint = "inside a string"
"""
literal = \'\'\'
[providers.c]
endpoint = "inside a string too"\'\'\'

[[acknowledge]]
code = "A"

[[acknowledge]]
code = "B"

[acknowledge.sub]
z = 1

["quoted.key".'lit']
"esc\\u0041" = 2
a . b = 3
'''


@pytest.mark.parametrize("path, line", [
    (("title",), 2),
    (("providers", "a", "endpoint"), 5),
    (("providers", "b", "endpoint"), 9),                       # indented, after a's
    (("providers", "b", "kind"), 8),
    (("providers", "b", "model"), 7),                          # not written: the table's header
    (("providers", "b", "prices"), 10),                        # created by a dotted key
    (("providers", "b", "prices", "m1", "durations", "10000"), 10),   # inside inline tables: their line
    (("providers", "b", "retry"), 11),
    (("providers", "b", "retry", 0), 12),                      # an element of a multi-line array
    (("providers", "b", "retry", 1, "x"), 13),
    (("providers", "b", "notes"), 15),
    (("providers", "c"), 4),                                   # only inside a string: the table around it
    (("providers", "c", "endpoint"), None),
    (("providers",), 4),                                       # created by the first header under it
    (("providers", "c", "kind"), None),                        # no such table: no line of another one
    (("acknowledge",), 22),
    (("acknowledge", 0, "code"), 23),
    (("acknowledge", 1, "code"), 26),
    (("acknowledge", 1), 25),
    (("acknowledge", 1, "sub", "z"), 29),                      # [acknowledge.sub] is in the last [[acknowledge]]
    (("acknowledge", 2, "code"), None),
    (("quoted.key", "lit", "escA"), 32),
    (("quoted.key", "lit", "a", "b"), 33),
    (("quoted.key", "lit", "missing"), 31),
    (("nowhere",), None),
    ((), None),
])
def test_line_of_finds_the_key_in_its_own_table(path: tuple[str | int, ...], line: int | None) -> None:
    import tomllib
    tomllib.loads(DOC)   # the document is valid TOML
    assert line_of(DOC, path) == line


def test_windows_line_ends_and_a_text_without_a_final_newline() -> None:
    text = '[a]\r\nx = 1\r\n[b]\r\nx = "2"'
    assert line_of(text, ("b", "x")) == 4 and line_of(text, ("a", "x")) == 2


def _walk(value: object, path: tuple[str | int, ...] = ()):  # type: ignore[no-untyped-def]
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, (*path, i))


def _toml_files() -> list[Path]:
    repo = Path(__file__).resolve().parents[1]
    return sorted((repo / "rules").rglob("*.toml")) + [repo / "example_project" / "prodscale.toml"]


@pytest.mark.parametrize("file", _toml_files(), ids=lambda p: "/".join(p.parts[-2:]))
def test_every_key_of_the_shipped_toml_files_is_found_on_its_own_line(file: Path) -> None:
    """Every key of every rule file (multi-line strings, arrays of tables, inline tables: all of it): a key
    written as ``key = value`` on a line of its own is found on exactly that line, value and all."""
    import tomllib
    text = file.read_text(encoding="utf-8")
    lines = text.splitlines()
    checked = 0
    for path, value in _walk(tomllib.loads(text)):
        if not path:
            continue
        line = line_of(text, path)
        assert line is not None, path
        if not isinstance(path[-1], str) or isinstance(value, (dict, list)):
            continue
        try:
            alone = tomllib.loads(lines[line - 1])
        except tomllib.TOMLDecodeError:
            continue   # the first line of a value over several lines
        keys: list[str] = []
        node: object = alone
        while isinstance(node, dict) and len(node) == 1:
            (k, node), = node.items()
            keys.append(k)
        if not isinstance(node, dict):
            assert tuple(keys) == path[len(path) - len(keys):] and node == value, (path, lines[line - 1])
            checked += 1
    assert checked > 0


def test_a_broken_text_gives_what_it_can_and_never_raises() -> None:
    for cut in range(len(DOC)):
        line_of(DOC[:cut], ("providers", "b", "endpoint"))
        line_of(DOC[cut:], ("acknowledge", 1, "code"))
    assert line_of('[providers.b\nendpoint = "x"\n[c]\ny = [1, {', ("c", "y")) == 4


# --------------------------------------------------------------------------- typed tables (toml_lines.convert)

def _settings(config: str):  # type: ignore[no-untyped-def]
    import tomllib

    from prodscale.core.settings import validate_settings
    return validate_settings(tomllib.loads(config), path="prodscale.toml", text=config)


ACKS = '[[acknowledge]]\ncode = "PS401"\nreason = "fine"\n\n[[acknowledge]]\ncode = "PS402"\n'


@pytest.mark.parametrize("config, message, hint, needle", [
    # strict types: a float is no version string, a bool is no string
    ('[project]\nengine = 1.0\n', "[project] engine '1.0' is not a version like 1.0.0", 'engine = "1.0.0"',
     "engine = 1.0"),
    ('[style]\nlook = "x"\naspect = true\n', "[style] aspect must be a string, not bool", 'aspect = "16:9"',
     "aspect = true"),
    # the second [[acknowledge]]: its own key, its own header when the key is missing
    (ACKS + 'reason = "also"\nsceen = "3"\n', "unknown key 'sceen' in [[acknowledge]] #2",
     "known keys in [[acknowledge]]: code, reason, scene, story", "sceen"),
    (ACKS, "each [[acknowledge]] needs code and reason", "[[acknowledge]]", ("[[acknowledge]]", 2)),
    (ACKS + 'reason = "  "\n', "[[acknowledge]] #2 reason must be a non-empty string", 'reason = "',
     'reason = "  "'),
    # a multi-line array: the element's own line
    ('[project]\nheading_prefixes = [\n  "INT.",\n  "",\n]\n', "[project] heading_prefixes must be a list of "
     "non-empty strings", "heading_prefixes = [", '  "",'),
    ('[waive]\ncode = "PS107"\n', "each [[waive]] needs code and a reason", "[[waive]]", "[waive]"),
    ('[[waive]]\ncode = "PS107"\nreason = "cleared"\nmach = "Lincoln"\n', "unknown key 'mach' in [[waive]] #1",
     "known keys in [[waive]]: code, match, reason, scene, story", "mach"),
    ('[characters.NELL]\ndescription = "x"\n\n[characters.TEO]\ndescription = 5\n',
     "[characters.TEO] must be a table with a description string", "[characters.TEO]", "description = 5"),
    ('[style]\nlook = "x"\n[stlye]\nlook = "y"\n', "unknown section or key 'stlye'", "known sections: acknowledge, "
     "budget, characters, project, providers, style, waive", "[stlye]"),
    # a value is never read as a placeholder of the message
    ('[project]\nengine = "{name}"\n', "[project] engine '{name}' is not a version", "", 'engine = "{name}"'),
])
def test_settings_errors_say_what_and_where(config: str, message: str, hint: str,
                                            needle: str | tuple[str, int]) -> None:
    with pytest.raises(ConfigError) as err:
        _settings(config)
    assert message in err.value.message and hint in (err.value.hint or ""), err.value.render()
    want = line_with(config, *needle) if isinstance(needle, tuple) else line_with(config, needle)
    assert err.value.path == "prodscale.toml" and err.value.line == want, err.value.render()


def test_settings_keep_the_parsed_table_as_it_is() -> None:
    """Settings.raw is hashed into the build keys: it is the parsed table itself, no default filled in."""
    import tomllib
    text = (Path(__file__).resolve().parents[1] / "example_project" / "prodscale.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    settings = _settings(text)
    assert settings.raw == data and "paper" not in settings.raw["project"]
    assert (settings.name, settings.engine, settings.profile, settings.stories_dir, settings.heading_prefixes) == (
        "Tidewater Shorts", "2.0.0", "generic", "stories", ())
    assert _settings("").raw == {} and _settings("").engine == "2.0.0"


SECOND = PROVIDERS.replace('endpoint = "ftp://example.com"', 'endpoint = "http://b.example.com"')


@pytest.mark.parametrize("edit, message, needle", [
    # msgspec's path hides which provider and which model ($.providers[...].prices[...]): found all the same
    (("[providers.b.prices.m1]\nper_request = 1", '[providers.b.prices.m1]\nper_request = "1"'),
     "providers.b: prices.m1.per_request must be a non-negative integer", 'per_request = "1"'),
    (("[providers.b.prices.m1]\nper_request = 1", "[providers.b.prices.m1]\nper_request = 1\nper_minute = 2"),
     "unknown key 'per_minute' in [providers.b.prices.m1]", "per_minute"),
    (('api_key_env = "B_KEY"', 'api_key_env = "B_KEY"\nretry = { max_attempts = 0 }'),
     "providers.b: retry.max_attempts must be an integer >= 1", "retry = {"),
    (('api_key_env = "B_KEY"', 'api_key_env = "B_KEY"\nmax_concurrency = true'),
     "providers.b: max_concurrency must be a positive integer", "max_concurrency"),
    (('[providers.b]\nkind = "http"\nendpoint = "http://b.example.com"\n', "[providers.b]\n"),
     "[providers.b] has no endpoint", "[providers.b]"),
    (("[providers.b]", '[providers."b b"]'), "providers.\"b b\": the name must be letters", '[providers."b b"]'),
])
def test_provider_errors_name_the_provider_and_its_line(edit: tuple[str, str], message: str, needle: str) -> None:
    import tomllib

    from prodscale.core.generation import parse_providers
    text = SECOND.replace(*edit)
    if '"b b"' in text:
        text = text.replace("[providers.b.prices.m1]", '[providers."b b".prices.m1]')
    with pytest.raises(ConfigError) as err:
        parse_providers(tomllib.loads(text), path="prodscale.toml", text=text)
    assert message in err.value.message, err.value.render()
    assert err.value.line == line_with(text, needle, 2 if needle == "per_request = 1" else 1), err.value.render()


def test_an_inline_provider_table_names_its_line() -> None:
    import tomllib

    from prodscale.core.generation import parse_providers
    text = ('[providers]\na = { endpoint = "http://a", model = "m", api_key_env = "A", prices = { m = {} } }\n'
            'b = { endpoint = "http://b", model = "m", api_key_env = "B", prices = { m = { per_second = -1 } } }\n')
    with pytest.raises(ConfigError) as err:
        parse_providers(tomllib.loads(text), path="prodscale.toml", text=text)
    assert "providers.b: prices.m.per_second" in err.value.message and err.value.line == 3


def test_the_typed_tables_give_the_same_values() -> None:
    """What the rest of the code reads is what it always read: RetryPolicy's defaults and every field of a
    full retry table, the durations as integers, the endpoint without its trailing slash, the sorted codes."""
    import tomllib
    from dataclasses import fields

    from prodscale.core.generation import Budget, ModelPrice, RetryPolicy, parse_budget, parse_providers
    p = parse_providers(tomllib.loads(SECOND), text=SECOND)["b"]
    assert p.retry == RetryPolicy() and p.prices == {"m1": ModelPrice(1, 0, {})} and p.profile is None
    values = {f.name: 100 + i for i, f in enumerate(fields(RetryPolicy))}
    values["max_attempts"] = 7
    text = (SECOND.replace('"http://b.example.com"', '"http://b.example.com/v1/"')
            .replace('api_key_env = "B_KEY"', 'api_key_env = "B_KEY"\ncharged_failures = ["z", "a", "z"]')
            + 'durations = { "010000" = 45 }\n\n[providers.b.retry]\n'
            + "".join(f"{k} = {v}\n" for k, v in values.items()))
    p = parse_providers(tomllib.loads(text), text=text)["b"]
    assert p.retry == RetryPolicy(**values) and p.endpoint == "http://b.example.com/v1"
    assert p.prices["m1"].durations == {10000: 45} and p.charged_failures == ("a", "z")
    assert parse_budget({"budget": {"currency": " USD ", "decimals": 2}}) == Budget("USD", 2)
    for bad in (True, 2.0, "2", 7, -1):
        with pytest.raises(ConfigError, match="integer from 0 to 6"):
            parse_budget({"budget": {"decimals": bad}})


LOCK = ("format = 1\n\n"
        f'[stories.alpha]\nengine = "1.0.0"\nfloor = "1.0.0"\ncompilation_hash = "{"0" * 64}"\n\n'
        '[stories."b.c"]\nengine = "1.0.0"\n')


@pytest.mark.parametrize("edit, message, needle", [
    (('[stories."b.c"]\nengine = "1.0.0"\n', '[stories."b.c"]\nfloor = "1.0.0"\n'), 'stories."b.c" has no engine',
     '[stories."b.c"]'),
    (('[stories."b.c"]\nengine = "1.0.0"\n', '[stories."b.c"]\nengine = "1.0.0"\ncompilation_hash = "abc"\n'),
     'stories."b.c".compilation_hash must be a 64-hex-digit digest', 'compilation_hash = "abc"'),
    (('[stories."b.c"]\nengine = "1.0.0"\n', '[stories."b.c"]\nengine = "1.0.0"\npinned = true\n'),
     "unknown key 'pinned' in stories.\"b.c\"", "pinned"),
    (("format = 1", "format = 2"), "unsupported lock format 2", "format = 2"),
])
def test_lock_errors_name_the_story_and_its_line(tmp_path: Path, edit: tuple[str, str], message: str,
                                                 needle: str) -> None:
    from prodscale.storage.lockfile import LockFile
    text = LOCK.replace(*edit)
    (tmp_path / "prodscale.lock").write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        LockFile.load(tmp_path)
    assert message in err.value.message and "restore it from version control" in (err.value.hint or "")
    assert err.value.path == "prodscale.lock" and err.value.line == line_with(text, needle), err.value.render()


def test_a_valid_lock_reads_as_written(tmp_path: Path) -> None:
    from prodscale.storage.lockfile import ENTRY_KEYS, LockFile
    assert ENTRY_KEYS == ("engine", "floor", "inputs", "story_hash", "shot_specs_hash", "prompts_hash",
                          "compilation_hash")   # the order tables are written in
    text = LOCK.replace("format = 1", "format = 1\nextra = 1")   # an unknown top-level key: dropped, as always
    (tmp_path / "prodscale.lock").write_text(text, encoding="utf-8")
    assert LockFile.load(tmp_path).stories == {"alpha": {"engine": "1.0.0", "floor": "1.0.0",
                                                         "compilation_hash": "0" * 64},
                                               "b.c": {"engine": "1.0.0"}}
