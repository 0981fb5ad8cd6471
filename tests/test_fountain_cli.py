"""`prodscale parse FILE [--json] [--heading-prefix P]`: what a writer sees."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from prodscale.cli.main import main

SCRIPT = ("Title: Test\n\nINT. HOUSE - DAY #4#\n\nBOB\nHi.\n\nALICE ^\nHello.\n\n"
          "EXT. ROAD - NIGHT\n\nRain. [[unclosed\n\nBOB\nBye.\n")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["parse", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_text_output_lists_scenes_characters_and_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "s.fountain"
    f.write_bytes(SCRIPT.encode())
    code, out, err = _run(capsys, str(f))
    assert code == 0
    assert out.splitlines() == [
        "title page:",
        "  Title: Test",
        "scenes: 2",
        "      #4  INT. HOUSE - DAY  [lines 3-9]",
        "          characters: ALICE, BOB",
        "     (2)  EXT. ROAD - NIGHT  [lines 11-16]",
        "          characters: BOB",
        "characters: ALICE, BOB",
    ]
    assert err.splitlines() == [
        f"{f}:13:7: warning[PS004]: note opened with [[ is never closed; kept as text",
        "   |",
        "13 | Rain. [[unclosed",
        "   |       ^^",
        "  = help: close it with ]] (a note cannot span an empty line: put two spaces on it)",
        "  = note: run `prodscale explain PS004` for details",
        "1 warning",
    ]


def test_json_output_is_the_model_with_sorted_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "s.fountain"
    f.write_bytes(SCRIPT.replace("\n", "\r\n").encode())
    code, out, _ = _run(capsys, str(f), "--json")
    assert code == 0
    assert out.count("\n") == 1
    data = orjson.loads(out)
    assert out.strip() == orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()
    assert [(s["number"], s["int_ext"], s["location"], s["time_of_day"]) for s in data["scenes"]] == [
        ("4", "INT", "HOUSE", "DAY"), (None, "EXT", "ROAD", "NIGHT")]
    assert data["characters"] == ["ALICE", "BOB"]
    assert [w["code"] for w in data["warnings"]] == ["PS004"]
    assert data["title_page"] == {"Title": "Test"}


def test_heading_prefix_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "ru.fountain"
    f.write_bytes("ИНТ. ДОМ - ДЕНЬ\n\nТишина.\n".encode())
    code, out, err = _run(capsys, str(f))
    assert code == 0 and "scenes: 0" in out and "warning[PS003]" in err and "heading_prefixes" in err
    code, out, err = _run(capsys, str(f), "--heading-prefix", "ИНТ", "--heading-prefix", "НАТ")
    assert code == 0 and "scenes: 1" in out and err == ""


def test_invalid_utf8_exits_2_with_location(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "bad.fountain"
    f.write_bytes(b"INT. HOUSE\n\nCaf\xe9\n")
    code, out, err = _run(capsys, str(f))
    assert code == 2 and out == ""
    assert err.startswith(f"{f}:3:4: error: not valid UTF-8: byte 0xe9 at byte offset 15")
    assert "help: save the file as UTF-8" in err


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, str(tmp_path / "nope.fountain"))
    assert code == 2 and "cannot read" in err
