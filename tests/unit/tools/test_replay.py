"""stream.tools.replay: JSON-lines and CSV files -> what to produce where, or why a line cannot be used."""

from __future__ import annotations

import json

from stream.tools.replay import BadLine, Record, read

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
