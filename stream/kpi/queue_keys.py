"""The key of a queue and channel's state, and what it names."""

from __future__ import annotations


def queue_key(queue: str, channel: str) -> str:
    # '/' cannot occur in a queue name (SPEC §3), so the key splits back unambiguously.
    return f"{queue}/{channel}"


def split_queue_key(key: str) -> tuple[str, str]:
    queue, channel = key.split("/", 1)
    return queue, channel
