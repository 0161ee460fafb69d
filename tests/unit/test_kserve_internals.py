"""KServe's private internals that kserve_model/kserve_internals.py relies on: these fail on a
KServe upgrade that moves them, before any server misbehaves (each runs in a fresh interpreter:
tests/kserve_subprocess.py says why)."""

from __future__ import annotations

import pytest

from tests.kserve_subprocess import run_python

# each test starts KServe's server modules in a fresh interpreter (seconds apiece)
pytestmark = pytest.mark.slow


def check(code: str) -> None:
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_rest_server_still_adds_its_handlers_through_the_hooked_method() -> None:
    check("import inspect\nfrom kserve.protocol.rest.server import RESTServer\n"
          "assert list(inspect.signature(RESTServer._add_exception_handlers).parameters) == ['self', 'app']\n"
          "assert 'self._add_exception_handlers(app)' in inspect.getsource(RESTServer.create_application)\n")


def test_our_handlers_and_routes_follow_kserves_on_a_fresh_app() -> None:
    check("from fastapi import FastAPI\nfrom kserve.protocol.rest.server import RESTServer\n"
          "from kserve_model import routes\nfrom kserve_model.request import RequestError\n"
          "routes.install(); routes.install()\napp = FastAPI()\n"
          "server = object.__new__(RESTServer); server.dataplane = server.model_repository_extension = None\n"
          "RESTServer._add_exception_handlers(server, app)\n"
          "assert app.exception_handlers[RequestError].__name__ == '_request_error'\n"
          "paths = [getattr(r, 'path', '') for r in app.routes]\n"
          "assert paths.count('/v2/models/{model_name}/spec') == 1, paths\n")


def test_raw_data_tells_binary_from_json_inputs() -> None:
    check("import numpy as np\nfrom kserve.protocol.infer_type import InferInput\n"
          "from kserve_model.kserve_internals import raw_data\n"
          "assert raw_data(InferInput('age', [2], 'FP64', data=[1.0, 2.0])) is None\n"
          "b = InferInput('age', [2], 'FP64'); b.set_data_from_numpy(np.array([1.0, 2.0]), binary_data=True)\n"
          "assert raw_data(b) == np.array([1.0, 2.0]).tobytes()\n")
