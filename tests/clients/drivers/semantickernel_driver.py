"""Semantic Kernel: ``semantic-kernel`` SessionsPythonTool (the pool must be https)."""

from __future__ import annotations

import os
import ssl

import httpx
from _serve import b64, serve, unb64
from semantic_kernel import Kernel
from semantic_kernel.core_plugins.sessions_python_tool import SessionsPythonTool
from semantic_kernel.core_plugins.sessions_python_tool.sessions_python_settings import (
    ACASessionsSettings,
    SessionsPythonSettings,
)

POOL = os.environ["POOL"]
WORK = os.path.join(os.environ["WORK"], "semantickernel")
os.makedirs(WORK, exist_ok=True)


def tool(token: str | None = None, timeout: int | None = None) -> SessionsPythonTool:
    """A plugin whose httpx client trusts the test's throwaway certificate (an argument)."""
    settings = (
        SessionsPythonSettings()
        if timeout is None
        else SessionsPythonSettings(timeout_in_sec=timeout)
    )
    return SessionsPythonTool(
        pool_management_endpoint=POOL,
        auth_callback=lambda: token or os.environ["TOKEN"],
        http_client=httpx.AsyncClient(
            verify=ssl.create_default_context(cafile=os.environ["CA"]), timeout=60
        ),
        settings=settings,
        enable_dangerous_file_uploads=True,
        allowed_upload_directories=[WORK],
    )


plugin = tool()
kernel = Kernel()
kernel.add_plugin(plugin, plugin_name="python")


async def execute(code: str) -> str:
    return await plugin.execute_code(code)


async def through_kernel(code: str) -> str:
    """The call an agent's function calling makes: the kernel invokes the plugin function."""
    result = await kernel.invoke(plugin_name="python", function_name="execute_code", code=code)
    return str(result)


async def execute_with(code: str, token: str | None = None, timeout: int | None = None) -> str:
    return await tool(token=token, timeout=timeout).execute_code(code)


async def upload(name: str, data: str, remote: str | None = None) -> dict:
    path = os.path.join(WORK, name)
    with open(path, "wb") as f:
        f.write(unb64(data))
    meta = await plugin.upload_file(local_file_path=path, remote_file_path=remote)
    return {"filename": meta.filename, "size": meta.size_in_bytes, "full_path": meta.full_path}


async def list_files() -> list:
    return [{"filename": m.filename, "size": m.size_in_bytes} for m in await plugin.list_files()]


async def download(name: str) -> str:
    return b64((await plugin.download_file(remote_file_name=name)).read())


def default_scope() -> str:
    """The scope the plugin asks Entra for when given a credential instead of a callback."""
    return ACASessionsSettings(pool_management_endpoint=POOL).token_endpoint


serve(
    {
        "execute": execute,
        "through_kernel": through_kernel,
        "execute_with": execute_with,
        "upload": upload,
        "list": list_files,
        "download": download,
        "session_id": lambda: plugin.settings.session_id,
        "default_scope": default_scope,
    }
)
