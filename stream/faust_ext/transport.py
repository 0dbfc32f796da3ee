"""The Faust app with its aiokafka transport using the worker's consumer (:mod:`stream.faust_ext.consumer`)
and producer (:mod:`stream.faust_ext.producer`).

Relies on ``Transport.create_consumer`` and ``create_producer`` building the class attributes
``Consumer`` and ``Producer``, and on the app building its transport in ``App._new_transport``
(overridden by :class:`KpiApp`); ``tests/unit/faust_ext/test_internals.py`` checks both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TransportT

from stream.faust_ext.consumer import consumer_class
from stream.faust_ext.producer import DrainingProducer


def transport_class(fetch_wait_ms: int) -> type[faust_aiokafka.Transport]:
    return type(
        "Transport",
        (faust_aiokafka.Transport,),
        {"Consumer": consumer_class(fetch_wait_ms), "Producer": DrainingProducer},
    )


class KpiApp(faust.App):
    """A Faust app whose consumer is :mod:`stream.faust_ext.consumer`'s."""

    def __init__(self, *args: Any, fetch_wait_ms: int, **kwargs: Any) -> None:
        self._transport_class = transport_class(fetch_wait_ms)
        #: Called, synchronously, right before the consumer chooses the offsets to commit.
        self.before_commit: list[Callable[[], object]] = []
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> TransportT:
        return self._transport_class(self.conf.broker_consumer, self)
