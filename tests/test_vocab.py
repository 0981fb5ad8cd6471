"""The closed vocabularies (core/vocab.py) are the words the producers actually use: the ledger's CHECK
constraint, the job store's states, every engine's rule levels, the clip and story statuses written."""

from __future__ import annotations

import re

import orjson

from prodscale.core import vocab
from prodscale.core.diagnostics import SEVERITIES
from prodscale.core.engines import ENGINES
from prodscale.storage import jobs, ledger
from prodscale.storage.project import load_rules
from projects import make_project, run, story


def test_the_ledger_and_the_job_store_use_the_vocabularies() -> None:
    states = re.search(r"state IN \(([^)]*)\)", ledger._SCHEMA)
    assert states is not None
    assert tuple(s.strip(" '") for s in states.group(1).split(",")) == vocab.words(vocab.RequestState)
    assert vocab.words(vocab.JobState) == jobs.STATES
    assert vocab.words(vocab.Severity) == SEVERITIES


def test_every_rule_of_every_engine_has_a_level_of_the_vocabulary() -> None:
    for version in sorted(ENGINES):
        data = load_rules(version).data
        for name, content in sorted(data.items()):
            for rule in (content.get("rule", []) if isinstance(content, dict) else []):
                assert rule["level"] in vocab.words(vocab.Severity), (version, name, rule["code"])


def test_written_statuses_are_words_of_the_vocabularies(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    root = make_project(tmp_path / "p", {"alpha": story(2), "beta": story(1)})
    code, out, _ = run(capsys, "build", "--json", "-C", str(root))
    report = orjson.loads(out)
    assert {s["status"] for s in report["stories"].values()} <= set(vocab.words(vocab.StoryStatus))
    for name in ("alpha", "beta"):
        prompts = orjson.loads((root / "build" / name / "prompts.json").read_bytes())
        assert {c["status"] for c in prompts["clips"]} <= set(vocab.words(vocab.ClipStatus))
        manifest = orjson.loads((root / "build" / name / "manifest.json").read_bytes())
        assert manifest["core"]["compilation_status"] in vocab.words(vocab.CompilationStatus)
    (root / "stories" / "beta.fountain").unlink()
    (root / "stories" / "gamma.fountain").write_text(story(1), encoding="utf-8")
    code, out, _ = run(capsys, "status", "--json", "-C", str(root))
    rows = orjson.loads(out)["stories"]
    assert {r["state"] for r in rows} == {"up-to-date", "stale", "deleted"}
    assert {r["state"] for r in rows} <= set(vocab.words(vocab.StatusState))
    assert set(vocab.words(vocab.CompilationStatus)) <= set(vocab.words(vocab.StoryStatus))
