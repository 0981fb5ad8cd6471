"""The freeze guard: engines 1.0.0 and 1.1.0 compile every input to the same bytes, forever.

For each frozen engine a temporary project is built from scratch (``build -k -j 2 --json``, with
SOURCE_DATE_EPOCH fixed) holding

- every story of ``example_project/stories`` (golden keys: the story names),
- the screenplays of ``tests/screenplay_gen.py`` (``gen-0001`` ... ``gen-0300``; 1 to ~80 scenes,
  every Fountain construct, the words the gates react to, stories the builder splits into chunks),
  on the three generator profiles (``generic``, and ``veo3`` / ``runway-gen4`` for some stories),
- every script of ``../shared/corpus`` (``corpus-<name>``), when ``shared/`` is beside the checkout;

then the sha256 of every file under ``build/<story>/`` (the outputs, ``manifest.json`` and
``manifest.txt`` included, byte for byte) is compared with ``tests/golden/freeze/<engine>.json``.
Beside the outputs, each story's entry holds ``@source`` (the digest of the file it was built
from, so a changed generator or corpus reads as "input changed", not as an engine change). The
corpus stories are in their own part (``"corpus"``) of the golden file: without ``shared/`` that
part is skipped and the rest still runs. ``test_parser_output_is_frozen`` does the same for
``prodscale parse --json`` of every story (the parser is shared by every engine and frozen too),
against ``tests/golden/freeze/parse.json``.

A failure lists every story and file whose digest moved. The guard proves nothing unless it runs
the code of this checkout, so it first checks that ``prodscale`` and its rule data
(``prodscale.rules``) are this checkout's (an editable install of another worktree maps
``prodscale.rules`` there even with PYTHONPATH set).

THE 1.x GOLDENS MUST NEVER BE REGENERATED. A shipped engine's output for any input never changes
(README, CHANGES.md): when this test fails for 1.0.0 or 1.1.0, the code change is what is wrong,
not the golden. ``PRODSCALE_UPDATE_FREEZE=1`` (explicit only: ``--update-golden`` never touches
these files) writes the golden files from today's outputs; for a frozen engine, and for the
parser, it only ever adds entries (a new generated story, the corpus part on a first run with
``shared/``) and fails if it had to change an existing digest. Only a future engine's preview
goldens (``PREVIEW`` below, before that engine ships) may be rewritten, each time with a
CHANGES.md entry saying what changed and why; when the engine ships it moves to ``FROZEN``.

``PRODSCALE_FREEZE_JOBS`` (default 2) sets ``-j`` for checking that the bytes do not depend on it.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import orjson
import pytest

import screenplay_gen
from conftest import EXAMPLE, REPO, SHARED
from projects import make_project, run

FROZEN = ("1.0.0", "1.1.0", "2.0.0")   # shipped: goldens are append-only (2.0.0 since issue 13, 2026-12-01)
PREVIEW: tuple[str, ...] = ("2.1.0",)  # before it ships: goldens may be rewritten, each time with CHANGES.md
GOLDEN = REPO / "tests" / "golden" / "freeze"
UPDATE = os.environ.get("PRODSCALE_UPDATE_FREEZE", "") == "1"
SOURCE_DATE_EPOCH = "1767225600"   # 2026-01-01T00:00:00Z
HEADING_PREFIXES = ("ИНТ.", "НАТ.", "INNEN", "AUSSEN")

# Generated story index % 10 -> profile (the rest: generic), and the aspect each profile's project
# asks for (veo3 does not offer 1:1: PS206); "no-such-profile" is unknown (PS207: no prompts).
GEN_PROFILES = {3: "veo3", 7: "runway-gen4"}
GEN_UNKNOWN_PROFILE = (25, 150, 275)
ASPECTS = {"generic": "16:9", "veo3": "1:1", "runway-gen4": "21:9", "no-such-profile": "16:9"}

# Part of the inputs: changing this text changes every digest (and is reported as an input change).
CONFIG = """# prodscale freeze project (tests/test_engine_freeze.py): frozen, never edit
[project]
name = "Freeze"
engine = "{engine}"
profile = "{profile}"
stories = "stories"
heading_prefixes = ["ИНТ.", "НАТ.", "INNEN", "AUSSEN"]

[style]
look = "naturalistic 35mm film look, soft practical lighting, gentle muted colour palette, shallow depth of field"
aspect = "{aspect}"
negative = "text overlays, watermarks, logos, distorted hands, extra fingers, blurry faces, cartoon style"

