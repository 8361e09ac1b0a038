"""`keel secrets check|set` (#22) on the local stack: every credential is filled and works; a
wrong token is named by the channel's refusal, a placeholder by its empty fields; `set` checks
a value against the schema before anything is written, and never prints one."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from keel_cli.main import main as keel
from local_stack.stack import LocalStack

pytestmark = pytest.mark.e2e


def test_secrets_are_checked_set_and_never_shown(
    stack: LocalStack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert stack.resources is not None
    cli = ["--state-file", str(stack.write_state(tmp_path / "local.json"))]
    assert keel([*cli, "secrets", "check", "--json"]) == 0
    checks = {c["owner"]: c for c in json.loads(capsys.readouterr().out)}
    assert set(checks) == {"shopify", "woocommerce", "bol", "amazon", "sendcloud"}
    assert all(c["ok"] and c["filled"] for c in checks.values())
    assert checks["shopify"]["reads"] is True and checks["sendcloud"]["reads"] is None

    sm = stack.client("secretsmanager")
    name = stack.resources.secrets["shopify"]
    good = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    wrong = {**good, "access_token": "shpat_" + "0" * 32}
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(wrong)))
    assert keel([*cli, "secrets", "set", "shopify", "--json"]) == 0
    said = capsys.readouterr().out
    assert json.loads(said)["fields"] == sorted(good) and good["access_token"] not in said
    assert keel([*cli, "secrets", "check", "shopify", "--json"]) == 3
    (check,) = json.loads(capsys.readouterr().out)
    assert check["reads"] is False and "shopify refused the credentials" in check["problems"][0]

    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({**good, "shop_domain": 7})))
    assert keel([*cli, "secrets", "set", "shopify"]) == 2
    assert "Refused, nothing written" in capsys.readouterr().err
    sm.put_secret_value(SecretId=name, SecretString=json.dumps({**good, "access_token": ""}))
    assert keel([*cli, "secrets", "check", "shopify", "--json"]) == 3
    (check,) = json.loads(capsys.readouterr().out)
    assert check["problems"] == ["not filled: access_token (docs/deploy.md §4)"]

    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(good)))
    assert keel([*cli, "secrets", "set", "shopify"]) == 0
    capsys.readouterr()
    assert keel([*cli, "secrets", "check", "shopify"]) == 0
