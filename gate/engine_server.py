"""The minimal Engine gRPC service a policy pack is pointed at (its first argument): it records the
pack's log messages so they can be shown when the pack fails."""

from __future__ import annotations

import threading
from concurrent import futures
from typing import Any

import grpc  # type: ignore[import-untyped]
from google.protobuf import empty_pb2  # type: ignore[import-untyped]
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc

_SEVERITY = {engine_pb2.DEBUG: "debug", engine_pb2.INFO: "info", engine_pb2.WARNING: "warning",
             engine_pb2.ERROR: "error"}


class _EngineServicer(engine_pb2_grpc.EngineServicer):
    def __init__(self) -> None:
        self.logs: list[str] = []
        self._lock = threading.Lock()

    def Log(self, request: Any, context: Any) -> Any:
        with self._lock:
            self.logs.append(f"{_SEVERITY.get(request.severity, 'info')}: {request.message}")
        return empty_pb2.Empty()

    def GetRootResource(self, request: Any, context: Any) -> Any:
        return engine_pb2.GetRootResourceResponse(urn="")

    def SetRootResource(self, request: Any, context: Any) -> Any:
        return engine_pb2.SetRootResourceResponse()


class EngineServer:
    """Listens on 127.0.0.1 only; `address` is what the pack receives as <engine-address>."""

    def __init__(self) -> None:
        self._servicer = _EngineServicer()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        engine_pb2_grpc.add_EngineServicer_to_server(self._servicer, self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{port}"

    @property
    def logs(self) -> list[str]:
        return list(self._servicer.logs)

    def __enter__(self) -> EngineServer:
        self._server.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.stop(grace=None)
