"""Faust's aiokafka transport with the worker's consumer (:mod:`stream.consumer`) and producer
(:mod:`stream.producer`)."""

from __future__ import annotations

from faust.transport.drivers import aiokafka as faust_aiokafka

from stream.consumer import consumer_class
from stream.producer import DrainingProducer


def transport_class(fetch_wait_ms: int) -> type[faust_aiokafka.Transport]:
    return type("Transport", (faust_aiokafka.Transport,),
                {"Consumer": consumer_class(fetch_wait_ms), "Producer": DrainingProducer})  # fmt: skip
