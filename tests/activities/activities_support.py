"""A fake ``AzureSessionClient``: the same async methods, recorded calls, scripted failures."""

from __future__ import annotations

from typing import Any

from session_client.errors import SessionContentTooLarge, SessionNotFound
from session_client.models import Execution, ExecutionResult, SessionFile


class FakeSessionClient:
    """Keeps files per identifier; ``fail[method]`` raises that exception instead."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, bytes]] = {}
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.fail: dict[str, Exception] = {}
        self.execution = Execution(id="exec-1", status="Running")
        #: get_execution answers in order (the last one repeats); an Exception is raised
        self.executions: list[Execution | Exception] = []

    def _record(self, method: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((method, args, kwargs))
        if method in self.fail:
            raise self.fail[method]

    def called(self, method: str) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        return [(a, k) for m, a, k in self.calls if m == method]

    async def upload_files(self, identifier: str, files: dict[str, bytes]) -> list[Any]:
        self._record("upload_files", identifier, files)
        self.files.setdefault(identifier, {}).update(files)
        return []

    async def download_file(
        self, identifier: str, name: str, *, max_bytes: int | None = None
    ) -> bytes:
        self._record("download_file", identifier, name)
        try:
            content = self.files[identifier][name]
        except KeyError:
            raise SessionNotFound(
                f"GET /files/{name}/content failed with 404", status_code=404
            ) from None
        if max_bytes is not None and len(content) > max_bytes:
            raise SessionContentTooLarge(limit=max_bytes, size=len(content))
        return content

    async def get_file(self, identifier: str, name: str) -> Any:
        self._record("get_file", identifier, name)
        if name not in self.files.get(identifier, {}):
            raise SessionNotFound(f"GET /files/{name} failed with 404", status_code=404)
        return SessionFile(name=name)

    async def delete_file(self, identifier: str, name: str) -> None:
        self._record("delete_file", identifier, name)
        if name not in self.files.get(identifier, {}):
            raise SessionNotFound(f"DELETE /files/{name} failed with 404", status_code=404)
        del self.files[identifier][name]

    async def start_execution(
        self, identifier: str, code: str, *, timeout_seconds: int, execution_id: str | None = None
    ) -> Execution:
        self._record(
            "start_execution",
            identifier,
            code,
            timeout_seconds=timeout_seconds,
            execution_id=execution_id,
        )
        return Execution(id=execution_id or "generated", status="Running")

    async def get_execution(self, identifier: str, execution_id: str) -> Execution:
        self._record("get_execution", identifier, execution_id)
        if self.executions:
            answer = self.executions.pop(0) if len(self.executions) > 1 else self.executions[0]
            if isinstance(answer, Exception):
                raise answer
            return answer
        return self.execution

    async def delete_session(self, identifier: str) -> None:
        self._record("delete_session", identifier)
        if identifier not in self.files:
            raise SessionNotFound("DELETE /session failed with 404", status_code=404)
        del self.files[identifier]


def finished(stdout: str, stderr: str = "", status: str = "Succeeded") -> Execution:
    return Execution(
        id="exec-1", status=status, result=ExecutionResult(stdout=stdout, stderr=stderr)
    )
