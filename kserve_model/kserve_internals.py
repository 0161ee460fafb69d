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

_hooks: list[Callable[[Any, Any], None]] = []


def after_kserve_handlers(add: Callable[[Any, Any], None]) -> None:
    """Call `add(app, rest_server)` each time KServe has added its own handlers to a FastAPI app."""
    if add in _hooks:
        return
    if not _hooks:
        original = RESTServer._add_exception_handlers

        def add_then_ours(self: RESTServer, app: Any) -> None:
            original(self, app)
            for hook in _hooks:
                hook(app, self)

        RESTServer._add_exception_handlers = add_then_ours
    _hooks.append(add)


def raw_data(inp: InferInput) -> bytes | None:
    """The input's binary payload, or None when its values came as JSON or typed contents."""
    return inp._raw_data


# -- server wiring (ModelServer attributes read by its start()) ------------------------------
def set_grpc_max_receive_bytes(limit: int) -> None:
    """KServe's GRPCServer reads its message limits from the module's parsed arguments
    (`kserve.model_server.args`, handed over as `vars(args)` when start() runs)."""
    from kserve import model_server

    model_server.args.grpc_max_receive_message_length = limit


def wrap_decode(dataplane: Any, guard: Callable[..., Any]) -> None:
    """Route the data plane's request decoding (REST v1 and v2) through `guard(original, ...)`."""
    original = dataplane.decode

    def decode(body: Any, headers: Any, protocol_version: str = "v1", model_name: str | None = None) -> Any:
        return guard(original, body, headers, protocol_version, model_name)

    dataplane.decode = decode


def fill_model_metadata(dataplane: Any) -> None:
    """KServe's data plane answers `platform: ""` and no `versions` whatever the model is, and
    its gRPC servicer drops `versions`: both take them from the model's `metadata_identity()`."""
    from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
    from kserve.protocol.grpc.servicer import InferenceServicer

    original = dataplane.model_metadata

    async def model_metadata(model_name: str) -> dict:
        metadata = await original(model_name)
        identity = getattr(dataplane.get_model_from_registry(model_name), "metadata_identity", None)
        return {**metadata, **identity()} if callable(identity) else metadata

    dataplane.model_metadata = model_metadata

    async def grpc_model_metadata(self: InferenceServicer, request: Any, context: Any) -> Any:
        metadata = await self._data_plane.model_metadata(model_name=request.name)
        return pb.ModelMetadataResponse(name=metadata["name"], versions=metadata.get("versions") or [],
                                        platform=metadata["platform"], inputs=metadata["inputs"],
                                        outputs=metadata["outputs"])

    InferenceServicer.ModelMetadata = grpc_model_metadata


def replace_repository_extension(server: Any, extension: Any) -> None:
    """ModelServer hands `model_repository_extension` to its REST and gRPC servers in start()."""
    server.model_repository_extension = extension
