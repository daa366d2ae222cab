"""Extreme dates and times, wherever the API takes one: years 1 and 9999, the edges of
the accepted window, offsets of +-14 hours, times without an offset. The answer is a 4xx
that names the field, or a normal answer; never a server error (year 9999 used to
overflow the opening-hours arithmetic).

The operations and their date fields are found in /openapi.json, so a new route that
takes a date is covered without a word here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.fuzz import draw, operations, request_of, resources, with_real_ids
from tests.support.identity import api_as

DATES = ["0001-01-01", "9999-12-31", "1799-12-31", "1800-01-01", "2199-12-31", "2200-01-01"]
TIMES = ["00:00:00", "23:59:59.999999"]
OFFSETS = ["", "Z", "+14:00", "-14:00", "-12:00"]
EXTREMES: dict[str, st.SearchStrategy[str]] = {
    "date": st.sampled_from(DATES),
    "date-time": st.builds(
        lambda day, clock, offset: f"{day}T{clock}{offset}",
        st.sampled_from(DATES),
        st.sampled_from(TIMES),
        st.sampled_from(OFFSETS),
    ),
    "time": st.builds(
        lambda clock, offset: f"{clock}{offset}", st.sampled_from(TIMES), st.sampled_from(OFFSETS)
    ),
}
BASES = 4  # valid requests per operation, to put the extreme values into
EXAMPLES = 8  # extreme requests per operation


def date_fields(schema: Any, components: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(property name, format) of every date, date-time or time anywhere in ``schema``."""
    seen: set[str] = set()

    def walk(node: Any, name: str | None) -> Iterator[tuple[str, str]]:
        if isinstance(node, list):
            for item in node:
                yield from walk(item, name)
            return
        if not isinstance(node, dict):
            return
        if ref := node.get("$ref"):
            if ref in seen:
                return
            seen.add(ref)
            yield from walk(components[ref.rsplit("/", 1)[1]], name)
            return
        if name is not None and node.get("format") in EXTREMES:
            yield name, node["format"]
        for key, value in node.items():
            if key == "properties":
                for field, field_schema in value.items():
                    yield from walk(field_schema, field)
            else:  # an array's items, a choice, a body's media types: the same field
                yield from walk(value, name)

    yield from walk(schema, None)


def fields_of(operation: Any, components: dict[str, Any]) -> tuple[dict[str, str], set[str]]:
    """The operation's date fields (name -> format), and which of them are query
    parameters."""
    definition = operation.definition.raw
    found = dict(date_fields(definition.get("requestBody", {}), components))
    in_query = set()
    for parameter in definition.get("parameters", []):
        schema = {"properties": {parameter["name"]: parameter.get("schema", {})}}
        for name, fmt in date_fields(schema, components):
            found[name] = fmt
            if parameter.get("in") == "query":
                in_query.add(name)
    return found, in_query


def put_everywhere(values: Any, extremes: dict[str, str]) -> None:
    """Set every field named in ``extremes`` that ``values`` has, at any depth."""
    if isinstance(values, list):
        for item in values:
            put_everywhere(item, extremes)
    elif isinstance(values, dict):
        for key in values:
            if key in extremes:
                values[key] = extremes[key]
            else:
                put_everywhere(values[key], extremes)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_extreme_dates_are_refused_not_a_server_error(
    app: FastAPI, session: AsyncSession
) -> None:
    known = await resources(session, app)
    components = app.openapi().get("components", {}).get("schemas", {})
    failures: list[str] = []
    covered: list[str] = []
    async with await api_as(app, session, known.pop("staff")) as client:
        for operation in operations(app):
            fields, in_query = fields_of(operation, components)
            if not fields:
                continue
            covered.append(f"{operation.method.upper()} {operation.path}")
            bases = draw(operation.as_strategy(), BASES)
            extremes = st.fixed_dictionaries({n: EXTREMES[fmt] for n, fmt in fields.items()})
            for index, values in draw(st.tuples(st.integers(0, BASES - 1), extremes), EXAMPLES):
                case = bases[index % len(bases)]
                with_real_ids(case.path_parameters, known, any_value=True)
                with_real_ids(case.body, known)
                put_everywhere(case.body, values)
                query = dict(case.query or {})
                with_real_ids(query, known)
                query.update({name: values[name] for name in in_query})
                case.query = query or None
                response = await client.request(**request_of(case))
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.path} {values} -> {response.status_code}")
    assert "POST /api/v1/appointments" in covered
    assert len(covered) >= 10
    assert not failures, "\n".join(failures)
