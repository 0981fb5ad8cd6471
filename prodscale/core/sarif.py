"""SARIF 2.1.0 for prodscale's findings: what code-scanning dashboards (GitHub, GitLab, VS Code's SARIF
viewer) read. Pure: findings and rule data in, one JSON-able document out.

One run per engine (its rules differ): ``tool.driver.rules`` holds every code the run reports, with
its name, message, what it checks (``explain.toml``) and default level; each result has its rule,
level, message, the story file and the 1-based span, the finding's stable fingerprint (code, match,
scene heading: it survives line shifts) and, for an acknowledged warning, a suppression with the
writer's reason.
"""

from __future__ import annotations

from typing import Any

from prodscale.core.explain import find_rule

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning", "note": "note"}


def _rule(code: str, rules: dict[str, Any]) -> dict[str, Any]:
    found = find_rule(code, rules)
    doc = ((rules.get("explain.toml") or {}).get("code") or {}).get(code, {})
    entry: dict[str, Any] = {"id": code, "helpUri": None}
    if found is not None:
        rule = found[1]
        entry.update({"name": rule.get("name", code), "shortDescription": {"text": rule.get("message", code)},
                      "defaultConfiguration": {"level": LEVELS.get(rule.get("level", "warning"), "warning")}})
    else:
        entry.update({"name": code.lower(), "shortDescription": {"text": code}})
    if doc.get("what"):
        entry["fullDescription"] = {"text": doc["what"]}
    entry["help"] = {"text": f"prodscale explain {code}" + (f": {doc['fix']}" if doc.get("fix") else "")}
    entry.pop("helpUri")
    return entry


def _result(story: dict[str, Any], d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"ruleId": d["code"], "level": LEVELS.get(d["severity"], "warning"),
                           "message": {"text": d["message"] + (f" ({d['help']})" if d.get("help") else "")}}
    loc: dict[str, Any] = {"artifactLocation": {"uri": story["path"]}}
    span = d.get("span")
    if span:
        loc["region"] = {"startLine": span["start_line"], "startColumn": span["start_col"],
                         "endLine": span["end_line"], "endColumn": span["end_col"]}
    out["locations"] = [{"physicalLocation": loc}]
    extra = d.get("extra") or {}
    if extra.get("fingerprint"):
        out["partialFingerprints"] = {"prodscale/v1": extra["fingerprint"]}
    props = {k: extra[k] for k in ("scene", "stage") if k in extra}
    props["story"] = story["story"]
    out["properties"] = props
    if "acknowledged" in d:
        out["suppressions"] = [{"kind": "inSource", "justification": d["acknowledged"]}]
    return out


def sarif(findings: list[tuple[dict[str, Any], list[dict[str, Any]]]], rules_by_engine: dict[str, dict[str, Any]],
          version: str) -> dict[str, Any]:
    """``findings``: [(story {"story", "path", "engine"}, its diagnostics)], in the order to report."""
    runs = []
    for engine in sorted({s["engine"] for s, _ in findings}):
        rules = rules_by_engine[engine]
        results = [_result(s, d) for s, ds in findings if s["engine"] == engine for d in ds]
        codes = sorted({r["ruleId"] for r in results})
        runs.append({"tool": {"driver": {"name": "prodscale", "version": version, "semanticVersion": version,
                                         "informationUri": "https://fountain.io",
                                         "rules": [_rule(c, rules) for c in codes],
                                         "properties": {"engine": engine}}},
                     "columnKind": "unicodeCodePoints", "results": results})
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": runs}
