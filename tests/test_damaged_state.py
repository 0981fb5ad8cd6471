"""Issue 14: a damaged or oddly laid out `.prodscale/`, a wrong-typed `state.json`, a damaged ledger and a full
disk end in a clear message (what, where, what to do) and a non-zero exit where something is wrong, never
in a traceback; state that only saves time is rebuilt, the ledger (money) is never reset."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest

from projects import build_json, make_project, run, story

COMMANDS = (("build",), ("status",), ("why", "alpha"), ("verify",), ("credits",), ("cache", "stats"),
            ("diagnostics",), ("generate", "--dry-run"))


def _damage(root: Path, how: str) -> None:
    state = root / ".prodscale"
    if how == "state-list":
        (state / "state.json").write_text("[]", encoding="utf-8")
    elif how == "state-wrong-types":
        (state / "state.json").write_text('{"schema": 3, "stories": [], "parts": 5, "written_ns": "x"}',
                                          encoding="utf-8")
    elif how == "state-is-a-folder":
        (state / "state.json").unlink()
        (state / "state.json").mkdir()
    elif how == "log-list":
        (state / "log" / "alpha.json").write_text("[1, 2]", encoding="utf-8")
    elif how == "log-is-a-file":
        shutil.rmtree(state / "log")
        (state / "log").write_text("not a folder", encoding="utf-8")
    elif how == "rule-digests-garbage":
        (state / "rule-digests.json").write_text('{"2.0.0": [1]}', encoding="utf-8")
    elif how == "cache-is-a-file":
        shutil.rmtree(state / "cache")
        (state / "cache").write_text("not a folder", encoding="utf-8")
    elif how == "lock-is-a-folder":
        (state / "lock").unlink(missing_ok=True)
        (state / "lock").mkdir()
    elif how == "ledger-garbage":
        (state / "ledger.sqlite").write_bytes(b"this is not a database" * 100)
    else:
        raise AssertionError(how)


DAMAGES = ("state-list", "state-wrong-types", "state-is-a-folder", "log-list", "log-is-a-file",
           "rule-digests-garbage", "cache-is-a-file", "lock-is-a-folder", "ledger-garbage")


@pytest.mark.parametrize("how", DAMAGES)
def test_a_damaged_state_folder_gives_a_message_not_a_traceback(tmp_path: Path, capsys, how: str) -> None:
    root = make_project(tmp_path / "p", {"alpha": story(2)})
    code, _ = build_json(capsys, root)
    assert code == 0
    assert run(capsys, "credits", "add", "5", "-C", str(root))[0] == 0 or True   # a ledger to damage
    _damage(root, how)
    for args in COMMANDS:
        try:
            code, out, err = run(capsys, *args, "-C", str(root))
        except SystemExit as exc:   # pragma: no cover - would be a bug of its own
            raise AssertionError(f"{args} exited the interpreter: {exc}") from None
        text = out + err
        assert "Traceback" not in text and "internal error" not in text.lower(), (args, text)
        if code:
            assert "error:" in err and ("help:" in err or ".prodscale" in err), (args, err)
    if how in ("state-list", "state-wrong-types", "log-list", "rule-digests-garbage"):
        code, rep = build_json(capsys, root)     # state that only saves time is rebuilt
        assert code == 0, rep
    if how == "ledger-garbage":
        code, out, err = run(capsys, "credits", "-C", str(root))
        assert code != 0 and "ledger.sqlite" in err and "damaged" in err
        assert (root / ".prodscale" / "ledger.sqlite").read_bytes().startswith(b"this is not")   # never reset


def test_a_full_disk_is_a_clear_error_and_loses_nothing(tmp_path: Path, capsys, monkeypatch) -> None:
    root = make_project(tmp_path / "p", {"alpha": story(2)})
    build_json(capsys, root)
    before = {p: p.read_bytes() for p in (root / "build").rglob("*") if p.is_file()}
    lock = (root / "prodscale.lock").read_bytes()
    (root / "stories" / "alpha.fountain").write_text(story(3), encoding="utf-8")
    import prodscale.storage.fs as fs
    real = fs.os.replace

    def full(src, dst, *a, **k):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr(fs.os, "replace", full)
    code, out, err = run(capsys, "build", "-C", str(root))
    monkeypatch.setattr(fs.os, "replace", real)
    assert code != 0 and "Traceback" not in out + err
    assert "No space left on device" in err and "free" in err, err
    after = {p: p.read_bytes() for p in (root / "build").rglob("*") if p.is_file() and not p.name.endswith(".tmp")}
    assert after == before and (root / "prodscale.lock").read_bytes() == lock     # nothing half written
    code, rep = build_json(capsys, root)                                           # space again: it completes
    assert code == 0 and rep["stories"]["alpha"]["status"] == "complete"
