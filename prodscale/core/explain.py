"""``prodscale explain PS###``: the documentation of one diagnostic code, as text.

Pure: ``rules`` is ``{file name: parsed TOML}`` for the engine's rule files; the documentation
sections come from ``explain.toml`` (read by no stage and part of no action key, so improving the
documentation never invalidates a cache) and the rule's own entry (level, message, help, since).
Parser codes (PS000-PS089) come from ``prodscale.core.fountain.PARSER_CODES``.
Every failing and passing example is run through its stage by ``tests/test_explain.py``.
"""

from __future__ import annotations

from typing import Any

from prodscale.errors import UsageError

STAGE_OF_FILE = {"sanitize.toml": "sanitize", "shot_specs.toml": "shot_specs", "prompts.toml": "prompts",
                 "src.toml": "src (Scene Reality Check)", "reading.toml": "read (how engine 2.0.0 reads the script)"}
RULE_FILES = ("sanitize.toml", "prompts.toml", "shot_specs.toml", "src.toml", "reading.toml")


def _parser_codes() -> dict[str, Any]:
    try:
        from prodscale.core import fountain
    except Exception:
        return {}
    codes = getattr(fountain, "PARSER_CODES", {}) or {}
    return dict(codes)


def find_rule(code: str, rules: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
    for fname in RULE_FILES:
        for rule in (rules.get(fname) or {}).get("rule", []):
            if rule.get("code") == code:
                return fname, rule
    return None


def _parser_rule(code: str) -> dict[str, Any] | None:
    entry = _parser_codes().get(code)
    if entry is None:
        return None
    out: dict[str, Any]
    if isinstance(entry, str):
        return {"code": code, "name": code.lower(), "level": "warning", "message": entry, "help": "",
                "since": "1.0.0", "scope": ["story"], "kind": "parser"}
    if isinstance(entry, dict):
        out = {"code": code, "kind": "parser", "since": "1.0.0", "scope": ["story"], "level": "warning", **entry}
        out.setdefault("message", entry.get("summary", ""))
        out.setdefault("what", entry.get("explain") or entry.get("summary", ""))
        if entry.get("example"):
            out.setdefault("fail", entry["example"])
        return out
    out = {"code": code, "kind": "parser", "since": "1.0.0", "scope": ["story"]}
    for attr in ("name", "level", "severity", "message", "help", "why", "what", "fail", "pass", "fix", "since"):
        if hasattr(entry, attr):
            out[attr] = getattr(entry, attr)
    out.setdefault("level", out.get("severity", "warning"))
    return out


def all_codes(rules: dict[str, dict[str, Any]]) -> list[str]:
    codes = {r["code"] for f in RULE_FILES for r in (rules.get(f) or {}).get("rule", [])}
    codes.update(_parser_codes())
    return sorted(codes)


def explain(code: str, rules: dict[str, dict[str, Any]]) -> str:
    code = code.strip().upper()
    found = find_rule(code, rules)
    if found is not None:
        fname, rule = found
        stage = STAGE_OF_FILE.get(fname, fname)
    else:
        parser_rule = _parser_rule(code)
        if parser_rule is None:
            raise UsageError(f"unknown diagnostic code '{code}'",
                             hint="codes: " + ", ".join(all_codes(rules)) if all_codes(rules) else None)
        fname, rule, stage = "fountain", parser_rule, "parse"
    doc = ((rules.get("explain.toml") or {}).get("code") or {}).get(code, {})
    doc = {**{k: rule[k] for k in ("what", "why", "fail", "pass", "fix") if k in rule}, **doc}
    level = rule.get("level", "warning")
    lines = [f"{code} {rule.get('name', '')} ({level}, {stage}, since engine {rule.get('since', '1.0.0')})", ""]
    lines.append("What it checks")
    lines.append("  " + str(doc.get("what") or rule.get("message", "")))
    lines.append("")
    if doc.get("why"):
        lines += ["Why a production cares", "  " + str(doc["why"]), ""]
    if rule.get("scope"):
        lines += ["Reads", "  " + ", ".join(rule["scope"]) + " (never notes or boneyard)", ""]
    if doc.get("fail"):
        lines += ["Example that triggers it", *("    " + ln for ln in str(doc["fail"]).rstrip("\n").split("\n")), ""]
    if doc.get("pass"):
        lines += ["Example that does not", *("    " + ln for ln in str(doc["pass"]).rstrip("\n").split("\n")), ""]
    lines.append("How to fix it")
    lines.append("  " + str(doc.get("fix") or rule.get("help") or ""))
    lines.append("")
    if level == "error":
        lines += ["Acknowledging", "  This is an error (a hard stop): it cannot be acknowledged; fix the text.", ""]
    else:
        lines += ["Acknowledging",
                  f"  Inline, on the line or on its own line before the element: [[prodscale: allow {code} <reason>]]",
                  f"  Or in prodscale.toml: [[acknowledge]] story = \"<story>\"  code = \"{code}\"  reason = \"...\"",
                  "  An acknowledged finding is still reported, marked with its reason.", ""]
    if rule.get("message"):
        lines += ["Message", "  " + str(rule["message"]), ""]
    return "\n".join(lines).rstrip("\n") + "\n"
