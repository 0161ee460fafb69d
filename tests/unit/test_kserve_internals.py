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


def test_the_server_wiring_we_replace_is_still_read_where_we_replace_it() -> None:
    """set_grpc_max_receive_bytes, wrap_decode, fill_model_metadata, replace_repository_extension."""
    check("import inspect\nfrom kserve import model_server\nfrom kserve.model_server import ModelServer\n"
          "from kserve.protocol.dataplane import DataPlane\nfrom kserve.protocol.grpc.server import GRPCServer\n"
          "from kserve.protocol.grpc.servicer import InferenceServicer\n"
          "from kserve.protocol.rest.v2_endpoints import V2Endpoints\n"
          "assert hasattr(model_server.args, 'grpc_max_receive_message_length')\n"
          "assert 'kwargs=vars(args)' in inspect.getsource(ModelServer.start)\n"
          "assert 'grpc_max_receive_message_length' in inspect.getsource(GRPCServer.start)\n"
          "assert list(inspect.signature(DataPlane.decode).parameters) == ['self', 'body', 'headers', 'protocol_version', 'model_name']\n"
          "assert 'self.dataplane.decode(' in inspect.getsource(V2Endpoints.infer)\n"
          "assert '_data_plane.model_metadata(' in inspect.getsource(InferenceServicer.ModelMetadata)\n"
          "assert inspect.getsource(ModelServer.start).count('self.model_repository_extension') >= 2\n"
          "assert list(inspect.signature(V2Endpoints.infer).parameters)[:5] == "
          "['self', 'raw_request', 'raw_response', 'model_name', 'request_body']\n")


def test_our_server_answers_kserves_metadata_with_versions_and_platform() -> None:
    """fill_model_metadata on a real DataPlane and InferenceServicer, with a stand-in model."""
    check("import asyncio\nfrom kserve.model_repository import ModelRepository\nfrom kserve import Model\n"
          "from kserve.protocol.dataplane import DataPlane\nfrom kserve.protocol.grpc.servicer import InferenceServicer\n"
          "from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb\n"
          "from kserve_model.kserve_internals import fill_model_metadata\n"
          "class M(Model):\n    def metadata_identity(self):\n        return {'versions': ['4'], 'platform': 'p'}\n"
          "repo = ModelRepository(); repo.update(M('m')); dp = DataPlane(repo); fill_model_metadata(dp)\n"
          "meta = asyncio.run(dp.model_metadata('m'))\nassert (meta['versions'], meta['platform']) == (['4'], 'p'), meta\n"
          "grpc = asyncio.run(InferenceServicer(dp, None).ModelMetadata(pb.ModelMetadataRequest(name='m'), None))\n"
          "assert (list(grpc.versions), grpc.platform) == (['4'], 'p'), grpc\n")
