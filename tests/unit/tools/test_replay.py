"""stream.tools.replay: JSON-lines and CSV files -> what to produce where, or why a line cannot be used."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from stream.tools import producing
from stream.tools.cli import main
from stream.tools.replay import BadLine, Record, UnusableFile, read

T = 1795341600.0  # 2026-11-22T10:00:00Z


def jsonl(*events: object) -> list[str]:
    return [event if isinstance(event, str) else json.dumps(event) for event in events]


def test_jsonl_routes_each_event_to_its_topic_with_its_key() -> None:
    lines = jsonl(
        {"event_id": "e1", "type": "contact.queued", "ts": T, "contact_id": "c1", "queue": "sales"},
        {"event_id": "e2", "type": "contact.queued", "ts": T, "contact_id": "h1", "queue": "sales", "channel": "chat"},
        {"event_id": "e3", "type": "ticket.created", "ts": T, "contact_id": "t1", "queue": "billing"},
        {"event_id": "e4", "type": "survey.nps", "ts": T, "queue": "sales", "score": 9},
        {
            "event_id": "e5",
            "type": "survey.csat",
            "ts": T,
            "queue": "sales",
            "channel": "chat",
            "contact_id": "h1",
            "score": 4,
        },
        {"event_id": "e6", "type": "agent.state", "ts": T, "agent_id": "a1", "queues": ["sales"], "state": "busy"},
    )
    records = list(read(lines, "jsonl"))
    assert [(r.line, r.source, r.key) for r in records] == [  # type: ignore[union-attr]
        (1, "voice", b"c1"),
        (2, "chat", b"h1"),
        (3, "ticket", b"t1"),
        (4, "survey", None),
        (5, "survey", b"h1"),
        (6, "agent", b"a1"),
    ]
    # 'channel' only chooses the topic of a contact event; a survey keeps its own channel field.
    assert "channel" not in json.loads(records[1].value)  # type: ignore[union-attr]
    assert json.loads(records[4].value)["channel"] == "chat"  # type: ignore[union-attr]
    assert all(isinstance(r, Record) and r.ts == T for r in records)


def test_invalid_lines_are_reported_with_their_number() -> None:
    lines = jsonl(
        {"event_id": "e1", "type": "contact.queued", "ts": T, "contact_id": "c1", "queue": "sales"},
        "",  # blank lines are skipped, but counted
        "{not json",
        "[1, 2]",
        {"event_id": "e2", "type": "contact.queued", "ts": "2026-11-22T10:00:00", "contact_id": "c2", "queue": "q"},
        {"event_id": "e3", "type": "survey.csat", "ts": T, "queue": "sales", "score": 9},
        {"event_id": "e4", "type": "contact.queued", "ts": T, "contact_id": "c4", "queue": "q", "channel": "fax"},
    )
    results = list(read(lines, "jsonl"))
    assert isinstance(results[0], Record)
    bad = {r.line: r.reason for r in results if isinstance(r, BadLine)}
    assert set(bad) == {3, 4, 5, 6, 7}
    assert bad[3].startswith("not JSON")
    assert bad[4] == "not a JSON object"
    assert bad[5].startswith("no_timezone: ts")
    assert bad[6].startswith("out_of_range: score")
    assert "'fax'" in bad[7]


CSV = """event_id,type,ts,contact_id,channel,queue,customer_id,agent_id,resolved,public,score,hold_seconds,queues,state
e1,contact.queued,2026-11-22T10:00:00Z,c1,chat,sales,k1,,,,,,,
e2,contact.wrapped,1795341700,c1,chat,,,,true,,,,,
e3,ticket.replied,2026-11-22T10:05:00+01:00,t1,,,,a2,,false,,,,
e4,survey.ces,1795341800.5,,voice,sales,,,,,6,,,
e5,agent.state,1795341600,,,,,a1,,,,,sales|support,available
e6,contact.ended,1795341650,c1,chat,,,,,,,twelve,,
e7,contact.wrapped,1795341700,c2,,,,,maybe,,,,,
"""


def test_csv_column_mapping() -> None:
    results = list(read(CSV.splitlines(keepends=True), "csv"))
    records = [r for r in results if isinstance(r, Record)]
    values = [json.loads(r.value) for r in records]
    assert [(r.line, r.source) for r in records] == [
        (2, "chat"),
        (3, "chat"),
        (4, "ticket"),
        (5, "survey"),
        (6, "agent"),
    ]
    assert values[0] == {
        "event_id": "e1",
        "type": "contact.queued",
        "ts": "2026-11-22T10:00:00Z",
        "contact_id": "c1",
        "queue": "sales",
        "customer_id": "k1",
    }
    assert values[1]["resolved"] is True and values[1]["ts"] == 1795341700.0
    assert values[2]["public"] is False
    assert values[3] == {
        "event_id": "e4",
        "type": "survey.ces",
        "ts": 1795341800.5,
        "channel": "voice",
        "queue": "sales",
        "score": 6,
    }
    assert values[4]["queues"] == ["sales", "support"]
    assert records[2].ts == T - 3300  # 10:05+01:00 is 09:05Z
    bad = {r.line: r.reason for r in results if isinstance(r, BadLine)}
    assert bad == {7: "hold_seconds: 'twelve' is not a number", 8: "resolved: 'maybe' is not true or false"}


def test_csv_type_error_is_a_bad_line_not_a_crash() -> None:
    lines = ["event_id,type,ts,queue,score\n", "e1,survey.csat,1795341600,sales,4.5\n"]
    assert list(read(lines, "csv")) == [BadLine(2, "score: '4.5' is not a whole number")]


# --------------------------------------------------------------------------- files that cannot be used at all

GOOD = json.dumps({"event_id": "e1", "type": "contact.queued", "ts": T, "contact_id": "c1", "queue": "sales"})
AGENT = json.dumps(
    {"event_id": "e2", "type": "agent.state", "ts": T, "agent_id": "a1", "queues": ["sales"], "state": "busy"}
)


def test_a_csv_header_without_the_required_columns_is_one_error_not_one_per_row() -> None:
    lines = ["event_id;type;ts;contact_id;queue\n", *["e1;contact.queued;1795341600;c1;sales\n"] * 3]
    with pytest.raises(UnusableFile) as caught:
        read(lines, "csv")  # at once, before the first row is asked for
    assert caught.value.line == 1
    assert str(caught.value) == (
        "the CSV header has no event_id, ts, type columns: its columns are separated by ';'; the separator must be ','"
    )


def test_a_csv_header_naming_other_columns_lists_them() -> None:
    with pytest.raises(UnusableFile, match=r"^the CSV header has no event_id column; its columns: 'id', 'type', 'ts'$"):
        read(["id,type,ts\n"], "csv")


@pytest.mark.parametrize(
    ("name", "content", "expected", "status"),
    [
        pytest.param(
            "events.csv",
            b"event_id;type;ts;contact_id;queue\ne1;contact.queued;1795341600;c1;sales\n"
            b"e2;contact.queued;1795341600;c2;sales\n",
            [
                "{file}:1: the CSV header has no event_id, ts, type columns: its columns are separated by ';'; "
                "the separator must be ','"
            ],
            2,
            id="wrong-separator",
        ),
        pytest.param(
            "events.jsonl",
            f"{GOOD}\ncaf\u00e9\n{GOOD}\n".encode("latin-1"),
            ["{file}:2: not UTF-8: byte 4 of the line is 0xe9; save the file as UTF-8"],
            2,
            id="not-utf8",
        ),
        pytest.param(
            "events.jsonl",
            f"{GOOD}\n{{not json\n\n{AGENT}\n".encode(),
            [
                "{file}:2: not JSON: Expecting property name enclosed in double quotes",
                "{file}: 2 events (voice 1, agent 1), 1 invalid line",
            ],
            1,
            id="a-bad-line-among-good-ones",
        ),
        pytest.param("events.jsonl", b"", ["{file}: empty file: no events"], 2, id="empty"),
        pytest.param("events.jsonl", b"\n\n", ["{file}: no events, 0 invalid lines"], 2, id="blank-lines"),
        pytest.param("events.csv", b"event_id,type,ts\n", ["{file}: no events, 0 invalid lines"], 2, id="header-only"),
        pytest.param(
            "events.csv",
            "\ufeffevent_id,type,ts,agent_id,queues,state\r\ne1,agent.state,1795341600,a1,sales,busy\r\n".encode(),
            ["{file}: 1 event (agent 1), 0 invalid lines"],
            0,
            id="valid-csv-with-bom",
        ),
    ],
)
def test_replay_check(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, content: bytes, expected: list[str], status: int
) -> None:
    file = tmp_path / name
    file.write_bytes(content)
    assert main(["replay", "--check", str(file)]) == status
    captured = capsys.readouterr()
    assert (captured.out.splitlines(), captured.err) == ([line.format(file=file) for line in expected], "")


def test_replay_check_of_a_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["replay", "--check", str(tmp_path / "absent.jsonl")]) == 2
    assert capsys.readouterr().out == f"{tmp_path / 'absent.jsonl'}: No such file or directory\n"


# --------------------------------------------------------------------------- replay's exit status


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None]] = []

    def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        self.sent.append((topic, key))

    def flush(self, timeout: float) -> None:
        pass

    def close(self, timeout: float) -> None:
        pass


@pytest.fixture
def producer(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProducer]:
    """Replay with a broker, but none asked: the producer records what it is given."""
    for name in list(os.environ):
        if name.upper().startswith("KPI_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("KPI_BROKER", "kafka://kafka-1:9092")
    fake = FakeProducer()
    monkeypatch.setattr(producing, "connect", lambda settings, command: None)
    monkeypatch.setattr(producing, "_producer", lambda settings, connection, **options: fake)
    # replay ignores SIGINT and SIGTERM while it flushes; the test process gets its own back.
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield fake
    for signum, handler in handlers.items():
        signal.signal(signum, handler)


def test_replay_of_an_unusable_file_is_status_2_before_the_broker_is_asked(
    producer: FakeProducer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def no_broker(settings: object, command: str) -> None:
        raise AssertionError("the broker was asked")

    monkeypatch.setattr(producing, "connect", no_broker)
    file = tmp_path / "events.jsonl"
    file.write_bytes(b"\xff\xfe{\x00")  # UTF-16, as some spreadsheets save
    assert main(["replay", str(file)]) == 2
    assert capsys.readouterr().err == (
        f"python -m stream replay: error: {file}:1: not UTF-8: byte 1 of the line is 0xff; save the file as UTF-8\n"
    )


def test_replay_sends_the_good_lines_and_exits_1_for_a_bad_one(
    producer: FakeProducer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    file = tmp_path / "events.jsonl"
    file.write_text(f"{GOOD}\n[1]\n{AGENT}\n", encoding="utf-8")
    assert main(["replay", str(file)]) == 1
    assert producer.sent == [("contact-centre.calls", b"c1"), ("contact-centre.agents", b"a1")]
    assert f"{file}:2: not a JSON object\n" in capsys.readouterr().err


def test_replay_of_a_file_without_events_is_status_2(
    producer: FakeProducer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    file = tmp_path / "events.csv"
    file.write_text("event_id,type,ts\n", encoding="utf-8")
    assert main(["replay", str(file)]) == 2
    assert producer.sent == []
    assert "replayed 0 events" in capsys.readouterr().err


def test_a_csv_field_over_the_size_limit_is_a_bad_line() -> None:
    lines = ["event_id,type,ts,queue\n", f"e1,survey.csat,{'x' * 200_000},sales\n", "e2,contact.queued,1,\n"]
    results = list(read(lines, "csv"))
    assert isinstance(results[0], BadLine) and results[0].line == 2
    assert results[0].reason.startswith("not CSV: field larger than field limit")
    assert isinstance(results[1], BadLine) and results[1].line == 3  # read on after it
