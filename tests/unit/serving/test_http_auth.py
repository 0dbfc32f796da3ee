"""stream.serving.http_auth: which Authorization headers carry the configured basic-auth credentials."""

from __future__ import annotations

import os
from base64 import b64encode
from pathlib import Path

import pytest

from stream.config.settings import load_settings
from stream.serving.http_auth import BasicAuth

AUTH = BasicAuth("ops", "s3cr\u00e9t:with colon")


def basic(credentials: bytes | str) -> str:
    raw = credentials.encode() if isinstance(credentials, str) else credentials
    return "Basic " + b64encode(raw).decode()


def test_the_right_credentials_are_admitted() -> None:
    assert AUTH.admits(basic("ops:s3cr\u00e9t:with colon"))  # UTF-8, and a colon in the password
    assert AUTH.admits("basic " + b64encode("ops:s3cr\u00e9t:with colon".encode()).decode())  # scheme in any case


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Basic",
        "Basic ",
        basic("ops:wrong"),
        basic("ops:s3cr\u00e9t:with colo"),  # a prefix of the password
        basic("ops:s3cr\u00e9t:with colonX"),
        basic("OPS:s3cr\u00e9t:with colon"),  # user names are compared exactly
        basic("opsx:s3cr\u00e9t:with colon"),
        basic("ops"),  # no colon
        basic(":"),
        basic("s3cr\u00e9t:with colon"),
        "Basic not-base64!",
        "Bearer " + b64encode(b"ops:s3cr\xc3\xa9t:with colon").decode(),  # another scheme
        basic("ops:s3cr\u00e9t:with colon".encode("latin-1")),  # the same text, not UTF-8
    ],
)
def test_anything_else_is_refused(header: str | None) -> None:
    assert not AUTH.admits(header)


def test_no_username_means_no_authentication(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [name for name in os.environ if name.startswith("KPI_")]:
        monkeypatch.delenv(name)
    assert BasicAuth.of(load_settings()) is None
    monkeypatch.setenv("KPI_HTTP_USERNAME", "ops")
    monkeypatch.setenv("KPI_HTTP_PASSWORD", "p")
    assert BasicAuth.of(load_settings()) == BasicAuth("ops", "p")
    monkeypatch.delenv("KPI_HTTP_PASSWORD")
    password_file = tmp_path / "password"
    password_file.write_text("from-a-file\n")
    monkeypatch.setenv("KPI_HTTP_PASSWORD_FILE", str(password_file))
    assert BasicAuth.of(load_settings()) == BasicAuth("ops", "from-a-file")
