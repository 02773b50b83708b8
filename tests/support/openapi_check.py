"""Check recorded REST requests against Discord's own OpenAPI description.

The spec is an oracle nobody on this project wrote, so a request that fails here is either a bug in
our code, a bug in the fake we test against, or a real discord.py/spec disagreement worth writing
down. It is lenient (unknown body fields pass), so passing is necessary, not sufficient.

The spec lives outside the repository; when it is missing the check must be skipped *loudly*
(callers warn with :data:`SKIP_REASON`) rather than pass silently. With RUMORMILL_REQUIRE_SPEC=1 (CI)
a missing spec fails the test that wanted it, so a checker that cannot run never reads as a clean pass.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = [
    "REQUIRE_ENV",
    "SKIP_REASON",
    "SPEC_ENV_VAR",
    "SpecValidator",
    "get_validator",
    "load_spec",
    "spec_available",
    "spec_path",
    "validate_simcord_requests",
]

SPEC_ENV_VAR = "DISCORD_OPENAPI_SPEC"
REQUIRE_ENV = "RUMORMILL_REQUIRE_SPEC"
_REPO_ROOT = Path(__file__).resolve().parents[2]
_DEFAULT_SPEC = Path("..") / "shared" / "discord-api-spec" / "openapi.json"

# Every `$ref` in the spec is document-relative (`#/components/...`); giving the document a URI lets
# a per-operation schema point into it and have those refs resolve against the whole document.
_DOC_URI = "urn:discord:openapi"

# Requests may be recorded with or without the version prefix, depending on who recorded them.
_API_PREFIX = re.compile(r"^/api/v\d+(?=/)")
_HTTP_METHODS = frozenset({"get", "put", "post", "patch", "delete", "head", "options"})
_MAX_DETAIL = 300


def spec_path() -> Path:
    """Where the spec is expected: ``$DISCORD_OPENAPI_SPEC`` or the shared checkout next to the repo."""
    configured = os.environ.get(SPEC_ENV_VAR)
    path = Path(configured) if configured else _DEFAULT_SPEC
    return path if path.is_absolute() else (_REPO_ROOT / path).resolve()


def spec_available() -> bool:
    """Whether the spec is there to check against; a missing one fails the caller under RUMORMILL_REQUIRE_SPEC=1."""
    if spec_path().is_file():
        return True
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but the Discord OpenAPI spec is not at {spec_path()}", pytrace=False)
    return False


SKIP_REASON = (
    f"Discord OpenAPI spec not found at {spec_path()}: REST requests are NOT being checked against "
    f"the spec. Set {SPEC_ENV_VAR} to the path of discord-api-spec's openapi.json."
)


@functools.cache
def load_spec() -> dict[str, Any]:
    """Parse the spec once per process; it is 1.2 MB and every test session needs it."""
    with spec_path().open(encoding="utf-8") as fh:
        spec: dict[str, Any] = json.load(fh)
    return spec


@functools.cache
def get_validator(*, allow_int_attachment_ids: bool = False) -> SpecValidator:
    """A process-wide validator, so compiled per-operation validators are shared by all tests."""
    return SpecValidator(load_spec(), allow_int_attachment_ids=allow_int_attachment_ids)


@dataclass(frozen=True)
class _Route:
    template: str
    segments: tuple[str, ...]
    item: Mapping[str, Any]

    def match(self, segments: list[str]) -> tuple[bool, ...] | None:
        """Per-segment "was a literal" flags if ``segments`` fits this template, else None."""
        if len(segments) != len(self.segments):
            return None
        flags = []
        for tpl, seg in zip(self.segments, segments, strict=True):
            if _is_param(tpl):
                flags.append(False)
            elif tpl == seg:
                flags.append(True)
            else:
                return None
        return tuple(flags)


@dataclass(frozen=True)
class _Param:
    name: str
    required: bool
    schema: Mapping[str, Any]
    schema_pointer: str


@dataclass
class _Operation:
    method: str
    template: str
    pointer: str
    params: dict[tuple[str, str], _Param]  # keyed by (location, name)
    body: Draft202012Validator | None
    body_required: bool


def _is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def _escape(token: str) -> str:
    # RFC 6901 escaping, then percent-encoding because `referencing` unquotes fragments.
    return quote(token.replace("~", "~0").replace("/", "~1"), safe="~@{}")


def _short(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


class SpecValidator:
    """Validates (method, path, query, JSON body) against the operation the path resolves to."""

    def __init__(self, spec: Mapping[str, Any] | None = None, *, allow_int_attachment_ids: bool = False) -> None:
        """``allow_int_attachment_ids`` tolerates one known discord.py/spec disagreement, opt-in.

        discord.py (``File.to_dict``) numbers new uploads ``{"id": 0, ...}`` with an int, while the
        spec's ``MessageAttachmentRequest.id`` is a string snowflake. Discord accepts the int, so a
        bot that uploads files may opt in; every other check stays strict.
        """
        self._spec = spec if spec is not None else load_spec()
        self._allow_int_attachment_ids = allow_int_attachment_ids
        resource = Resource.from_contents(self._spec, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(_DOC_URI, resource)
        self._resolver = self._registry.resolver(base_uri=_DOC_URI)
        self._routes: dict[int, list[_Route]] = {}
        for template, item in self._spec.get("paths", {}).items():
            segments = tuple(template.strip("/").split("/"))
            self._routes.setdefault(len(segments), []).append(_Route(template, segments, item))
        # Built lazily: most of the ~230 operations are never exercised by one test run.
        self._operations: dict[tuple[str, str, bool], _Operation] = {}
        self._schema_validators: dict[str, Draft202012Validator] = {}

    # -- public ---------------------------------------------------------------------------------

    def validate(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json_body: Any,
        *,
        multipart: bool = False,
    ) -> list[str]:
        """Problems with one request, as readable sentences; an empty list means it conforms.

        ``path`` is the concrete path (ids filled in), with or without ``/api/v10`` and a query
        string. ``multipart`` says the body was the ``payload_json`` part of a multipart request.
        """
        method = method.upper()
        path, params = self._split(path, params)
        label = f"{method} {path}"
        segments = path.strip("/").split("/")
        route = self._resolve(segments)
        if route is None:
            return [f"{label}: no path in the spec matches this route"]
        if method.lower() not in route.item:
            allowed = sorted(m.upper() for m in route.item if m in _HTTP_METHODS)
            return [f"{label}: {route.template} has no {method} operation (spec allows {allowed})"]
        op = self._operation(route, method, multipart)
        problems: list[str] = []
        problems += self._check_path_params(op, route, segments)
        problems += self._check_query(op, params)
        problems += self._check_body(op, json_body)
        return [f"{label} ({op.template}): {problem}" for problem in problems]

    def validate_schema(self, schema: str, value: Any, what: str) -> list[str]:
        """Problems with ``value`` as the spec's component ``schema`` (what a fake answers, such as a
        ``MessageResponse``), each prefixed with ``what``; an empty list means it conforms."""
        validator = self._schema_validator(f"#/components/schemas/{_escape(schema)}")
        return [
            f"{what} ({schema}): {_short(error.message)} at {_where(error)}"
            for error in validator.iter_errors(value)
        ]

    def operation_template(self, method: str, path: str) -> str | None:
        """The spec template a concrete path resolves to, if the spec has that operation."""
        path, _ = self._split(path, None)
        route = self._resolve(path.strip("/").split("/"))
        if route is None or method.lower() not in route.item:
            return None
        return route.template

    # -- routing --------------------------------------------------------------------------------

    @staticmethod
    def _split(path: str, params: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
        merged: dict[str, Any] = {}
        if "?" in path:
            path, query = path.split("?", 1)
            merged.update(parse_qsl(query, keep_blank_values=True))
        merged.update(params or {})
        if "://" in path:
            path = "/" + path.split("://", 1)[1].split("/", 1)[-1]
        return _API_PREFIX.sub("", path), merged

    def _resolve(self, segments: list[str]) -> _Route | None:
        # Earlier literal segments win, then later ones: `/users/@me` beats `/users/{user_id}`,
        # `.../messages/@original` beats `.../messages/{message_id}`.
        best: tuple[tuple[bool, ...], _Route] | None = None
        for route in self._routes.get(len(segments), ()):
            flags = route.match(segments)
            if flags is not None and (best is None or flags > best[0]):
                best = (flags, route)
        return best[1] if best else None

    def _operation(self, route: _Route, method: str, multipart: bool) -> _Operation:
        key = (route.template, method, multipart)
        op = self._operations.get(key)
        if op is None:
            op = self._operations[key] = self._build_operation(route, method, multipart)
        return op

    def _build_operation(self, route: _Route, method: str, multipart: bool) -> _Operation:
        pointer = f"#/paths/{_escape(route.template)}/{method.lower()}"
        raw_op = route.item[method.lower()]
        params: dict[tuple[str, str], _Param] = {}
        path_ptr = f"#/paths/{_escape(route.template)}"
        # Operation-level parameters override path-level ones with the same name and location.
        for owner_ptr, owner in ((path_ptr, route.item), (pointer, raw_op)):
            for index, raw in enumerate(owner.get("parameters", ())):
                param_ptr = raw["$ref"] if "$ref" in raw else f"{owner_ptr}/parameters/{index}"
                param = self._deref(raw)
                params[(param["in"], param["name"])] = _Param(
                    param["name"], bool(param.get("required")), param.get("schema", {}), f"{param_ptr}/schema"
                )
        body = None
        required = False
        request_body = raw_op.get("requestBody")
        if request_body is not None:
            request_body = self._deref(request_body)
            required = bool(request_body.get("required", False))
            schema_pointer = self._body_schema_pointer(pointer, request_body.get("content", {}), multipart)
            if schema_pointer is not None:
                body = self._schema_validator(schema_pointer)
        return _Operation(method, route.template, pointer, params, body, required)

    def _body_schema_pointer(self, op_pointer: str, content: Mapping[str, Any], multipart: bool) -> str | None:
        base = f"{op_pointer}/requestBody/content"
        json_ptr = f"{base}/{_escape('application/json')}/schema" if "application/json" in content else None
        form = content.get("multipart/form-data")
        if form is None:
            return json_ptr
        form_ptr = f"{base}/{_escape('multipart/form-data')}/schema"
        # Some multipart operations declare the JSON part explicitly; validate the payload
        # against that part rather than the form as a whole.
        payload = self._deref(form.get("schema", {})).get("properties", {}).get("payload_json")
        if payload is not None:
            form_ptr = f"{form_ptr}/properties/payload_json"
        if multipart or json_ptr is None:
            return form_ptr
        return json_ptr

    # -- checks ---------------------------------------------------------------------------------

    def _check_path_params(self, op: _Operation, route: _Route, segments: list[str]) -> list[str]:
        problems = []
        for tpl, seg in zip(route.segments, segments, strict=True):
            if not _is_param(tpl):
                continue
            name = tpl[1:-1]
            param = op.params.get(("path", name))
            if param is None:
                problems.append(f"path parameter {name!r} is not declared")
                continue
            value = self._coerce(unquote(seg), param.schema)
            problems += self._schema_errors(param, value, f"path parameter {name}={seg!r}")
        return problems

    def _check_query(self, op: _Operation, params: Mapping[str, Any]) -> list[str]:
        problems = []
        declared = {name: p for (where, name), p in op.params.items() if where == "query"}
        for name, raw in params.items():
            param = declared.get(name)
            if param is None:
                problems.append(f"query parameter {name!r} is not declared (declared: {sorted(declared)})")
                continue
            if isinstance(raw, bool):
                # yarl refuses bools in a query, so this request would never leave aiohttp.
                problems.append(f"query parameter {name!r} is a Python bool ({raw}); send 'true'/'false'")
                continue
            value = self._coerce(raw, param.schema)
            problems += self._schema_errors(param, value, f"query parameter {name}={raw!r}")
        for name, param in declared.items():
            if param.required and name not in params:
                problems.append(f"required query parameter {name!r} is missing")
        return problems

    def _check_body(self, op: _Operation, body: Any) -> list[str]:
        if body is None:
            return ["request body is required but none was sent"] if op.body_required else []
        if op.body is None:
            return [f"a body was sent but the operation takes none: {_short(repr(body))}"]
        if self._allow_int_attachment_ids:
            body = _stringify_attachment_ids(body)
        problems = []
        for error in op.body.iter_errors(body):
            detail = _most_specific(error)
            problems.append(f"body{_where(detail)}: {_short(detail.message)}")
        return problems

    # -- schema helpers -------------------------------------------------------------------------

    def _deref(self, node: Any) -> Any:
        while isinstance(node, Mapping) and "$ref" in node:
            node = self._resolver.lookup(node["$ref"]).contents
        return node

    def _schema_validator(self, pointer: str) -> Draft202012Validator:
        validator = self._schema_validators.get(pointer)
        if validator is None:
            validator = Draft202012Validator({"$ref": _DOC_URI + pointer}, registry=self._registry)
            self._schema_validators[pointer] = validator
        return validator

    def _schema_errors(self, param: _Param, value: Any, what: str) -> list[str]:
        validator = self._schema_validator(param.schema_pointer)
        return [f"{what}: {_short(error.message)}" for error in validator.iter_errors(value)]

    def _types(self, schema: Any) -> set[str]:
        schema = self._deref(schema)
        if not isinstance(schema, Mapping):
            return set()
        declared = schema.get("type", [])
        types = {declared} if isinstance(declared, str) else set(declared)
        for key in ("anyOf", "oneOf", "allOf"):
            for branch in schema.get(key, ()):
                types |= self._types(branch)
        return types

    def _coerce(self, value: Any, schema: Mapping[str, Any]) -> Any:
        """Turn a query/path value into the JSON type its schema wants, as Discord's parser would."""
        types = self._types(schema)
        if isinstance(value, list | tuple):
            item_schema = self._deref(schema).get("items", {})
            return [self._coerce(v, item_schema) for v in value]
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or "string" in types:
            return value
        if "boolean" in types:
            # Discord's documented boolean query strings.
            lowered = value.lower()
            if lowered in ("true", "1"):
                return True
            if lowered in ("false", "0"):
                return False
        if "integer" in types and re.fullmatch(r"-?\d+", value):
            return int(value)
        if "number" in types:
            try:
                return float(value)
            except ValueError:
                pass
        return value


