"""Errors in prodscale.toml and prodscale.lock name the line of the key inside its own table.

The reported bug (issue 14): with two providers ``[providers.a]`` and ``[providers.b]``, a bad ``endpoint``
in b was reported at the line of a's ``endpoint``, because every helper searched the whole text for the
first ``endpoint =``. These tests write a file where the same key appears earlier in another table (or in a
multi-line string) and check that the error names the line of the one that is wrong.
"""

from __future__ import annotations

from pathlib import Path

import pytest

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

from prodscale.core.toml_lines import line_of  # noqa: E402

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
