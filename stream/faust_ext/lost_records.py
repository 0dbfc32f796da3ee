"""Records Faust's consumer drops, read again; and commits that a record read again no longer holds back.

Around a rebalance Faust can drop records it has already taken from the Kafka client, and around a
recovery its drain loop can drop records it has delivered: :class:`NoSkippedRecords` notices the
jump, or the lost record at a partition's commit point, and reads them again. A record read again
is acknowledged again: :class:`OneAckPerOffset` keeps that from holding its partition's commits
back. Both are put on Faust's consumer by :func:`stream.faust_ext.consumer.consumer_class`; why
each is needed: docs/architecture.md.

Internals relied on, each checked against the installed library by
``tests/unit/faust_ext/test_internals.py`` (and the versions by :mod:`stream.faust_ext.compat`):

- ``Consumer._wait_next_records`` (every record taken from the client passes through it),
  ``getmany``, ``seek``, ``flow_active``, and ``perform_seek`` filling ``Consumer._read_offset``:
  how a jump is seen; ``Consumer._committed_offset``, ``_acked_index``, ``_gap`` (interval trees of
  offsets counted as empty) and ``_unacked_messages`` (messages a stream has taken and not yet
  acknowledged), the conductor's channels (iterating ``app.topics``) with their buffers
  (``Channel._queue``), and aiokafka's ``TopicPartitionState.position`` (moving only as records are
  handed out, read without waiting through ``AIOKafkaConsumer._subscription``: its public
  ``position()`` waits until a partition being reset has one): how a lost record is seen;
- ``Consumer._new_offset`` and the sorted list ``Consumer._acked`` it reads: where a repeated
  offset stops the commits.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Mapping, MutableMapping
from typing import Any

import faust
from faust.types import TP, Message

log = logging.getLogger(__name__)

#: How often, at most, each stream partition's commit point is checked for a lost record: a record
#: is found lost at two checks in a row, so it is read again 5 to 10 s after it was lost.
LOST_CHECK_SECONDS = 5.0


class NoSkippedRecords:
    """Reads again any records of a stream partition that were fetched but never delivered.

    Around a rebalance Faust drops records it has already taken from the Kafka client (its
    ``getmany`` stops going through a fetch when the flow stops or the consumer generation
    changes, and skips partitions not active at that instant) without moving the client's
    position back; its seek to the committed offsets can come before that. In a test with a worker
    joining under load, hundreds of records of some partitions were never processed by anyone.
    Each stream partition's records must follow each other, from its committed offset after a
    rebalance: on a jump, the partition is moved back to the record after the last one delivered
    and the rest of that fetch is left out. A jump seen twice at the same place is real (offsets
    used by transaction markers) and let through, unless records inside it were taken from the
    client and not delivered: Faust can drop the same records again (a partition it does not
    count as active keeps being fetched), and letting that through would lose them, as Faust's
    drain loop then counts the gap as acknowledged. Changelog partitions (compacted, so gaps are
    normal) are not checked.

    A jump is seen only when a later record comes, and only among the records this class
    delivers: records dropped at the end of a partition have no later one, and Faust's drain loop
    itself drops delivered records below a partition's read offset, which a callback that was
    waiting on a full buffer sets back past the seek of a recovery (the records in the buffer
    are then cleared). Either way the partition's commits stop at the first lost record, for
    good. So, between fetches (when every record handed out is processed, in a stream's buffer or
    lost), every :data:`LOST_CHECK_SECONDS` each stream partition's commit point is checked: a
    record there that the client has handed out, that is neither acknowledged nor in flight nor
    in a gap Faust counts as empty, at two checks in a row while no stream's buffer holds a record
    (a record waiting in a buffer is not tracked yet; a commit under way takes the acknowledged
    records out of the list before it moves the committed offset), is lost, and the partition is
    read again from it. If, moved back there, the client hands out nothing and
    comes back to the same position, the offsets in between hold no records (a transaction
    marker at the end of the partition) and are let be.
    """

    app: faust.types.AppT
    flow_active: bool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._next_offsets: dict[TP, int] = {}
        self._known_gaps: dict[TP, tuple[int, int]] = {}
        #: Per stream partition, the offsets taken from the client since its last seek and not yet delivered.
        self._undelivered: defaultdict[TP, deque[int]] = defaultdict(deque)
        self._lost_check_due = 0.0
        #: Per stream partition, the commit point the last check found lost.
        self._suspected: dict[TP, int] = {}
        #: Per stream partition, the (commit point, client position) it was last moved back over.
        self._moved_back: dict[TP, tuple[int, int]] = {}
        #: Stream partitions the client handed records of since they were last moved back.
        self._taken_since_moved: set[TP] = set()
        #: Per stream partition, offsets (from, to) found to hold no records.
        self._empty: dict[TP, tuple[int, int]] = {}

    async def _wait_next_records(self, timeout: float) -> tuple[Any, Any]:
        records, active_partitions = await super()._wait_next_records(timeout)  # type: ignore[misc]
        if records:
            changelogs = self.app.tables.changelog_topics
            for tp, fetched in records.items():
                if tp.topic not in changelogs and fetched:
                    self._undelivered[tp].extend(record.offset for record in fetched)
                    self._taken_since_moved.add(tp)
        return records, active_partitions

    async def _read_lost_records_again(self) -> None:
        """Move back each stream partition whose commit point holds a lost record (see the class)."""
        now = time.monotonic()
        if now < self._lost_check_due or not self.flow_active:
            return
        self._lost_check_due = now + LOST_CHECK_SECONDS
        if self._records_waiting():
            # A record in a stream's buffer is not tracked until its agent takes it, and can wait
            # there for long (a buffer of large internal messages in a backlog): judged only when
            # every buffer is empty, which a stuck partition soon leaves them.
            self._suspected = {}
            return
        in_flight: defaultdict[TP, set[int]] = defaultdict(set)
        for message in list(self._unacked_messages):  # type: ignore[attr-defined]
            in_flight[message.tp].add(message.offset)
        suspected, self._suspected = self._suspected, {}
        for tp in list(self._next_offsets):
            span = self._lost_span(tp, in_flight[tp])
            if span is None:
                continue
            head, position = span
            if suspected.get(tp) != head:
                self._suspected[tp] = head
                continue
            if self._empty.get(tp) == span:
                continue
            if self._moved_back.get(tp) == span and tp not in self._taken_since_moved:
                self._empty[tp] = span
                continue
            log.warning(
                "%s: records from %d (the committed offset) to %d were handed out and never processed; "
                "reading them again",
                tp,
                head,
                position - 1,
            )
            self._moved_back[tp] = span
            self._taken_since_moved.discard(tp)
            self._undelivered[tp].clear()
            self._next_offsets[tp] = head
            await self.seek(tp, head)  # type: ignore[attr-defined]

    def _records_waiting(self) -> bool:
        """Whether a stream's buffer holds records its agent has not taken yet."""
        return any(getattr(channel, "_queue", None) and channel._queue.qsize() for channel in self.app.topics)

    def _lost_span(self, tp: TP, in_flight: set[int]) -> tuple[int, int] | None:
        """(commit point, client position) of ``tp`` if the record at the commit point looks lost:
        handed out by the client, not acknowledged, not in flight and not in a gap Faust counts as
        empty."""
        head: int | None = self._committed_offset.get(tp)  # type: ignore[attr-defined]
        if head is None:  # never committed: Faust commits its first run of acknowledgements as it is
            return None
        position = self._client_position(tp)
        if position is None or position <= head or head in in_flight:
            return None
        if head in self._acked_index.get(tp, ()):  # type: ignore[attr-defined]
            return None
        gaps = self._gap.get(tp)  # type: ignore[attr-defined]
        return None if gaps and gaps.overlaps(head) else (head, position)

    def _client_position(self, tp: TP) -> int | None:
        """The offset after the last record of ``tp`` the client handed out; None while it has no
        valid position (not assigned, or being reset). Read without waiting: this runs in the loop
        that delivers records, which must not wait on the client."""
        client = self._thread._consumer  # type: ignore[attr-defined]
        subscription = client._subscription.subscription if client is not None else None
        state = subscription.assignment.state_value(tp) if subscription is not None else None
        return state.position if state is not None and state.has_valid_position else None

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        await self._read_lost_records_again()
        next_offsets, known_gaps, undelivered = self._next_offsets, self._known_gaps, self._undelivered
        changelogs = self.app.tables.changelog_topics
        rewound: set[TP] = set()
        async for tp, message in super().getmany(timeout):  # type: ignore[misc]
            if tp in rewound:
                continue
            offset = message.offset
            if tp.topic in changelogs:
                yield tp, message
                continue
            taken = undelivered[tp]
            # The first record taken from the client up to this one and not delivered (this one if none).
            first_taken = taken[0] if taken and taken[0] < offset else offset
            while taken and taken[0] <= offset:
                taken.popleft()
            expected = next_offsets.get(tp)
            if expected is not None and offset > expected:
                gap = (expected, offset)
                if expected <= first_taken < offset or known_gaps.get(tp) != gap:
                    known_gaps[tp] = gap
                    log.warning(
                        "%s: records %d to %d were fetched but not delivered; reading them again",
                        tp,
                        expected,
                        offset - 1,
                    )
                    rewound.add(tp)
                    taken.clear()
                    await self.seek(tp, expected)  # type: ignore[attr-defined]
                    continue
            next_offsets[tp] = offset + 1
            yield tp, message

    async def perform_seek(self) -> None:
        # Records keep coming while the seek is under way; once it is done, each partition's next
        # record is the one after its committed offset, and anything past it is a jump. Partitions
        # without a committed offset start from the beginning: whatever comes first is expected.
        await super().perform_seek()  # type: ignore[misc]
        changelogs = self.app.tables.changelog_topics
        read_offsets: Mapping[TP, int | None] = self._read_offset  # type: ignore[attr-defined]
        self._next_offsets.clear()  # the same dicts a running getmany holds
        self._undelivered.clear()
        self._next_offsets.update(
            (tp, offset) for tp, offset in read_offsets.items() if offset is not None and tp.topic not in changelogs
        )


class OneAckPerOffset:
    """Commits past a record acknowledged twice.

    Faust keeps each partition's acknowledged offsets in a sorted list and commits up to the end of
    its first run of consecutive numbers. An offset can be in it twice (acknowledged, and filled in
    again as part of a gap Faust's drain loop saw before the partition was moved back), and a
    repeated number ends the run: with 7, 8, 8, 9 acknowledged it commits 9, and from there one
    offset per commit, so that a restarted worker seemed to stop committing. Each commit leaves the
    list without repeats, so the next one goes to the end of the run.
    """

    _acked: MutableMapping[TP, list[int]]

    def _new_offset(self, tp: TP) -> int | None:
        offset: int | None = super()._new_offset(tp)  # type: ignore[misc]
        acked = self._acked[tp]
        unique = sorted(set(acked))
        if len(unique) != len(acked):
            acked[:] = unique
        return offset
