"""/openapi.json describes every answer: no route answers an untyped JSON object (a
``dict[str, Any]``) or an undescribed body; files and streams say their content type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clinicdesk.app import create_app
from clinicdesk.config import Settings


def _untyped(schema: dict[str, Any], components: dict[str, Any]) -> str | None:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    if not schema:
        return "an undescribed body"
    for choice in schema.get("anyOf", []):
        if why := _untyped(choice, components):
            return why
    if schema.get("type") == "object" and not schema.get("properties"):
        return "an object without named fields"
    if schema.get("type") == "array":
        return _untyped(schema.get("items", {}), components)
    return None


def test_every_answer_is_described(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'x.db'}", _env_file=None
    )
    spec = create_app(settings, configure_logs=False).openapi()
    components = spec.get("components", {}).get("schemas", {})
    untyped = []
    described = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for code, answer in operation.get("responses", {}).items():
                if not code.startswith("2"):
                    continue
                for media_type, body in answer.get("content", {}).items():
                    described += 1
                    why = _untyped(body.get("schema", {}), components)
                    if "json" in media_type and why:
                        untyped.append(f"{method.upper()} {path} {code}: {why}")
    assert untyped == []
    assert described > 60
    stream = spec["paths"]["/api/v1/events"]["get"]["responses"]["200"]["content"]
    assert list(stream) == ["text/event-stream"]
