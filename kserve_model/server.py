"""Starting KServe's ModelServer with our model and our routes."""

from __future__ import annotations

import logging
import threading

from kserve.logging import configure_logging
from kserve.logging import logger as kserve_logger
from kserve.model_server import ModelServer

from kserve_model import routes
from kserve_model.body import guarded_decode
from kserve_model.kserve_internals import (fill_model_metadata, replace_repository_extension,
                                           set_grpc_max_receive_bytes, wrap_decode)
from kserve_model.model import CreditScoreModel
from kserve_model.repository import SingleModelRepository
from kserve_model.settings import ServeSettings

log = logging.getLogger(__name__)


def _route_our_logs_like_kserve() -> None:
    """Our modules log through KServe's configured handlers (same format, same stream)."""
    ours = logging.getLogger("kserve_model")
    ours.setLevel(kserve_logger.level or logging.INFO)
    for handler in kserve_logger.handlers:
        ours.addHandler(handler)
    ours.propagate = False


def serve(settings: ServeSettings) -> None:
    routes.install(settings.max_request_bytes)
    set_grpc_max_receive_bytes(settings.max_request_bytes)
    if settings.log_config_file:
        configure_logging(settings.log_config_file)  # before ModelServer(), which then keeps it
    model = CreditScoreModel(settings)
    # workers=1 whatever KServe read from sys.argv: metrics, decision log and audit writer are
    # per process, so a pod runs one (settings.SCALE_BY_REPLICAS)
    server = ModelServer(http_port=settings.http_port, grpc_port=settings.grpc_port, workers=1,
                         enable_latency_logging=False)
    _route_our_logs_like_kserve()  # after ModelServer(): it configures KServe's logging
    wrap_decode(server.dataplane, guarded_decode)
    fill_model_metadata(server.dataplane)
    replace_repository_extension(server, SingleModelRepository(server.registered_models))
    server.register_model(model)
    # the server answers live (and 503 not-ready) while the model loads or MLflow is down
    threading.Thread(target=model.load, name="model-loader", daemon=True).start()
    server.start([])
