"""How every Kafka client of the project connects: brokers, TLS and SASL, from the settings.

The worker's Faust app, table recovery, the admin client, ``simulate``, ``replay`` and the
benchmark all take their connection from :func:`connection_of`, so a cluster that needs TLS or
SASL needs it set once, in ``KPI_*`` variables.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

from stream.config.settings import ConfigError, Settings


class BrokerUnusable(Exception):
    """The brokers cannot be used as configured; the message says why and which setting to check."""


@dataclass(frozen=True)
class KafkaConnection:
    """Where the brokers are and how to authenticate to them."""

    #: ``host:port`` of each bootstrap broker, comma-separated.
    bootstrap: str
    security_protocol: str = "PLAINTEXT"
    ssl_context: ssl.SSLContext | None = None
    sasl_mechanism: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments of kafka-python's and aiokafka's clients (both take these names)."""
        options: dict[str, Any] = {"bootstrap_servers": self.bootstrap, "security_protocol": self.security_protocol}
        if self.ssl_context is not None:
            options["ssl_context"] = self.ssl_context
        if self.sasl_mechanism is not None:
            options.update(
                sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.username, sasl_plain_password=self.password
            )
        return options

    @property
    def url(self) -> str:
        """The brokers as Faust's URL (``kafka://a:9092;b:9092``); it never holds credentials."""
        return "kafka://" + ";".join(self.bootstrap.split(","))


def bootstrap_of(broker_url: str) -> str:
    """``kafka://a:9092;b:9092`` (or ``a:9092,b:9092``) -> ``a:9092,b:9092``."""
    return ",".join(part.split("://", 1)[-1] for part in broker_url.replace(";", ",").split(",") if part.strip())


def connection_of(settings: Settings) -> KafkaConnection:
    """The connection the settings describe; the broker must be set (the embedded one's URL, if started)."""
    if settings.broker is None:
        raise ConfigError("environment: KPI_BROKER: not set")
    return KafkaConnection(
        bootstrap=bootstrap_of(settings.broker),
        security_protocol=settings.security_protocol,
        ssl_context=ssl_context_of(settings) if settings.security_protocol.endswith("SSL") else None,
        sasl_mechanism=settings.sasl_mechanism,
        username=settings.sasl_username,
        password=settings.sasl_secret,
    )


def ssl_context_of(settings: Settings) -> ssl.SSLContext:
    """A client TLS context: the system's CAs or KPI_SSL_CAFILE, and a client certificate for mutual TLS."""
    try:
        context = ssl.create_default_context(cafile=settings.ssl_cafile)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"environment: KPI_SSL_CAFILE: {settings.ssl_cafile}: not a PEM CA bundle ({exc})") from None
    context.check_hostname = settings.ssl_check_hostname
    if settings.ssl_certfile is not None:
        try:
            context.load_cert_chain(settings.ssl_certfile, settings.ssl_keyfile)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(
                f"environment: KPI_SSL_CERTFILE: {settings.ssl_certfile}: no certificate and key "
                f"that belong together ({exc})"
            ) from None
    return context
