"""KServe's private internals that kserve_model/kserve_internals.py relies on: these fail on a
KServe upgrade that moves them, before any server misbehaves."""

from __future__ import annotations

import inspect

import numpy as np
from kserve.protocol.infer_type import InferInput
from kserve.protocol.rest.server import RESTServer


def test_rest_server_still_adds_its_handlers_through_the_hooked_method() -> None:
    assert list(inspect.signature(RESTServer._add_exception_handlers).parameters) == ["self", "app"]
    assert "self._add_exception_handlers(app)" in inspect.getsource(RESTServer.create_application)


def test_our_handlers_follow_kserves_on_a_fresh_app() -> None:
    from fastapi import FastAPI

    from kserve_model import routes
    from kserve_model.request import RequestError

    routes.install()
    app = FastAPI()
    RESTServer._add_exception_handlers(object.__new__(RESTServer), app)
    assert app.exception_handlers[RequestError].__name__ == "_request_error"
    assert any(getattr(r, "path", "") == "/v2/models/{model_name}/spec" for r in app.routes)


def test_raw_data_tells_binary_from_json_inputs() -> None:
    from kserve_model.kserve_internals import raw_data

    typed = InferInput("age", [2], "FP64", data=[1.0, 2.0])
    assert raw_data(typed) is None
    binary = InferInput("age", [2], "FP64")
    binary.set_data_from_numpy(np.array([1.0, 2.0]), binary_data=True)
    assert raw_data(binary) == np.array([1.0, 2.0]).tobytes()
