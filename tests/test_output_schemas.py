"""Every JSON output validates against its published schema in docs/schemas/ (JSON Schema 2020-12).

Built here and validated with the jsonschema library: the example production on every shipped engine, a
handful of generated screenplays (tests/screenplay_gen.py: long, degenerate, other profiles), the real scripts
of ../shared/corpus when present, the `--json` outputs of build, status, verify, credits and generate in the
states a project passes through, generation.json from the sandbox provider, and prodscale.lock. Tampered
documents must fail, so the schemas are not vacuous.
"""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from copy import deepcopy
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

import screenplay_gen
from conftest import REPO, copy_example, shared_or_skip
from projects import CONFIG, build_json, make_project, run, story

SCHEMAS = REPO / "docs" / "schemas"
BASE = "https://prodscale.example/schemas/"
# engine -> the folder of its schemas (2.1.0, a preview, is 2.0.0's code with its own rule data: 2.0.0's shapes)
FAMILY = {"1.0.0": "1.x", "1.1.0": "1.x", "2.0.0": "2.0.0", "2.1.0": "2.0.0"}
ENGINE_FILES = ("shot_specs.json", "prompts.json", "src.json", "diagnostics.json", "stats.json")
PER_ENGINE = {  # the schemas a build of the example production on each engine uses
    "1.x": {"1.x/shot_specs.schema.json", "1.x/prompts.schema.json", "1.x/src.schema.json",
            "1.x/diagnostics.schema.json", "manifest.schema.json", "lock.schema.json"},
    "2.0.0": {"2.0.0/shot_specs.schema.json", "2.0.0/prompts.schema.json", "2.0.0/src.schema.json",
              "2.0.0/diagnostics.schema.json", "2.0.0/stats.schema.json", "manifest.schema.json",
              "lock.schema.json"},
}


def _load() -> tuple[dict[str, dict[str, Any]], Registry]:
    docs = {p.relative_to(SCHEMAS).as_posix(): json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(SCHEMAS.rglob("*.schema.json"))}
    registry: Registry = Registry().with_resources((d["$id"], Resource.from_contents(d)) for d in docs.values())
    return docs, registry


DOCS, REGISTRY = _load()
VALIDATORS = {rel: Draft202012Validator(doc, registry=REGISTRY) for rel, doc in DOCS.items()}