def _most_specific(error: ValidationError) -> ValidationError:
    """The error inside an anyOf/oneOf that names the field that actually broke.

    A union failure says only "not valid under any of the given schemas". The branch meant for this
    body is one whose discriminator (an ``enum``/``const`` such as ``type``) matched, and among
    those the one validation got deepest into; a wrong variant fails at "``type`` is not one of [8]".
    """
    if not error.context:
        return error
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)

    def fit(errors: list[ValidationError]) -> tuple[bool, int]:
        wrong_variant = any(e.validator in ("enum", "const") and len(e.relative_path) <= 1 for e in errors)
        return (not wrong_variant, max(len(_most_specific(e).absolute_path) for e in errors))

    leaves = [_most_specific(e) for e in max(branches.values(), key=fit)]
    return max(leaves, key=lambda e: len(e.absolute_path))


def _stringify_attachment_ids(body: Any) -> Any:
    """Copy of ``body`` with discord.py's integer upload placeholders (``attachments[].id``) as strings."""
    if not isinstance(body, Mapping):
        return body
    fixed = dict(body)
    attachments = fixed.get("attachments")
    if isinstance(attachments, list):
        fixed["attachments"] = [
            {**a, "id": str(a["id"])}
            if isinstance(a, Mapping) and type(a.get("id")) is int and a["id"] >= 0
            else a
            for a in attachments
        ]
    # Interaction callbacks carry the message under "data".
    if isinstance(fixed.get("data"), Mapping):
        fixed["data"] = _stringify_attachment_ids(fixed["data"])
    return fixed


def _where(error: ValidationError) -> str:
    return "".join(f"[{p!r}]" for p in error.absolute_path)


def _field(record: Any, name: str) -> Any:
    return record.get(name) if isinstance(record, Mapping) else getattr(record, name, None)


def validate_simcord_requests(records: Iterable[Any], validator: SpecValidator | None = None) -> list[str]:
    """Validate SimCord's ``env.http_requests`` (or any records with method/path/params/json).

    SimCord records the concrete path without ``/api/v10`` and, for multipart requests, the parsed
    ``payload_json`` as ``json``; it does not say which transport was used, so the JSON schema is
    preferred (it is the same schema as the multipart one minus the file parts).
    """
    validator = validator or get_validator()
    problems = []
    for index, record in enumerate(records):
        for problem in validator.validate(
            _field(record, "method"), _field(record, "path"), _field(record, "params"), _field(record, "json")
        ):
            problems.append(f"request #{index}: {problem}")
    return problems
