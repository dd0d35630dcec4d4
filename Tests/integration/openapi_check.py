"""Validate live HTTP responses against openapi/openapi.yaml (JSON Schema 2020-12 via jsonschema).

The spec is registered as one resource, so every `#/components/...` $ref resolves; a response
schema is validated through a `$ref` to its own JSON pointer inside the spec.
"""
from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path

import jsonschema
import requests
import yaml
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from lynx_helpers import SPEC_PATH

SPEC_URI = "urn:lynx:openapi"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def _esc(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def load_spec(path: Path = SPEC_PATH) -> dict:
    with open(path) as f:
        return yaml.safe_load(f)


class SpecChecker:
    def __init__(self, spec: dict | None = None):
        self.spec = spec if spec is not None else load_spec()
        self.registry = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(self.spec))
        self._routes = []
        for template in self.spec["paths"]:
            rx = "^" + re.sub(r"\\\{[^}]+\\\}", r"[^/]+", re.escape(template)) + "$"
            self._routes.append((template, re.compile(rx)))

    # ---- spec navigation
    def resolve(self, node: dict, pointer: str) -> tuple[dict, str]:
        """Follow local $refs; returns the node and its JSON pointer in the spec."""
        while isinstance(node, dict) and "$ref" in node and node["$ref"].startswith("#/"):
            pointer = node["$ref"][1:]
            node = self.spec
            for tok in pointer.lstrip("/").split("/"):
                node = node[tok.replace("~1", "/").replace("~0", "~")]
        return node, pointer

    def validator(self, pointer: str) -> jsonschema.Draft202012Validator:
        return jsonschema.Draft202012Validator({"$ref": f"{SPEC_URI}#{pointer}"}, registry=self.registry)

    def validate_at(self, instance, pointer: str) -> list[str]:
        return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                for e in self.validator(pointer).iter_errors(instance)]

    def match_path(self, path: str) -> str | None:
        """A concrete path of the spec before a templated one (OpenAPI: `/vectors/get` is not `/vectors/{id}`)."""
        if path in self.spec["paths"]:
            return path
        for template, rx in self._routes:
            if rx.match(path):
                return template
        return None

    @cached_property
    def operations(self) -> list[tuple[str, str]]:
        return [(p, m) for p, item in self.spec["paths"].items() for m in METHODS if m in item]

    # ---- response checking
    def check(self, resp: requests.Response) -> list[str]:
        """Problems (empty = conforms) for one live response, looked up by its request's path and method."""
        req = resp.request
        path = requests.utils.urlparse(req.url).path
        method = req.method.lower()
        status = str(resp.status_code)
        where = f"{req.method} {path} -> {status}"
        template = self.match_path(path)
        if template is None:
            response, ptr = self.resolve({"$ref": "#/components/responses/NotFound"}, "")
            if status != "404":
                return [f"{where}: path not in the spec but status is not 404"]
        else:
            item = self.spec["paths"][template]
            if method in item:
                op_ptr = f"/paths/{_esc(template)}/{method}"
                op = item[method]
            elif status == "405":
                # Any unlisted method: the 405 documented on the path's operations applies.
                m = next(m for m in METHODS if m in item)
                op_ptr = f"/paths/{_esc(template)}/{m}"
                op = item[m]
            else:
                return [f"{where}: method not in the spec for {template} but status is not 405"]
            responses = op["responses"]
            key = status if status in responses else ("default" if "default" in responses else None)
            if key is None:
                return [f"{where}: status {status} not documented for {method.upper()} {template}"]
            response, ptr = self.resolve(responses[key], f"{op_ptr}/responses/{key}")
        errors = []
        # Headers
        for name, hdr in (response.get("headers") or {}).items():
            hdr, hptr = self.resolve(hdr, f"{ptr}/headers/{_esc(name)}")
            if name not in resp.headers:
                if hdr.get("required"):
                    errors.append(f"{where}: required header {name} missing")
                continue
            raw = resp.headers[name]
            schema = hdr.get("schema", {})
            value = int(raw) if schema.get("type") == "integer" and raw.strip().isdigit() else raw
            errors += [f"{where}: header {name}: {e}" for e in self.validate_at(value, f"{hptr}/schema")]
        # Body
        content = response.get("content") or {}
        if not content:
            return errors
        mt = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if mt not in content:
            return errors + [f"{where}: Content-Type {mt!r} not in {sorted(content)}"]
        sptr = f"{ptr}/content/{_esc(mt)}/schema"
        if mt.endswith("json"):
            try:
                instance = json.loads(resp.content)
            except ValueError as e:
                return errors + [f"{where}: body is not JSON: {e}: {resp.content[:200]!r}"]
        else:
            instance = resp.text
        errors += [f"{where}: {e}" for e in self.validate_at(instance, sptr)]
        return errors
