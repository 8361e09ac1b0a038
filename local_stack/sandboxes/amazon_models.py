"""Amazon's SP-API models (../shared/specs/amazon-sp-api): request bodies checked against their
definitions, as the real API refuses what its model does not allow. A validator for the JSON
Schema subset these Swagger 2.0 models and the feed schemas use ($ref, type, required,
properties, additionalProperties, items, enum, minItems, maxItems, minimum, maximum,
minLength, maxLength): a dependency would be heavier than these few rules."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from local_stack.sandboxes import specs

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def models_dir() -> Path:
    return specs.specs_dir() / "amazon-sp-api"


@cache
def model(name: str) -> dict[str, Any]:
    """A model file under models/ (e.g. "listingsItems_2021-08-01") or schemas/ (a path)."""
    path = models_dir() / (f"models/{name}.json" if "/" not in name else name)
    if not path.exists():
        raise FileNotFoundError(f"SP-API model not found at {path}: the specs folder is partial")
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def errors(instance: Any, model_name: str, definition: str | None = None) -> list[str]:
    """Where `instance` breaks the model's `definition` (or the whole schema when None).
    Nothing without the vendor specs: bodies then go unchecked (specs.say_once)."""
    if not specs.strict():
        specs.say_once()
        return []
    root = model(model_name)
    schema = {"$ref": f"#/definitions/{definition}"} if definition else root
    found: list[str] = []
    _check(instance, schema, root, "$", found)
    return found


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        ref = str(schema["$ref"])
        node: Any = root
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _check(
    value: Any, schema: dict[str, Any], root: dict[str, Any], at: str, out: list[str]
) -> None:
    schema = _resolve(schema, root)
    kind = schema.get("type")
    if isinstance(kind, str) and kind in _TYPES:
        wanted = _TYPES[kind]
        if isinstance(value, bool) and kind in ("integer", "number"):
            out.append(f"{at}: expected {kind}")
            return
        if not isinstance(value, wanted):
            out.append(f"{at}: expected {kind}")
            return
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{at}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            out.append(f"{at}: shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            out.append(f"{at}: longer than {schema['maxLength']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            out.append(f"{at}: below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            out.append(f"{at}: above {schema['maximum']}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            out.append(f"{at}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            out.append(f"{at}: more than {schema['maxItems']} items")
        if isinstance(schema.get("items"), dict):
            for n, item in enumerate(value):
                _check(item, schema["items"], root, f"{at}[{n}]", out)
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                out.append(f"{at}.{name}: required")
        properties: dict[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                _check(item, properties[name], root, f"{at}.{name}", out)
            elif extra is False:
                out.append(f"{at}.{name}: not allowed")
            elif isinstance(extra, dict):
                _check(item, extra, root, f"{at}.{name}", out)
