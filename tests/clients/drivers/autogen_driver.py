"""AutoGen: ``autogen-ext[azure]`` ACADynamicSessionsCodeExecutor."""

from __future__ import annotations

import os
import time

from _serve import b64, serve, unb64
from autogen_core import CancellationToken
from autogen_core.code_executor import CodeBlock
from autogen_ext.code_executors.azure import ACADynamicSessionsCodeExecutor
from azure.core.credentials import AccessToken

POOL = os.environ["POOL"]
WORK = os.path.join(os.environ["WORK"], "autogen")
os.makedirs(WORK, exist_ok=True)


class EmulatorToken:
    """The ``credential`` argument: anything with get_token (AutoGen's TokenProvider)."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken(os.environ["TOKEN"], int(time.time()) + 3600)


credential = EmulatorToken()
executor = ACADynamicSessionsCodeExecutor(
    pool_management_endpoint=POOL, credential=credential, work_dir=WORK
)


async def run(blocks: list) -> dict:
    code_blocks = [CodeBlock(code=code, language=language) for language, code in blocks]
    result = await executor.execute_code_blocks(code_blocks, CancellationToken())
    return {"exit_code": result.exit_code, "output": result.output}


async def upload(files: dict) -> None:
    for name, data in files.items():
        with open(os.path.join(WORK, name), "wb") as f:
            f.write(unb64(data))
    await executor.upload_files(list(files), CancellationToken())


async def list_files() -> list:
    return await executor.get_file_list(CancellationToken())


async def download(names: list) -> dict:
    paths = await executor.download_files(names, CancellationToken())
    found = {}
    for path in paths:
        with open(path, "rb") as f:
            found[os.path.basename(path)] = b64(f.read())
    return found


async def packages() -> list:
    return sorted(await executor.get_available_packages(CancellationToken()))


async def restart() -> None:
    await executor.restart()


serve(
    {
        "run": run,
        "upload": upload,
        "list": list_files,
        "download": download,
        "packages": packages,
        "restart": restart,
        "scopes": lambda: credential.scopes,
    }
)