def problems(schema: str, instance: Any) -> list[str]:
    """What is wrong with ``instance`` under ``schema`` (a path in docs/schemas/), one line each."""
    out = []
    for err in sorted(VALIDATORS[schema].iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
        where = "/".join(str(p) for p in err.absolute_path) or "(top)"
        out.append(f"{schema}: at {where}: {err.message[:300]}")
    return out


def check(schema: str, instance: Any, what: str) -> None:
    found = problems(schema, instance)
    assert not found, f"{what} does not validate:\n" + "\n".join(found[:20])


def schema_of(path: Path, doc: Any) -> str:
    """The schema of one file of build/<story>/."""
    if path.name == "manifest.json":
        return "manifest.schema.json"
    if path.name == "generation.json":
        return "generation.schema.json"
    if path.name in ENGINE_FILES:
        engine = doc.get("engine") if isinstance(doc, dict) else None
        assert engine in FAMILY, f"{path}: engine {engine!r} has no schemas in docs/schemas/ (see its README)"
        return f"{FAMILY[engine]}/{path.stem}.schema.json"
    raise AssertionError(f"{path}: an output without a schema in docs/schemas/")


def output_problems(root: Path) -> tuple[Counter[str], list[str]]:
    """Every JSON file under build/<story>/ (the provider's own files under generated/ aside) and the lock,
    each against its schema: (schemas used, problems)."""
    seen: Counter[str] = Counter()
    found: list[str] = []
    for folder in sorted(p for p in (root / "build").iterdir() if p.is_dir()):
        for path in sorted(folder.glob("*.json")):
            doc = orjson.loads(path.read_bytes())
            schema = schema_of(path, doc)
            seen[schema] += 1
            found += [f"{path.relative_to(root)}: {p}" for p in problems(schema, doc)]
    lock = root / "prodscale.lock"
    if lock.exists():
        seen["lock.schema.json"] += 1
        found += [f"prodscale.lock: {p}" for p in problems("lock.schema.json", tomllib.loads(lock.read_text("utf-8")))]
    return seen, found


def check_outputs(root: Path) -> Counter[str]:
    seen, found = output_problems(root)
    assert not found, f"{len(found)} problem(s):\n" + "\n".join(found[:20])
    return seen


def cli_json(capsys: pytest.CaptureFixture[str], schema: str, *args: str) -> tuple[int, Any]:
    """Run ``prodscale ARGS`` in process; its stdout is one JSON document that must validate."""
    code, out, err = run(capsys, *args)
    assert out.strip(), f"prodscale {' '.join(args)}: nothing on stdout (exit {code}); stderr: {err}"
    doc = orjson.loads(out)
    check(schema, doc, f"prodscale {' '.join(args)}")
    return code, doc


def set_engine(root: Path, engine: str) -> None:
    toml = root / "prodscale.toml"
    text, n = re.subn(r'(?m)^engine = "[^"]*"$', f'engine = "{engine}"', toml.read_text(encoding="utf-8"), count=1)
    assert n == 1
    toml.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------------------- the schemas themselves

def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            else:
                yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def test_schemas_are_valid_named_resolvable_and_listed() -> None:
    readme = (SCHEMAS / "README.md").read_text(encoding="utf-8")
    assert len(DOCS) >= 20
    for rel, doc in DOCS.items():
        Draft202012Validator.check_schema(doc)
        assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema", rel
        assert doc["$id"] == BASE + rel, f"{rel}: $id must be its path under {BASE}"
        assert doc.get("title") and doc.get("description"), f"{rel}: title and description"
        assert f"`{rel}`" in readme, f"docs/schemas/README.md does not list {rel}"
        resolver = REGISTRY.resolver(base_uri=doc["$id"])
        for target in _refs(doc):
            resolver.lookup(target)   # raises on a $ref to nothing
    listed = set(re.findall(r"`([\w./-]+\.schema\.json)`", readme))
    assert listed <= set(DOCS), f"README lists schemas that do not exist: {sorted(listed - set(DOCS))}"


# --------------------------------------------------------------------------------------- real outputs

@pytest.mark.parametrize("engine", sorted(FAMILY))
def test_example_production_on_every_engine(engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = copy_example(tmp_path / "example")
    set_engine(root, engine)
    code, report = build_json(capsys, root)
    assert code in (0, 1)
    check("build-report.schema.json", report, "build --json")
    assert {s["engine"] for s in report["stories"].values()} == {engine}
    assert set(check_outputs(root)) == PER_ENGINE[FAMILY[engine]]
    _, rows = cli_json(capsys, "status.schema.json", "status", "--json", "-C", str(root))
    assert {r["state"] for r in rows["stories"]} == {"up-to-date"}
    _, again = cli_json(capsys, "build-report.schema.json", "build", "--json", "-C", str(root))
    assert again["executed"] == [] and any(s["diagnostics"] for s in again["stories"].values())  # replayed
    code, verified = cli_json(capsys, "verify-report.schema.json", "verify", "--json", "-C", str(root))
    assert code == 0 and verified["ok"]


GENERATED = {  # profile -> generated stories: a long one (built in chunks), the degenerate ones, other profiles
    "generic": (1, 17, 33, 66, 99, 132, 165),
    "veo3": (3, 243),
    "runway-gen4": (7,),
    "no-such-profile": (25,),
}
ASPECT = {"generic": "16:9", "veo3": "1:1", "runway-gen4": "21:9", "no-such-profile": "16:9"}
GEN_CONFIG = """[project]
name = "Generated"
engine = "{engine}"
profile = "{profile}"
heading_prefixes = ["ИНТ.", "НАТ.", "INNEN", "AUSSEN"]

[style]
look = "soft daylight"
aspect = "{aspect}"
negative = "text overlays, watermarks"

[characters.NELL]
description = "woman in her forties, grey braid, green wool coat"

[characters.TEO]
description = "wiry young man in his mid twenties, yellow oilskin jacket"
"""


@pytest.mark.parametrize("engine", sorted(FAMILY))
def test_generated_screenplays(engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for profile, indices in GENERATED.items():
        root = make_project(tmp_path / profile, {},
                            GEN_CONFIG.format(engine=engine, profile=profile, aspect=ASPECT[profile]))
        for i in indices:
            (root / "stories" / f"{screenplay_gen.name(i)}.fountain").write_bytes(screenplay_gen.screenplay(i))
        code, report = build_json(capsys, root, "-k")
        assert code in (0, 1) and not report["errors"], report["errors"]
        check("build-report.schema.json", report, f"build --json ({profile})")
        check_outputs(root)


@pytest.mark.parametrize("engine", sorted(FAMILY))
def test_corpus_scripts(engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = shared_or_skip("corpus")
    scripts = sorted(corpus.rglob("*.fountain"))
    if not scripts:
        pytest.skip(f"{corpus} holds no .fountain file")
    root = make_project(tmp_path / "corpus", {}, CONFIG.replace('engine = "1.0.0"', f'engine = "{engine}"'))
    for src in scripts:
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", src.stem).strip("-_.").lower()
        shutil.copyfile(src, root / "stories" / f"{name}.fountain")
    code, report = build_json(capsys, root, "-k")
    assert code in (0, 1) and not report["errors"], report["errors"]
    check("build-report.schema.json", report, "build --json (corpus)")
    check_outputs(root)


def test_reports_in_every_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """build, status and verify --json as a project goes through new, built, edited, dry run, partial build,
    a bad story file, a pin to an engine this prodscale does not ship, a tampered output and a deleted story."""
    root = make_project(tmp_path / "p", {"alpha": story(2), "beta": story(1, title="Beta")},
                        CONFIG.replace('engine = "1.0.0"', 'engine = "2.0.0"'))
    C = ("-C", str(root))
    _, rows = cli_json(capsys, "status.schema.json", "status", "--json", *C)
    assert {r["state"] for r in rows["stories"]} == {"stale"} and rows["stories"][0]["why"][0]["kind"] == "new"
    cli_json(capsys, "build-report.schema.json", "build", "--json", *C)
    (root / "stories" / "alpha.fountain").write_text(story(3), encoding="utf-8")
    _, rows = cli_json(capsys, "status.schema.json", "status", "--json", *C)
    assert {r["story"]: r["state"] for r in rows["stories"]} == {"alpha": "stale", "beta": "up-to-date"}
    _, dry = cli_json(capsys, "build-report.schema.json", "build", "--dry-run", "--json", *C)
    assert dry["stories"]["alpha"]["status"] == "stale" and dry["executed"]
    _, part = cli_json(capsys, "build-report.schema.json", "build", "alpha#1:shot_specs", "--json", *C)
    assert part["stories"]["alpha"]["status"] == "partial"
    cli_json(capsys, "build-report.schema.json", "build", "--json", *C)

    bad = root / "stories" / "bad name.fountain"
    bad.write_text(story(1), encoding="utf-8")
    _, rows = cli_json(capsys, "status.schema.json", "status", "--json", *C)
    assert "error" in {r["state"] for r in rows["stories"]}
    code, report = cli_json(capsys, "build-report.schema.json", "build", "-k", "--json", *C)
    assert code == 2 and not report["ok"] and report["errors"]
    bad.unlink()

    lock = root / "prodscale.lock"
    pinned = lock.read_text(encoding="utf-8")
    lock.write_text(re.sub(r'(\[stories\.beta\]\nengine = )"[^"]*"', r'\1"9.9.9"', pinned), encoding="utf-8")
    code, report = cli_json(capsys, "build-report.schema.json", "build", "-k", "--json", *C)
    assert report["stories"]["beta"] == {**report["stories"]["beta"], "status": "error", "engine": "9.9.9"}
    lock.write_text(pinned, encoding="utf-8")

    code, verified = cli_json(capsys, "verify-report.schema.json", "verify", "--rebuild", "--json", *C)
    assert code == 0 and verified["ok"] and verified["does_not_prove"] == ""
    prompts = root / "build" / "alpha" / "prompts.json"
    prompts.write_bytes(prompts.read_bytes().replace(b'"ready"', b'"READY"', 1))
    code, verified = cli_json(capsys, "verify-report.schema.json", "verify", "--json", *C)
    assert code == 3 and not verified["ok"]
    assert output_problems(root)[1], "a prompts.json with an unknown clip status passed its schema"
    cli_json(capsys, "build-report.schema.json", "build", "--json", *C)   # restores the tampered file

    (root / "stories" / "beta.fountain").unlink()
    _, rows = cli_json(capsys, "status.schema.json", "status", "--json", *C)
    assert {r["story"]: r["state"] for r in rows["stories"]}["beta"] == "deleted"
    _, report = cli_json(capsys, "build-report.schema.json", "build", "--json", *C)
    assert report["removed"] == ["beta"] and report["problems"]   # the lock keeps beta's pin, and says so
    check_outputs(root)


def test_generation_and_credits(example_copy: Path, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    from prodscale.providers.sandbox import SandboxConfig, SandboxServer

    root = example_copy
    C = ("-C", str(root))
    story_name = "the-hilltop-postbox"
    with SandboxServer(SandboxConfig(seed=3, fail_rate=0.3, faults=("safety", "error"))) as srv:
        toml = root / "prodscale.toml"
        toml.write_text(toml.read_text(encoding="utf-8").replace("http://127.0.0.1:8765", srv.url)
                        .replace("poll_interval_ms = 200", "poll_interval_ms = 5"), encoding="utf-8")
        monkeypatch.setenv("PRODSCALE_SANDBOX_KEY", "sk_test_schemas")
        assert build_json(capsys, root)[0] == 0
        cli_json(capsys, "credits.schema.json", "credits", "--json", *C)
        cli_json(capsys, "credits-add.schema.json", "credits", "add", "300", "--note", "schema test", "--json", *C)
        _, est = cli_json(capsys, "generate-report.schema.json", "generate", story_name, "--dry-run", "--json", *C)
        assert est["dry_run"] and est["to_send"] > 0
        code, gen = cli_json(capsys, "generate-report.schema.json", "generate", story_name, "--json", *C)
        assert code in (0, 1) and gen["results"]
    seen = check_outputs(root)
    assert seen["generation.schema.json"] == 1
    states = {c["state"] for c in orjson.loads((root / "build" / story_name / "generation.json").read_bytes())["clips"]}
    assert "completed" in states
    _, credits = cli_json(capsys, "credits.schema.json", "credits", "--json", *C)
    assert credits["spent"] > 0
    _, history = cli_json(capsys, "credits-history.schema.json", "credits", "history", "--json", *C)
    assert {t["kind"] for t in history["transactions"]} >= {"topup", "reserve", "capture"}


# --------------------------------------------------------------------------------------- tampered documents

def _first(items: list[Any], test: Callable[[Any], bool]) -> Any:
    return next(x for x in items if test(x))


def _shot(d: dict[str, Any]) -> dict[str, Any]:
    return d["scenes"][0]["shots"][0]


def _clip(d: dict[str, Any]) -> dict[str, Any]:
    return _first(d["clips"], lambda c: c["status"] == "ready")


def _scene_without_error(d: dict[str, Any]) -> dict[str, Any]:
    return _first(d["scenes"], lambda s: not any(x["severity"] == "error" for x in s["diagnostics"]))


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda node: node.__setitem__(key, value)


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda node: node.pop(key)


# (file, where in it, what is done there, what it breaks)
TAMPER: list[tuple[str, Callable[[Any], Any], Callable[[Any], None], str]] = [
    ("shot_specs.json", _shot, _drop("duration_ms"), "a missing required key"),
    ("shot_specs.json", _shot, _set("duration_ms", 2500.5), "a float where the producer writes an integer"),
    ("shot_specs.json", _shot, _set("size", "BIG"), "a shot size outside the vocabulary"),
    ("shot_specs.json", _shot, _set("director", "me"), "a key the producer never writes"),
    ("prompts.json", _clip, _set("status", "maybe"), "a clip status outside the vocabulary"),
    ("prompts.json", _clip, _set("prompt", None), "a ready clip without a prompt"),
    ("prompts.json", _clip, _set("seed", -1), "a negative seed"),
    ("diagnostics.json", lambda d: d["diagnostics"][0], _set("severity", "fatal"), "an unknown severity"),
    ("diagnostics.json", lambda d: d["diagnostics"][0]["extra"], _drop("stage"), "a finding without its stage"),
    ("diagnostics.json", lambda d: d["summary"], _set("status", "done"), "an unknown compilation status"),
    ("src.json", _scene_without_error, _set("status", "failed"), "a failed scene without an error"),
    ("manifest.json", lambda d: d["core"], _set("compilation_status", "ok"), "an unknown compilation status"),
    ("manifest.json", lambda d: d["core"], _drop("pin"), "a core without its pin"),
    ("manifest.json", lambda d: d["run"], _set("run_id", "now"), "a malformed run id"),
]
TAMPER_2 = [
    ("stats.json", lambda d: d["characters"][0], _set("dialogue_share_permille", 1001), "a share above 1000 permille"),
    ("stats.json", lambda d: d, _set("paper", "legal"), "a paper prodscale does not paginate"),
    ("manifest.json", lambda d: d["core"], _drop("stats"), "a 2.0.0 core without stats"),
    ("shot_specs.json", lambda d: d["scenes"][0], _set("light_from", "sun"), "an unknown source of light"),
]


@pytest.mark.parametrize("engine", ["1.0.0", "2.0.0"])
def test_tampered_documents_fail(engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = copy_example(tmp_path / "example")
    set_engine(root, engine)
    _, report = build_json(capsys, root)
    folder = root / "build" / "lantern-keeper"
    passed = []
    for fname, where, change, what in TAMPER + (TAMPER_2 if engine == "2.0.0" else []):
        doc = orjson.loads((folder / fname).read_bytes())
        schema = schema_of(folder / fname, doc)
        assert not problems(schema, doc)
        change(where(doc))
        if not problems(schema, doc):
            passed.append(f"{fname}: {what}")
    # the other engine family's schema refuses this engine's file: the shapes differ
    other = "2.0.0" if FAMILY[engine] == "1.x" else "1.x"
    for fname in ("shot_specs.json", "prompts.json", "diagnostics.json"):
        doc = orjson.loads((folder / fname).read_bytes())
        doc["engine"] = "2.0.0" if other == "2.0.0" else "1.0.0"
        if not problems(f"{other}/{Path(fname).stem}.schema.json", doc):
            passed.append(f"{fname}: validates as engine {other}'s")
    lock = tomllib.loads((root / "prodscale.lock").read_text("utf-8"))
    cli = [
        ("build-report.schema.json", report, lambda d: d["stories"]["lantern-keeper"], _set("status", "fresh"),
         "an unknown story status"),
        ("build-report.schema.json", report, lambda d: d, _set("seconds", -1), "a negative duration"),
        ("build-report.schema.json", report, lambda d: d, _drop("removed"), "a missing required key"),
        ("lock.schema.json", lock, lambda d: d["stories"]["lantern-keeper"], _drop("compilation_hash"),
         "a pin without its compilation hash"),
        ("lock.schema.json", lock, lambda d: d, _set("format", 2), "a lock format prodscale does not write"),
    ]
    for schema, original, where, change, what in cli:
        doc = deepcopy(original)
        assert not problems(schema, doc)
        change(where(doc))
        if not problems(schema, doc):
            passed.append(f"{schema}: {what}")
    assert not passed, "tampered documents that still validate:\n" + "\n".join(passed)
    # on disk: one tampered output fails the whole folder's check
    (folder / "src.json").write_bytes((folder / "src.json").read_bytes().replace(b'"validated"', b'"valid"', 1))
    assert any("src.json" in p for p in output_problems(root)[1])