[characters.ODILE]
description = "woman in her sixties, long silver hair in a single braid, weathered tanned face, navy cable-knit fisherman's sweater, dark canvas trousers, a pencil tucked behind one ear"

[characters.TEO]
description = "wiry young man in his mid twenties, untidy dark curly hair, clean-shaven, oversized yellow oilskin jacket over a grey hooded top, dark jeans, rubber boots"

[characters.MACBRIDE]
description = "woman in her fifties, ruddy cheeks, short auburn hair under a yellow sou'wester hat, reading glasses on a cord, navy waterproof jacket, orange work gloves"

[characters.ELIAS]
description = "man in his eighties, white beard trimmed to a neat point, bright blue eyes, brown cardigan buttoned one hole wrong over a checked shirt, corduroy trousers"

[characters.ROZ]
description = "woman in her forties, chestnut hair pinned up with a pencil and a chopstick, flour-dusted white apron over a rust-red shirt, sleeves rolled to the elbow"

[characters.DESMOND]
description = "man in his forties, chestnut hair neatly parted, round wire glasses, mustard cardigan over a white shirt, brown corduroy trousers, bicycle clips at the ankles"

[characters.GUS]
description = "man in his sixties, bald on top with grey sides, large bushy grey moustache, black waistcoat, white shirt, red bow tie, long white waiter's apron"

[characters.IMOGEN]
description = "woman in her thirties, shoulder-length black hair, green felt hat, oatmeal wool coat, paint smudges on her shirt cuffs, carries a leather sketchbook"

[characters.PIKE]
description = "man in his seventies, slim, tidy white hair, round tortoiseshell spectacles, grey tweed suit with a waistcoat, folded newspaper under one arm, black umbrella"

[characters.AMARA]
description = "Black woman around forty, close-cropped natural hair, warm brown eyes, blue station jumpsuit with rolled-up sleeves, a brass magnifying loupe on a cord around her neck"

[characters.LUKAS]
description = "man in his fifties, broad build, short grey beard, reading glasses pushed up on his forehead, grey station jumpsuit with a heavy tool belt slung low"

[characters.HALCYON]
description = "the station's voice, never seen as a person: a soft amber ring of light that glows on the speaker grilles in the station walls when it speaks"

[characters.IDA]
description = "woman in her seventies, white hair in a loose bun, kind lined face, long oversized knitted scarf in green and cream stripes, gardening gloves, tweed skirt"

[characters.SOLENNE]
description = "woman in her thirties, olive skin, dark ponytail, cap worn backwards, silver-grey flight suit covered in colourful mission patches, carries a clipboard"

[characters.JUNE]
description = "woman in her fifties, short grey hair, reading glasses pushed up into her hair, olive-green practical raincoat over a cream jumper, dark jeans, walking boots"

[characters.MARTIN]
description = "man in his fifties, tall and broad, salt-and-pepper stubble, thick oatmeal knitted jumper, canvas work trousers, strong weathered carpenter's hands"

[characters.RUTH]
description = "woman in her thirties, neat black braids tied back, tailored navy coat, white blouse, carries a clipboard and a yellow measuring tape"

[characters.WINIFRED]
description = "woman in her sixties, rosy cheeks, grey curls escaping a red woolly hat, navy postal uniform jacket with a satchel across her body, riding a sturdy red bicycle"

[characters.SENDER]
description = "never seen on screen: heard only as a gentle, shy voice; any shot of the sender shows just a lace curtain moving in a cottage window"

[characters.NELL]
description = "woman in her forties, grey braid, green wool coat"

[characters.SCOTT]
description = "man in his thirties, rumpled brown hair, olive cardigan over a band t-shirt, jeans, scuffed trainers"

[characters.MARA]
description = "woman in her thirties, short black hair, yellow raincoat"

[characters."O'BRIEN"]
description = "man in his fifties, flat cap, grey stubble, a faded t-shirt that says 'sexy and I know it'"

[characters."ZOË"]
description = "teenage girl, long red hair in two plaits, oversized denim jacket covered in pin badges"

[characters."ВЕРА"]
description = "woman in her forties, dark bob, grey wool coat, red scarf"

[[acknowledge]]
story = "gen-0004"
code = "PS403"
reason = "the time of day is left open on purpose"

[[acknowledge]]
code = "PS113"
reason = "every story: an error, which cannot be acknowledged"

[[acknowledge]]
story = "gen-0020"
code = "PS410"
reason = "an acknowledgement that may match nothing"

