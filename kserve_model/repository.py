"""The v2 model-repository extension (`POST /v2/repository/models/{name}/load|unload`, gRPC
RepositoryModelLoad/Unload) for a predictor that serves one model, loaded at start.

KServe's default answers an unknown name with 503 (its load raises ModelNotReady) and unloads
the served model for anyone who asks, after which every request is a 404 until the pod
restarts. Here an unknown name is a 404, `load` of the served model says whether it is
ready, and `unload` is refused: a version changes by a rollout (helm upgrade), not by a call.
"""

from __future__ import annotations

from kserve.errors import InvalidInput, ModelNotFound, ModelNotReady
from kserve.model_repository import ModelRepository
from kserve.protocol.model_repository_extension import ModelRepositoryExtension


class UnloadRefused(InvalidInput):
    """REST 403 (kserve_model.routes), gRPC INVALID_ARGUMENT (KServe's interceptor)."""

    def __init__(self, model_name: str) -> None:
        super().__init__(f"model {model_name} is loaded at start and is not unloaded on request: "
                         f"change the served version by a rollout (helm upgrade), or stop the pod")


class SingleModelRepository(ModelRepositoryExtension):
    def __init__(self, model_registry: ModelRepository) -> None:
        super().__init__(model_registry)
        self._models = model_registry

    def _known(self, model_name: str) -> None:
        if self._models.get_model(model_name) is None:
            raise ModelNotFound(model_name)

    async def load(self, model_name: str) -> None:
        self._known(model_name)
        if not await self._models.is_model_ready(model_name):
            raise ModelNotReady(model_name, f"it is still loading or failed to load: GET /v2/models/{model_name}/ready says why")

    async def unload(self, model_name: str) -> None:
        self._known(model_name)
        raise UnloadRefused(model_name)
