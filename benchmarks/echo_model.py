"""The protocol ceiling: a kserve.Model that echoes its first input. Same server, no work.

    python -m benchmarks.echo_model --http_port 8080 --grpc_port 8081
"""

from __future__ import annotations

from kserve import Model, ModelServer
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse
from kserve.utils.utils import generate_uuid


class EchoModel(Model):
    def __init__(self) -> None:
        super().__init__("echo")
        self.ready = True

    def predict(self, payload: InferRequest, headers: dict | None = None) -> InferResponse:
        first = payload.inputs[0]
        data = first.as_numpy()
        out = InferOutput(name="echo", shape=list(data.shape), datatype=first.datatype, data=data)
        if payload.from_grpc:
            out.set_data_from_numpy(data, binary_data=payload.use_binary_outputs)
        return InferResponse(response_id=payload.id or generate_uuid(), model_name=self.name, infer_outputs=[out])


if __name__ == "__main__":
    ModelServer().start([EchoModel()])