[[acknowledge]]
code = "PS302"
reason = "every story: burn-to-white is our house transition"
"""


# --- the code under test is this checkout's ------------------------------------------------------

def _assert_this_checkout() -> None:
    """prodscale and prodscale.rules must be this checkout's (or byte-identical copies of it)."""
    import prodscale
    from prodscale.storage.project import rules_root

    pairs = ((Path(prodscale.__file__).resolve().parent, REPO / "prodscale", "*.py"),
             (rules_root().resolve(), REPO / "rules", "*.toml"))
    for installed, mine, pattern in pairs:
        if installed == mine.resolve():
            continue
        wanted = sorted(p.relative_to(mine) for p in mine.rglob(pattern))
        differs = [str(rel) for rel in wanted
                   if not (installed / rel).is_file() or (installed / rel).read_bytes() != (mine / rel).read_bytes()]
        if differs or not wanted:
            pytest.fail(f"the code under test is not this checkout's: {installed} is imported, not {mine} "
                        f"({len(differs)} files differ, e.g. {differs[:3]}). Install this checkout "
                        f"(pip install -e {REPO}) in the venv that runs the tests: with PYTHONPATH alone an "
                        f"editable install of another tree still maps prodscale.rules to that tree.", pytrace=False)


# --- inputs ----------------------------------------------------------------------------------------

def _corpus_name(path: Path) -> str:
    return "corpus-" + re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-_.").lower()


def _corpus_inputs() -> dict[str, bytes] | None:
    folder = SHARED / "corpus"
    if not folder.is_dir():
        return None
    found: dict[str, bytes] = {}
    for src in sorted(folder.rglob("*.fountain")):
        name = _corpus_name(src)
        assert name not in found, f"two corpus scripts map to the story name {name}"
        found[name] = src.read_bytes()
    assert found, f"{folder} holds no .fountain file"
    return found


def _inputs() -> dict[str, dict[str, dict[str, bytes]]]:
    """part -> profile -> {story name: source bytes}. Parts: "stories" (example + generated), "corpus"."""
    example = {p.name[: -len(".fountain")]: p.read_bytes() for p in sorted((EXAMPLE / "stories").glob("*.fountain"))}
    assert example, "example_project/stories is empty"
    by_profile: dict[str, dict[str, bytes]] = {"generic": dict(example)}
    for index in range(1, screenplay_gen.COUNT + 1):
        profile = ("no-such-profile" if index in GEN_UNKNOWN_PROFILE
                   else GEN_PROFILES.get(index % 10, "generic"))
        by_profile.setdefault(profile, {})[screenplay_gen.name(index)] = screenplay_gen.screenplay(index)
    parts = {"stories": by_profile}
    corpus = _corpus_inputs()
    if corpus is not None:
        parts["corpus"] = {"generic": corpus}
    return parts


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- comparing -------------------------------------------------------------------------------------

def _load(path: Path) -> dict:
    return orjson.loads(path.read_bytes()) if path.is_file() else {}


