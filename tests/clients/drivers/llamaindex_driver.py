"""LlamaIndex: ``llama-index-tools-azure-code-interpreter`` AzureCodeInterpreterToolSpec."""

from __future__ import annotations

import os
import time

from _serve import b64, serve, unb64
from azure.core.credentials import AccessToken
from llama_index.tools.azure_code_interpreter import AzureCodeInterpreterToolSpec

POOL = os.environ["POOL"]
WORK = os.environ["WORK"]
SAVED = os.path.join(WORK, "llamaindex-images")
os.makedirs(SAVED, exist_ok=True)

spec = AzureCodeInterpreterToolSpec(pool_management_endpoint=POOL, local_save_path=SAVED)
# The spec fetches its token with DefaultAzureCredential unless it already holds a valid
# one: hand it the emulator's token, valid for a day (its own attribute, no patching).
spec.access_token = AccessToken(os.environ["TOKEN"], int(time.time()) + 86400)


def code_interpreter(code: str) -> dict:
    return spec.code_interpreter(code)


def agent_tool(code: str) -> str:
    """The same call the way an agent makes it: through the spec's FunctionTool."""
    tools = {tool.metadata.name: tool for tool in spec.to_tool_list()}
    return str(tools["code_interpreter"].call(python_code=code))


def upload(name: str, data: str) -> list:
    path = os.path.join(WORK, name)
    with open(path, "wb") as f:
        f.write(unb64(data))
    metas = spec.upload_file(local_file_path=path)
    return [
        {"filename": m.filename, "size": m.size_in_bytes, "full_path": m.file_full_path}
        for m in metas
    ]


def list_files() -> list:
    return [{"filename": m.filename, "size": m.size_in_bytes} for m in spec.list_files()]


def download(name: str) -> str:
    return b64(spec.download_file_to_local(remote_file_path=name).read())


def download_to(name: str) -> str:
    target = os.path.join(WORK, "downloaded-" + os.path.basename(name))
    spec.download_file_to_local(remote_file_path=name, local_file_path=target)
    with open(target, "rb") as f:
        return b64(f.read())


def saved_images() -> dict:
    found = {}
    for name in sorted(os.listdir(SAVED)):
        with open(os.path.join(SAVED, name), "rb") as f:
            found[name] = b64(f.read())
    return found


serve(
    {
        "code_interpreter": code_interpreter,
        "agent_tool": agent_tool,
        "upload": upload,
        "list": list_files,
        "download": download,
        "download_to": download_to,
        "saved_images": saved_images,
        "session_id": lambda: spec.session_id,
    }
)
