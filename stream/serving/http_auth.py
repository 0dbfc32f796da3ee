"""Optional HTTP basic authentication of the worker's pages (KPI_HTTP_USERNAME, KPI_HTTP_PASSWORD)."""

from __future__ import annotations

import binascii
import functools
import hmac
from base64 import b64decode, b64encode
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from faust.web import Request, Response, View

from stream.config.settings import Settings

REALM = "contact-centre-kpi"

Handler = Callable[[View, Request], Awaitable[Response]]


@dataclass(frozen=True)
class BasicAuth:
    """The one user name and password every protected page asks for."""

    username: str
    password: str

    @classmethod
    def of(cls, settings: Settings) -> BasicAuth | None:
        """The configured credentials, ``None`` when KPI_HTTP_USERNAME is unset (no authentication)."""
        if settings.http_username is None or settings.http_secret is None:
            return None
        return cls(settings.http_username, settings.http_secret)

    def header(self) -> dict[str, str]:
        """The ``Authorization`` header that carries these credentials (for asking another worker)."""
        return {"Authorization": "Basic " + b64encode(f"{self.username}:{self.password}".encode()).decode()}

    def admits(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header value carries these credentials."""
        scheme, _, encoded = (authorization or "").strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        username, colon, password = given.partition(b":")
        # Both compared whatever the first says, and in constant time, so the time an answer takes
        # tells nothing of which part was wrong or how much of it was right.
        username_ok = hmac.compare_digest(username, self.username.encode())
        password_ok = hmac.compare_digest(password, self.password.encode())
        return bool(colon) and username_ok and password_ok


def protected(auth: BasicAuth | None, headers: dict[str, str]) -> Callable[[Handler], Handler]:
    """A decorator of view handlers that answers 401 (with ``headers``) to a request without ``auth``'s
    credentials; it changes nothing when ``auth`` is ``None``."""

    def decorate(handler: Handler) -> Handler:
        if auth is None:
            return handler

        @functools.wraps(handler)
        async def checked(self: View, request: Request) -> Response:
            if auth.admits(request.headers.get("Authorization")):
                return await handler(self, request)
            challenge = {**headers, "WWW-Authenticate": f'Basic realm="{REALM}"'}
            return self.text("authentication required\n", status=401, headers=challenge)

        return checked

    return decorate
