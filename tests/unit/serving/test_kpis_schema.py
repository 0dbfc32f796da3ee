"""docs/api/kpis.schema.json: the documented shape of /api/kpis holds for the documents built here
(real answers of a worker are checked in tests/integration/test_kpis_api.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from stream.kpi.aggregators import KPI_NAMES
from stream.kpi.report import reports_to_json
from stream.serving.kpis_api import KpiQuery, finished, narrowed
from tests.unit.kpi.test_report import NOW, reports

SCHEMA = json.loads((Path(__file__).parents[3] / "docs" / "api" / "kpis.schema.json").read_text())
CONTEXT = {"timezone": "Europe/London", "windows": ["15m", "1h", "today"], "groups": {"north": ["sales"]}}


def validate(document: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(document)


def test_the_schema_is_a_valid_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_the_schema_names_every_kpi_and_no_other() -> None:
    assert set(SCHEMA["$defs"]["kpis"]["properties"]) == set(KPI_NAMES)


@pytest.mark.parametrize(
    "query",
    [KpiQuery(), KpiQuery(window="1h"), KpiQuery(fields=frozenset({"service_level_ratio"})), KpiQuery(local=True)],
)
def test_documents_built_from_reports_follow_the_schema(query: KpiQuery) -> None:
    document = narrowed(reports_to_json(reports(), [], NOW), query)
    missing = [{"worker": "http://w2:6066", "reason": "no answer within 1 s"}]
    validate(finished(document, scope="local" if query.local else "centre", missing=missing, context=CONTEXT))


def test_the_schema_refuses_what_the_document_must_not_be() -> None:
    document = finished(reports_to_json(reports(), [], NOW), scope="centre", missing=[], context=CONTEXT)
    document["queues"][0]["windows"]["15m"]["kpis"]["service_level_ratio"] = 1.5
    with pytest.raises(jsonschema.ValidationError):
        validate(document)
