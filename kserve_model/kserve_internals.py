"""Every use of KServe's private internals, in one place.

KServe 0.21 has no public hook for these; each is pinned by
tests/unit/test_kserve_internals.py, which fails loudly when a KServe upgrade moves them.

* `RESTServer._add_exception_handlers`: KServe registers its FastAPI exception handlers when
  the REST server builds its app (in `ModelServer.start`), replacing any registered earlier for
  the same exception types. Our handlers and routes must go in right after KServe's.
* `InferInput._raw_data`: the only way to tell binary inputs (gRPC raw_input_contents, the REST
  binary extension) from JSON/typed contents without decoding them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kserve.protocol.infer_type import InferInput
from kserve.protocol.rest.server import RESTServer

_hooks: list[Callable[[Any], None]] = []


def after_kserve_handlers(add: Callable[[Any], None]) -> None:
    """Call `add(app)` each time KServe has added its own handlers to a FastAPI app."""
    if add in _hooks:
        return
    if not _hooks:
        original = RESTServer._add_exception_handlers

        def add_then_ours(self: RESTServer, app: Any) -> None:
            original(self, app)
            for hook in _hooks:
                hook(app)

        RESTServer._add_exception_handlers = add_then_ours
    _hooks.append(add)


def raw_data(inp: InferInput) -> bytes | None:
    """The input's binary payload, or None when its values came as JSON or typed contents."""
    return inp._raw_data
