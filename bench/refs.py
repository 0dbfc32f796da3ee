"""The reference consumers: bare aiokafka (in-process) and the Faust apps of bench/faust_ref.py (subprocess)."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from stream.config.connection import KafkaConnection
from stream.tools.admin import create_topics
from stream.tools.embedded_broker import EmbeddedBroker


async def _aiokafka(bootstrap: str, topics: list[str], group: str, expected: int, timeout: float) -> dict[str, Any]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        *topics,
        **KafkaConnection(bootstrap).client_options(),
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    seen = 0
    first: tuple[float, float] | None = None
    deadline = time.monotonic() + timeout
    try:
        while seen < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for records in batches.values():
                if first is None and records:
                    first = (time.time(), time.process_time())
                for record in records:
                    try:
                        json.loads(record.value)
                    except ValueError:
                        pass
                    seen += 1
        last = (time.time(), time.process_time())
    finally:
        await consumer.stop()
    if first is None or seen < expected:
        raise RuntimeError(f"aiokafka reference read {seen} of {expected} messages")
    return {"events": seen, "seconds": last[0] - first[0], "cpu_s": last[1] - first[1]}


def run_aiokafka(bootstrap: str, topics: list[str], group: str, expected: int, timeout: float = 300) -> dict[str, Any]:
    result = asyncio.run(_aiokafka(bootstrap, topics, group, expected, timeout))
    result["eps"] = result["events"] / result["seconds"]
    return result


def run_faust(
    mode: str,
    broker: EmbeddedBroker,
    topics: list[str],
    app_id: str,
    expected: int,
    workdir: Path,
    consumer: str = "faust",
    timeout: float = 600,
) -> dict[str, Any]:
    """Start ``python -m bench.faust_ref`` in ``mode`` with ``consumer`` ("faust": Faust's own, "kpi": the
    pipeline's), wait for its result file, stop it."""
    workdir.mkdir(parents=True, exist_ok=True)
    if mode == "naive":  # Faust would create it with the broker's default size otherwise
        create_topics(KafkaConnection(broker.bootstrap), [f"{app_id}-naive-counts-changelog"], 4)
    name = f"faust-{mode}-{consumer}"
    out = workdir / f"{name}.json"
    out.unlink(missing_ok=True)
    env = {
        **os.environ,
        "BENCH_MODE": mode,
        "BENCH_CONSUMER": consumer,
        "BENCH_EXPECTED": str(expected),
        "BENCH_OUT": str(out),
        "BENCH_APP_ID": app_id,
        "BENCH_BROKER": broker.url,
        "BENCH_TOPICS": ",".join(topics),
        "BENCH_DATA_DIR": str(workdir / f"data-{name}"),
    }
    log = (workdir / f"{name}.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "bench.faust_ref"], env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    deadline = time.monotonic() + timeout
    try:
        while not out.exists():
            if process.poll() is not None:
                tail = (workdir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"faust {mode} reference exited with {process.returncode}:\n{tail}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"faust {mode} reference did not read {expected} messages within {timeout:.0f} s")
            time.sleep(0.2)
        result = json.loads(out.read_text())
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    seconds = result["last_wall"] - result["first_wall"]
    return {"events": result["events"], "seconds": seconds, "cpu_s": result["cpu_s"], "eps": result["events"] / seconds}


async def _relay(bootstrap: str, topics: list[str], rate: float, seconds: float, fetch_wait_ms: int) -> list[float]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    producer = AIOKafkaProducer(**KafkaConnection(bootstrap).client_options(), linger_ms=0)
    # One consumer for every hop, as a worker has: one fetch a cycle covers every topic.
    consumer = AIOKafkaConsumer(
        **KafkaConnection(bootstrap).client_options(), fetch_max_wait_ms=fetch_wait_ms, enable_auto_commit=False
    )
    await producer.start()
    await consumer.start()
    partitions = [TopicPartition(topic, p) for topic in topics for p in range(4)]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    next_hop = dict(zip(topics, topics[1:], strict=False))
    latencies: list[float] = []

    async def relay() -> None:
        while True:
            for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                for record in records:
                    if tp.topic in next_hop:
                        await producer.send(next_hop[tp.topic], value=record.value, key=record.key)
                    else:
                        latencies.append((time.time() - float(record.value)) * 1000)

    relaying = asyncio.create_task(relay())
    try:
        await asyncio.sleep(1.0)  # the first fetch is under way
        began = time.monotonic()
        sent = 0
        while time.monotonic() - began < seconds:
            await producer.send(topics[0], value=repr(time.time()).encode(), key=str(sent).encode())
            sent += 1
            await asyncio.sleep(max(0.0, began + sent / rate - time.monotonic()))
        await asyncio.sleep(2.0)  # the last ones through every hop
    finally:
        relaying.cancel()
        await consumer.stop()
        await producer.stop()
    if len(latencies) < sent * 0.99:
        raise RuntimeError(f"relay reference passed {len(latencies)} of {sent} messages")
    return latencies


def run_relay(bootstrap: str, run: str, hops: int, rate: float, seconds: float, fetch_wait_ms: int) -> list[float]:
    """Milliseconds from the produce call to the last hop's consumer for messages sent at ``rate``
    through ``hops`` topics by a bare aiokafka consumer that only forwards them: what the broker's
    fetch timing alone costs the pipeline's path (ingest, contacts, queues)."""
    topics = [f"bench-{run}-relay-{hop}" for hop in range(hops)]
    create_topics(KafkaConnection(bootstrap), topics, 4)
    # In a fresh process: inside the benchmark's own, after a phase, the p99 at 2,000/s doubled.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_relay_in_process, bootstrap, topics, rate, seconds, fetch_wait_ms).result()


def _relay_in_process(
    bootstrap: str, topics: list[str], rate: float, seconds: float, fetch_wait_ms: int
) -> list[float]:
    return asyncio.run(_relay(bootstrap, topics, rate, seconds, fetch_wait_ms))
