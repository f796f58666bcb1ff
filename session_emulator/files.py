"""Session files: name checks, metadata, and a multipart upload streamed to disk under a cap."""

from __future__ import annotations

import contextlib
import mimetypes
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import python_multipart
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header

from .errors import BadRequest, NotFound, PayloadTooLarge
from .sessions import Session, rfc3339

#: The docs' rule: letters, digits (Unicode too) and ``- _ space . @ $ & = ; , # % ^ ( )``.
_NAME_PUNCTUATION = set("-_ .@$&=;,#%^()")
MAX_NAME_BYTES = 255
_MNT_DATA = "/mnt/data"
_PATH_PART = re.compile(r"^[^/\\\x00]+$")


def validate_file_name(name: str) -> str:
    """Reject traversal, separators and characters outside the documented set (400)."""
    ok = (
        bool(name.strip())
        and name != "."
        and ".." not in name
        and len(name.encode("utf-8")) <= MAX_NAME_BYTES
        and all(ch.isalnum() or ch in _NAME_PUNCTUATION for ch in name)
    )
    if not ok:
        raise BadRequest(
            f"Invalid file name {name!r}: use letters, digits and - _ space . @ $ & = ; , # % ^ "
            "( ); no path separators or '..'.",
            code="InvalidFileName",
        )
    return name


def resolve_dir(session: Session, path: str | None) -> Path:
    """The host folder for the optional ``path`` query (``/mnt/data``-relative, no '..')."""
    base = session.data_dir
    if path is None:
        return base
    rel = path.strip()
    if rel.startswith(_MNT_DATA):
        rel = rel[len(_MNT_DATA) :]
    parts = [p for p in rel.replace("\\", "/").split("/") if p not in ("", ".")]
    if any(p == ".." or not _PATH_PART.match(p) for p in parts):
        raise BadRequest(f"Invalid path {path!r}.", code="InvalidPath")
    target = base.joinpath(*parts)
    if parts and not target.is_dir():
        raise NotFound(f"Directory {path!r} not found.", code="DirectoryNotFound")
    return target


def describe(path: Path, *, root: Path) -> dict[str, Any]:
    """A ``SessionResourceFile`` for a host path inside the session."""
    stat = path.lstat()
    is_dir = path.is_dir() and not path.is_symlink()
    parent = path.parent.relative_to(root)
    body: dict[str, Any] = {
        "name": path.name,
        "type": "directory" if is_dir else "File",
        "lastModifiedAt": rfc3339(datetime.fromtimestamp(stat.st_mtime, UTC)),
        "directory": _MNT_DATA if str(parent) == "." else f"{_MNT_DATA}/{parent}",
    }
    if not is_dir:
        body["sizeInBytes"] = stat.st_size
        body["contentType"] = content_type(path.name)
    return body


def content_type(name: str) -> str:
    """A MIME type guessed from the name, as the service reports it."""
    guessed, _ = mimetypes.guess_type(name)
    if guessed is None:
        return "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def existing_file(folder: Path, name: str) -> Path:
    """A file (or folder) that must exist inside the session (404 otherwise)."""
    target = folder / validate_file_name(name)
    if not target.exists() and not target.is_symlink():
        raise NotFound(f"File {name!r} not found.", code="FileNotFound")
    return target


def remove(target: Path) -> None:
    """Delete a file or a whole folder."""
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    else:
        target.unlink()


def list_folder(folder: Path, *, root: Path, recursive: bool) -> list[dict[str, Any]]:
    """The entries of a folder (sorted by name), optionally with everything below it."""
    entries = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        entries.append(describe(entry, root=root))
        if recursive and entry.is_dir() and not entry.is_symlink():
            entries.extend(list_folder(entry, root=root, recursive=True))
    return entries


async def receive_upload(
    *,
    content_type_header: str,
    stream: AsyncIterator[bytes],
    staging: Path,
    max_bytes: int,
) -> tuple[str, Path]:
    """Stream the multipart field ``file`` to a staging file; never keep more than the cap."""
    _, params = parse_options_header(content_type_header)
    boundary = params.get(b"boundary")
    if not content_type_header.lower().startswith("multipart/form-data") or not boundary:
        raise BadRequest("Expected multipart/form-data with a 'file' field.", code="InvalidUpload")
    state: dict[str, Any] = {"headers": [], "name": b"", "value": b"", "current": None}
    state["found"] = None
    state["size"] = 0
    out: list[Any] = [None]
    tmp = staging / f"upload-{uuid.uuid4().hex}"

    def on_part_begin() -> None:
        state["headers"] = []
        state["current"] = None

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["name"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"].append((state["name"].lower(), state["value"]))
        state["name"] = state["value"] = b""

    def on_headers_finished() -> None:
        disposition = dict(state["headers"]).get(b"content-disposition", b"")
        _, opts = parse_options_header(disposition)
        if opts.get(b"name") == b"file" and b"filename" in opts and state["found"] is None:
            state["found"] = validate_file_name(opts[b"filename"].decode("utf-8", "replace"))
            state["current"] = "file"
            out[0] = open(tmp, "wb")  # noqa: SIM115 - closed in the finally below

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state["current"] != "file":
            return
        state["size"] += end - start
        if state["size"] > max_bytes:
            raise PayloadTooLarge(f"The upload exceeds the {max_bytes}-byte limit.")
        out[0].write(data[start:end])

    def on_part_end() -> None:
        state["current"] = None

    callbacks = {
        "on_part_begin": on_part_begin,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
    }
    parser = python_multipart.MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    ok = False
    try:
        async for chunk in stream:
            parser.write(chunk)
        parser.finalize()
        ok = True
    except FormParserError as exc:
        raise BadRequest("Invalid multipart data.", code="InvalidUpload") from exc
    finally:
        if out[0] is not None:
            out[0].close()
        if not ok:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    if state["found"] is None:
        raise BadRequest("The multipart body has no 'file' field.", code="InvalidUpload")
    return state["found"], tmp
