"""Small projects of our own writing for engine tests."""

from __future__ import annotations

from pathlib import Path

import orjson

from prodscale.cli.main import main

CONFIG = """[project]
name = "Test Production"
engine = "1.0.0"
profile = "generic"

[style]
look = "soft daylight"
aspect = "16:9"
negative = "text"

[characters.NELL]
description = "woman in her forties, grey braid, green wool coat"
"""


def scene(n: int, place: str = "WORKSHOP", time: str = "DAY", extra: str = "") -> str:
    return (f"INT. {place} {n} - {time}\n\n"
            f"NELL sands a wooden CHAIR by the window number {n}.{extra}\n\n"
            f"NELL\nThis one is nearly done, number {n}.\n\n")


def story(n_scenes: int, title: str = "Chairs", start: int = 1) -> str:
    body = "".join(scene(i) for i in range(start, start + n_scenes))
    return f"Title: {title}\nAuthor: Test\n\n{body}"


def make_project(root: Path, stories: dict[str, str], config: str = CONFIG) -> Path:
    (root / "stories").mkdir(parents=True, exist_ok=True)
    (root / "prodscale.toml").write_text(config, encoding="utf-8")
    for name, text in stories.items():
        (root / "stories" / f"{name}.fountain").write_text(text, encoding="utf-8")
    return root


def run(capsys, *args: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def build_json(capsys, root: Path, *extra: str) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, "build", "--json", "-C", str(root), *extra)
    assert out.strip(), f"no JSON on stdout; stderr: {err}"
    return code, orjson.loads(out)


def tree_bytes(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` by relative path, for byte-for-byte comparisons."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
