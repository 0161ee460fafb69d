"""values.yaml reads like a form: every value documented with a helm-docs `# --` comment, and
values.schema.json types all of them, closed to unknown keys at every level."""

from __future__ import annotations

import re
from typing import Any, Iterator

import pytest
import yaml

from .support import CHART, load_json

pytestmark = pytest.mark.chart

VALUES_TEXT = (CHART / "values.yaml").read_text()
VALUES = yaml.safe_load(VALUES_TEXT)
SCHEMA = load_json(CHART / "values.schema.json")
KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.-]+):")


def documented_paths() -> tuple[set[str], set[str]]:
    """(every key path of values.yaml, the paths carrying a `# --` comment right above)."""
    paths, documented, stack = set(), set(), []
    previous_comment = False
    for line in VALUES_TEXT.splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            previous_comment = True
            continue
        if stripped.startswith("#"):
            continue  # continuation of a comment
        if stripped.startswith("- "):  # a list item: its keys live under <list>[]
            indent = len(line) - len(line.lstrip())
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, "[]"))
            previous_comment = False
            continue
        m = KEY.match(line)
        if not m:
            previous_comment = False
            continue
        indent = len(m["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([k for _, k in stack] + [m["key"]]).replace(".[]", "[]")
        stack.append((indent, m["key"]))
        paths.add(path)
        if previous_comment:
            documented.add(path)
        previous_comment = False
    return paths, documented


def leaves(value: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from leaves(v, f"{prefix}.{k}" if prefix else k)
    else:
        yield prefix


def test_every_value_is_documented():
    paths, documented = documented_paths()
    assert set(leaves(VALUES)) <= paths
    undocumented = [p for p in leaves(VALUES)
                    if not any(p == d or p.startswith(d + ".") for d in documented)]
    assert not undocumented, f"values without a '# --' comment on them or a parent: {undocumented}"


def resolve(node: dict) -> dict:
    while "$ref" in node:
        node = SCHEMA["definitions"][node["$ref"].split("/")[-1]]
    return node


def walk_schema(node: dict, path: str = "") -> Iterator[tuple[str, dict]]:
    node = resolve(node)
    yield path, node
    for k, v in node.get("properties", {}).items():
        yield from walk_schema(v, f"{path}.{k}" if path else k)
    if isinstance(node.get("items"), dict):
        yield from walk_schema(node["items"], f"{path}[]")
    for key in ("anyOf", "oneOf", "allOf"):
        for i, sub in enumerate(node.get(key, [])):
            yield from walk_schema(sub, f"{path}<{key}{i}>")


def test_schema_is_closed_everywhere():
    for path, node in walk_schema(SCHEMA):
        if node.get("type") == "object" or "properties" in node:
            assert "additionalProperties" in node, f"{path or '<root>'}: additionalProperties missing"
            if "properties" in node:
                assert node["additionalProperties"] is False, f"{path}: must be closed"
            else:  # a map: its values are typed
                assert isinstance(node["additionalProperties"], dict), f"{path}: untyped map"


def chart_options(node: dict, path: str = "") -> Iterator[str]:
    """Option paths of the chart itself; shared definitions ($ref: resources, security
    contexts, persistence, ...) count as one option, their optional Kubernetes fields not."""
    if path:
        yield path
    if "$ref" not in node:
        for k, v in node.get("properties", {}).items():
            yield from chart_options(v, f"{path}.{k}" if path else k)


def ref_nodes(node: dict, path: str = "") -> Iterator[tuple[str, dict]]:
    if "$ref" in node:
        yield path, node
        return
    for k, v in node.get("properties", {}).items():
        yield from ref_nodes(v, f"{path}.{k}" if path else k)


def test_schema_and_values_describe_the_same_keys():
    schema_paths = set(chart_options(SCHEMA))
    value_paths, _ = documented_paths()
    maps = {p for p, n in walk_schema(SCHEMA) if "properties" not in n and n.get("type") == "object"}
    refs = {p for p, n in ref_nodes(SCHEMA)}
    value_paths = {p for p in value_paths
                   if "[]" not in p and not any(p.startswith(m + ".") for m in maps | refs)}
    assert value_paths - schema_paths == set(), "values.yaml keys missing from the schema"
    assert schema_paths - value_paths == set(), "schema options missing from values.yaml (undocumented)"


def test_no_credentials_in_values():
    for path in leaves(VALUES):
        key = path.rsplit(".", 1)[-1].lower()
        if any(word in key for word in ("password", "token", "accesskey", "secretkey")) and not key.endswith("key"):
            pytest.fail(f"{path} looks like a credential; use an existingSecret reference")
    assert "existingSecret" in VALUES_TEXT