def _write(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n")


def _moves(part: str, got: dict[str, dict[str, str]], want: dict[str, dict[str, str]],
           engines: dict[str, str]) -> tuple[list[str], list[str], dict[str, int]]:
    """(input changes, output changes, moved files by name) between two {story: {file: sha256}} maps;
    one line per story, naming the engine that compiled it when it is not the project's."""
    inputs: list[str] = []
    outputs: list[str] = []
    by_file: dict[str, int] = {}
    for story in sorted(set(got) | set(want)):
        g, w = got.get(story), want.get(story)
        if w is None:
            outputs.append(f"{part}: {story}: new story, not in the golden file")
            continue
        if g is None:
            outputs.append(f"{part}: {story}: in the golden file but not built (inputs removed?)")
            continue
        if g.get("@source") != w.get("@source"):
            inputs.append(f"{part}: {story}: INPUT changed (@source {w.get('@source', '-')[:12]} -> "
                          f"{g.get('@source', '-')[:12]}): the generator or the corpus changed, not the engine")
        moved = []
        for file in sorted((set(g) | set(w)) - {"@source"}):
            if g.get(file) != w.get(file):
                moved.append(file + (" (missing now)" if file not in g else " (new file)" if file not in w else ""))
                by_file[file] = by_file.get(file, 0) + 1
        if moved:
            on = f" [compiled on {engines[story]}]" if engines.get(story) else ""
            outputs.append(f"{part}: {story}{on}: {', '.join(moved)}")
    return inputs, outputs, by_file


def changes_section(engine: str) -> str:
    """The digest of CHANGES.md's section of ``engine`` (a preview golden records it: rewriting the
    golden needs a new entry there)."""
    text = (REPO / "CHANGES.md").read_text(encoding="utf-8")
    m = re.search(rf"^## Engine {re.escape(engine)}\b.*?(?=^## |\Z)", text, re.S | re.M)
    assert m, f"CHANGES.md has no '## Engine {engine}' section"
    return _sha(m.group(0).encode("utf-8"))


def _compare(golden_path: Path, got_parts: dict[str, dict[str, dict[str, str]]], *, frozen: bool,
             header: dict[str, str], engines: dict[str, str] | None = None) -> None:
    golden = _load(golden_path)
    if UPDATE:
        doc = dict(golden)
        doc.update(header)
        if not frozen:
            engine = header["engine"]
            moved = any(golden.get(part, {}).get(story) not in (None, files)
                        for part, got in got_parts.items() for story, files in got.items())
            if moved and golden.get("changes") == changes_section(engine):
                pytest.fail(f"{golden_path.name}: preview output moved; say what changed and why under "
                            f"'## Engine {engine}' in CHANGES.md first, then update", pytrace=False)
            doc["changes"] = changes_section(engine)
        changed_existing: list[str] = []
        for part, got in got_parts.items():
            old = dict(golden.get(part, {}))
            if frozen:  # append-only: keep every existing entry, add what is new
                for story, files in got.items():
                    for file, digest in files.items():
                        prev = old.get(story, {}).get(file)
                        if prev is not None and prev != digest:
                            changed_existing.append(f"{part}: {story}/{file}")
                merged = {s: dict(old.get(s, {})) for s in old}
                for story, files in got.items():
                    merged.setdefault(story, {})
                    for file, digest in files.items():
                        merged[story].setdefault(file, digest)
                doc[part] = merged
            else:
                doc[part] = got
        _write(golden_path, doc)
        if changed_existing:
            pytest.fail(f"{golden_path.name} is frozen: PRODSCALE_UPDATE_FREEZE=1 only adds entries, and it kept "
                        f"the {len(changed_existing)} existing digests that moved (a shipped engine's output must "
                        f"never change: fix the code): " + "; ".join(changed_existing[:20])
                        + (" ..." if len(changed_existing) > 20 else ""), pytrace=False)
        return
    assert golden, (f"{golden_path} is missing: create it once with PRODSCALE_UPDATE_FREEZE=1 "
                    f"(and never regenerate a shipped engine's golden)")
    inputs: list[str] = []
    outputs: list[str] = []
    by_file: dict[str, int] = {}
    for part, got in got_parts.items():
        if part not in golden:
            pytest.fail(f"{golden_path.name} has no '{part}' part: add it with PRODSCALE_UPDATE_FREEZE=1")
        i, o, f = _moves(part, got, golden[part], engines or {})
        inputs += i
        outputs += o
        for file, n in f.items():
            by_file[file] = by_file.get(file, 0) + n
    if inputs or outputs:
        lines = inputs + outputs
        shown = "\n  ".join(lines[:200]) + (f"\n  ... and {len(lines) - 200} more" if len(lines) > 200 else "")
        files = ", ".join(f"{name} x{n}" for name, n in sorted(by_file.items()))
        kind = ("a FROZEN engine's output moved: fix the code, never this golden" if frozen
                else "preview output moved (update it with a CHANGES.md entry if intended)")
        pytest.fail(f"{golden_path.name}: {kind}. {len(outputs)} stories differ from tests/golden/freeze/"
                    f"{golden_path.name} ({files or 'no output file'})"
                    + (f"; {len(inputs)} inputs changed (fix the input, not the golden)" if inputs else "")
                    + f":\n  {shown}", pytrace=False)


# --- building --------------------------------------------------------------------------------------

def _build_part(root: Path, engine: str, profile: str, stories: dict[str, bytes], capsys,  # type: ignore[no-untyped-def]
                engines: dict[str, str]) -> dict[str, dict[str, str]]:
    """Build ``stories`` in a fresh project; {story: {file: sha256}}. ``engines`` gets, for each story
    compiled on an engine other than ``engine`` (its re-analysis floor), that engine."""
    make_project(root, {}, config=CONFIG.format(engine=engine, profile=profile, aspect=ASPECTS[profile]))
    for name, data in stories.items():
        (root / "stories" / f"{name}.fountain").write_bytes(data)
    jobs = os.environ.get("PRODSCALE_FREEZE_JOBS", "2")
    code, out, err = run(capsys, "build", "-k", "-j", jobs, "--json", "-C", str(root))
    assert code in (0, 1), f"build of the {profile} project exited {code}: {err[-3000:]}"
    report = orjson.loads(out)
    assert report["errors"] == [] and report["failed"] == [], (report["errors"], report["failed"], err[-3000:])
    assert sorted(report["stories"]) == sorted(stories)
    build = root / "build"
    assert sorted(p.name for p in build.iterdir()) == sorted(stories), "build/ holds more than the story folders"
    got: dict[str, dict[str, str]] = {}
    for name, data in stories.items():
        story_engine = report["stories"][name]["engine"]
        if story_engine != engine:
            engines[name] = f"{story_engine}, the story's floor"
        folder = build / name
        files = {p.relative_to(folder).as_posix(): _sha(p.read_bytes())
                 for p in sorted(folder.rglob("*")) if p.is_file()}
        assert {"manifest.json", "manifest.txt"} <= set(files), f"{name}: no manifest"
        files["@source"] = _sha(data)
        got[name] = files
    return got


def _scene_units(parts: dict[str, dict[str, dict[str, bytes]]], names: tuple[str, ...]) -> list[int]:
    from prodscale.core.fountain import parse
    from prodscale.core.scenes import scene_units

    stories = {n: d for by_name in parts["stories"].values() for n, d in by_name.items()}
    return [len(scene_units(parse(stories[n], heading_prefixes=HEADING_PREFIXES))) for n in names]


@pytest.fixture(scope="module")
def inputs() -> dict[str, dict[str, dict[str, bytes]]]:
    return _inputs()


@pytest.mark.slow
@pytest.mark.parametrize("engine", FROZEN + PREVIEW)
def test_engine_outputs_are_frozen(engine: str, inputs, tmp_path: Path, capsys,  # type: ignore[no-untyped-def]
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_this_checkout()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH)
    monkeypatch.setenv("TZ", "UTC")
    got_parts: dict[str, dict[str, dict[str, str]]] = {}
    engines: dict[str, str] = {}
    for part, by_profile in inputs.items():
        got_parts[part] = {}
        for profile, stories in sorted(by_profile.items()):
            got_parts[part].update(_build_part(tmp_path / f"{part}-{profile}", engine, profile, stories, capsys,
                                               engines))
    # the builder's 64-scene task limit is crossed (split into chunks) and met exactly (one task)
    assert _scene_units(inputs, ("gen-0017", "gen-0064", "gen-0101", "gen-0202")) == [65, 64, 80, 72]
    header = {"about": (f"sha256 of every file under build/<story>/ compiled by engine {engine} "
                        "(tests/test_engine_freeze.py). " +
                        ("FROZEN: never regenerate; a change here is a change of a shipped engine."
                         if engine in FROZEN else "Preview: may change before the engine ships, with CHANGES.md.")),
              "engine": engine}
    if "corpus" not in got_parts:
        # the corpus part stays as it is; only the rest is checked
        print(f"{SHARED / 'corpus'} is absent: the corpus part of {engine}.json is not checked")
    _compare(GOLDEN / f"{engine}.json", got_parts, frozen=engine in FROZEN, header=header, engines=engines)


def test_parser_output_is_frozen(inputs, tmp_path: Path, capsys,  # type: ignore[no-untyped-def]
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """``prodscale parse --json`` of every story, digest by digest (the parser is shared and frozen)."""
    _assert_this_checkout()
    monkeypatch.chdir(tmp_path)  # the story is named by a relative path, as a writer would
    prefixes = [arg for p in HEADING_PREFIXES for arg in ("--heading-prefix", p)]
    got_parts: dict[str, dict[str, dict[str, str]]] = {}
    for part, by_profile in inputs.items():
        got_parts[part] = {}
        for stories in by_profile.values():
            for name, data in stories.items():
                rel = f"{name}.fountain"
                (tmp_path / rel).write_bytes(data)
                code, out, err = run(capsys, "parse", "--json", *prefixes, rel)
                assert code == 0, f"parse {name}: exit {code}: {err[-2000:]}"
                got_parts[part][name] = {"parse.json": _sha(out.encode("utf-8")), "@source": _sha(data)}
    header = {"about": "sha256 of `prodscale parse --json` per story (tests/test_engine_freeze.py). "
                       "FROZEN: never regenerate; a change here is a change of the shared parser.",
              "engine": "parser"}
    _compare(GOLDEN / "parse.json", got_parts, frozen=True, header=header)
