"""Faust's aiokafka transport with the worker's consumer (:mod:`stream.faust_ext.consumer`) and producer
(:mod:`stream.faust_ext.producer`)."""

from __future__ import annotations

from faust.transport.drivers import aiokafka as faust_aiokafka

from stream.faust_ext.consumer import consumer_class
from stream.faust_ext.producer import DrainingProducer


def transport_class(fetch_wait_ms: int) -> type[faust_aiokafka.Transport]:
    return type("Transport", (faust_aiokafka.Transport,),
                {"Consumer": consumer_class(fetch_wait_ms), "Producer": DrainingProducer})  # fmt: skip
