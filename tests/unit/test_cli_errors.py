"""`keel` says one error line (never a traceback), finds the local stack's state from any
directory below it, and tells its version."""

from __future__ import annotations

from pathlib import Path

import pytest

from keel_cli import main as cli
from keel_cli import status


def test_a_failing_command_is_one_line_on_stderr_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*_: object) -> int:
        raise ConnectionError("moto is not answering")

    monkeypatch.setattr(status, "cmd_status", broken)
    monkeypatch.delenv("KEEL_DEBUG", raising=False)
    assert cli.main(["status"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.strip() == "keel: ConnectionError: moto is not answering"


def test_the_state_file_is_found_from_a_directory_below_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".keel").mkdir()
    (tmp_path / ".keel" / "local.json").write_text("{}")
    below = tmp_path / "shared" / "channels"
    below.mkdir(parents=True)
    monkeypatch.chdir(below)
    assert cli._find_state_file() == tmp_path / ".keel" / "local.json"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("keel ")
