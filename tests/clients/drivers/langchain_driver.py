"""LangChain: ``langchain-azure-dynamic-sessions`` SessionsPythonREPLTool and SessionsBashTool."""

from __future__ import annotations

import io
import os

from _serve import b64, serve, unb64
from langchain_azure_dynamic_sessions import SessionsBashTool, SessionsPythonREPLTool

POOL = os.environ["POOL"]
TOKEN = os.environ["TOKEN"]


def token() -> str:
    """The token provider the tools take as an argument (no Azure credential offline)."""
    return TOKEN


python = SessionsPythonREPLTool(pool_management_endpoint=POOL, access_token_provider=token)
bash = SessionsBashTool(pool_management_endpoint=POOL, access_token_provider=token)


def _call(tool, argument: str, value: str) -> dict:
    """What an agent gets back from a tool call (content) and the raw answer (artifact)."""
    message = tool.invoke(
        {"args": {argument: value}, "id": "call-1", "name": tool.name, "type": "tool_call"}
    )
    return {"content": message.content, "artifact": message.artifact}


def invoke(code: str) -> dict:
    return _call(python, "python_code", code)


def upload(name: str, data: str) -> dict:
    meta = python.upload_file(data=io.BytesIO(unb64(data)), remote_file_path=name)
    return {"filename": meta.filename, "size": meta.size_in_bytes, "full_path": meta.full_path}


def list_files() -> list:
    return [{"filename": m.filename, "size": m.size_in_bytes} for m in python.list_files()]


def download(name: str) -> str:
    return b64(python.download_file(remote_file_path=name).read())


def session_id() -> str:
    return python.session_id


def delete_session() -> dict:
    """The tool deletes the session on a thread and moves on to a new identifier."""
    old = python.session_id
    python.delete_session()
    return {"old": old, "new": python.session_id}


def bash_invoke(command: str) -> dict:
    return _call(bash, "bash_command", command)


def bash_upload(name: str, data: str) -> dict:
    meta = bash.upload_file(data=io.BytesIO(unb64(data)), remote_file_path=name)
    return {"filename": meta.filename, "size": meta.size_in_bytes}


def bash_list() -> list:
    return [{"filename": m.filename, "size": m.size_in_bytes} for m in bash.list_files()]


def bash_download(name: str) -> str:
    return b64(bash.download_file(remote_file_path=name).read())


def bash_session_id() -> str:
    return bash.session_id


serve(
    {
        "invoke": invoke,
        "upload": upload,
        "list": list_files,
        "download": download,
        "session_id": session_id,
        "delete_session": delete_session,
        "bash_invoke": bash_invoke,
        "bash_upload": bash_upload,
        "bash_list": bash_list,
        "bash_download": bash_download,
        "bash_session_id": bash_session_id,
    }
)
