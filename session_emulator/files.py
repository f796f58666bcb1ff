"""Session files: name checks, metadata, and a multipart upload streamed to disk under a cap.

Every operation works relative to a directory file descriptor opened without following
symlinks: sandboxed code owns ``/mnt/data`` and may plant a symlink to any host path
there, which the emulator (often root) must never follow.
"""

from __future__ import annotations

import contextlib
import errno
import mimetypes
import os
import re
import shutil
import stat
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import python_multipart
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header

from .errors import BadRequest, NotFound, PayloadTooLarge
from .sessions import Session, rfc3339

#: The docs' rule: letters, digits (Unicode too) and ``- _ space . @ $ & = ; , # % ^ ( )``.
_NAME_PUNCTUATION = set("-_ .@$&=;,#%^()")
MAX_NAME_BYTES = 255
#: Multipart framing allowed on top of the upload cap (headers, boundaries, other fields).
MULTIPART_OVERHEAD = 64 * 1024
_MNT_DATA = "/mnt/data"
_PATH_PART = re.compile(r"^[^/\\\x00]+$")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: O_NONBLOCK: opening a FIFO planted by sandboxed code must not hang the event loop.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_READ_CHUNK = 64 * 1024
#: RFC 2046: a boundary is at most 70 characters, plus the leading "--".
_MAX_BOUNDARY_LINE = 72


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


@dataclass(frozen=True)
class Folder:
    """An open session folder: its fd (symlinks never followed) and its path under /mnt/data."""

    fd: int
    rel: str

    @property
    def mnt_path(self) -> str:
        """The folder as code in the sandbox sees it."""
        return f"{_MNT_DATA}/{self.rel}" if self.rel else _MNT_DATA


def _path_parts(path: str | None) -> list[str]:
    """The ``path`` query as folder names below /mnt/data (400 on '..' or odd characters)."""
    if path is None:
        return []
    rel = path.strip()
    if rel == _MNT_DATA or rel.startswith(_MNT_DATA + "/"):
        rel = rel[len(_MNT_DATA) :]
    parts = [p for p in rel.replace("\\", "/").split("/") if p not in ("", ".")]
    if any(p == ".." or not _PATH_PART.match(p) for p in parts):
        raise BadRequest(f"Invalid path {path!r}.", code="InvalidPath")
    return parts


@contextlib.contextmanager
def open_folder(session: Session, path: str | None) -> Iterator[Folder]:
    """Open the folder named by the ``path`` query one component at a time, never via a symlink."""
    parts = _path_parts(path)
    fd = os.open(session.data_dir, _DIR_FLAGS)
    try:
        for part in parts:
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:  # missing, a file, or a symlink (ELOOP/ENOTDIR)
                raise NotFound(f"Directory {path!r} not found.", code="DirectoryNotFound") from exc
            os.close(fd)
            fd = child
        yield Folder(fd=fd, rel="/".join(parts))
    finally:
        os.close(fd)


def _lstat(folder: Folder, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=folder.fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def describe(folder: Folder, name: str, st: os.stat_result | None = None) -> dict[str, Any]:
    """A ``SessionResourceFile`` for one entry of ``folder`` (a symlink is a file, not followed)."""
    st = st or os.stat(name, dir_fd=folder.fd, follow_symlinks=False)
    is_dir = stat.S_ISDIR(st.st_mode)
    body: dict[str, Any] = {
        "name": name,
        "type": "directory" if is_dir else "File",
        "lastModifiedAt": rfc3339(datetime.fromtimestamp(st.st_mtime, UTC)),
        "directory": folder.mnt_path,
    }
    if not is_dir:
        body["sizeInBytes"] = st.st_size
        body["contentType"] = content_type(name)
    return body


def content_type(name: str) -> str:
    """A MIME type guessed from the name, as the service reports it."""
    guessed, _ = mimetypes.guess_type(name)
    if guessed is None:
        return "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def existing(folder: Folder, name: str) -> os.stat_result:
    """The lstat of an entry that must exist in ``folder`` (400 bad name, 404 missing)."""
    st = _lstat(folder, validate_file_name(name))
    if st is None:
        raise NotFound(f"File {name!r} not found.", code="FileNotFound")
    return st


def open_content(folder: Folder, name: str) -> tuple[BinaryIO, int]:
    """A regular file opened for reading without following a symlink, and its size (404 else)."""
    validate_file_name(name)
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=folder.fd)
    except OSError as exc:
        raise NotFound(f"File {name!r} not found.", code="FileNotFound") from exc
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):  # a directory, FIFO, socket or device: not a file
        os.close(fd)
        raise NotFound(f"File {name!r} not found.", code="FileNotFound")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb"), st.st_size


def iter_content(handle: BinaryIO) -> Iterator[bytes]:
    """Chunks of an open file, closing it at the end."""
    with handle:
        while chunk := handle.read(_READ_CHUNK):
            yield chunk


def remove(folder: Folder, name: str) -> None:
    """Delete a file, a symlink (not its target) or a whole folder."""
    if stat.S_ISDIR(existing(folder, name).st_mode):
        shutil.rmtree(name, dir_fd=folder.fd)
    else:
        os.unlink(name, dir_fd=folder.fd)


def store(folder: Folder, name: str, staged: Path, *, uid: int | None) -> None:
    """Move a complete upload into ``folder`` as ``name``, replacing a file (or symlink) there."""
    st = _lstat(folder, name)
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise BadRequest(f"{name!r} is a directory.", code="InvalidFileName")
    if uid is not None:
        os.chown(staged, uid, uid)
    try:
        os.replace(staged, name, dst_dir_fd=folder.fd)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    # single-session-dir mode: staging and the shared folder may be different mounts.
    partial = f".upload-{uuid.uuid4().hex}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        with (
            open(staged, "rb") as src,
            os.fdopen(os.open(partial, flags, 0o644, dir_fd=folder.fd), "wb") as dst,
        ):
            shutil.copyfileobj(src, dst)
            if uid is not None:
                os.fchown(dst.fileno(), uid, uid)
        os.replace(partial, name, src_dir_fd=folder.fd, dst_dir_fd=folder.fd)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial, dir_fd=folder.fd)


def scan(folder: Folder) -> list[tuple[str, os.stat_result]]:
    """The names in a folder, sorted, with their lstat."""
    with os.scandir(folder.fd) as found:
        return sorted((e.name, e.stat(follow_symlinks=False)) for e in found)


def list_folder(folder: Folder, *, recursive: bool) -> list[dict[str, Any]]:
    """The entries of a folder (sorted by name), optionally with everything below it."""
    entries = []
    for name, st in scan(folder):
        entries.append(describe(folder, name, st))
        if recursive and stat.S_ISDIR(st.st_mode):
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=folder.fd)
            except OSError:  # replaced by something else meanwhile: skip it
                continue
            try:
                rel = f"{folder.rel}/{name}" if folder.rel else name
                entries.extend(list_folder(Folder(fd=child, rel=rel), recursive=True))
            finally:
                os.close(child)
    return entries


def upload_name(filename: str) -> str:
    """The file name an upload (or a legacy download) asks for, checked.

    Most clients send a bare name; LlamaIndex and Semantic Kernel send the absolute
    ``/mnt/data/<name>`` the file will have in the session, which means the same file.
    Any other path is refused like a bad name (the ``path`` query names a subfolder).
    """
    if filename.startswith(_MNT_DATA + "/"):
        filename = filename[len(_MNT_DATA) + 1 :]
    return validate_file_name(filename)


async def _multipart_boundary(
    content_type_header: str, stream: AsyncIterator[bytes]
) -> tuple[bytes, AsyncIterator[bytes]]:
    """The boundary, from the header or, when the header is not multipart, from the body.

    Semantic Kernel sets ``Content-Type: application/json`` on its client for executions
    and httpx keeps it for the multipart upload that follows: the body still starts with
    ``--<boundary>``, which is what is read here (at most one line of it).
    """
    _, params = parse_options_header(content_type_header)
    boundary = params.get(b"boundary")
    if content_type_header.lower().startswith("multipart/form-data") and boundary:
        return boundary, stream
    head = b""
    iterator = stream.__aiter__()
    while b"\r\n" not in head and len(head) < _MAX_BOUNDARY_LINE:
        try:
            head += await iterator.__anext__()
        except StopAsyncIteration:
            break
    line = head.split(b"\r\n", 1)[0]
    if not (line.startswith(b"--") and 2 < len(line) <= _MAX_BOUNDARY_LINE):
        raise BadRequest("Expected multipart/form-data with a 'file' field.", code="InvalidUpload")

    async def replay() -> AsyncIterator[bytes]:
        yield head
        async for chunk in iterator:
            yield chunk

    return line[2:], replay()


async def receive_upload(
    *,
    content_type_header: str,
    stream: AsyncIterator[bytes],
    staging: Path,
    max_bytes: int,
) -> tuple[str, Path]:
    """Stream the multipart field ``file`` to a staging file; never read more than the cap.

    Returns the name it asks for (:func:`upload_name`) and the staged file.
    The whole body, not only the file part, is bounded (cap plus ``MULTIPART_OVERHEAD``):
    other fields and headers are parsed and dropped, but must not stream forever.
    """
    boundary, stream = await _multipart_boundary(content_type_header, stream)
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
            state["found"] = upload_name(opts[b"filename"].decode("utf-8", "replace"))
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
    received = 0
    try:
        async for chunk in stream:
            received += len(chunk)
            if received > max_bytes + MULTIPART_OVERHEAD:
                raise PayloadTooLarge(f"The upload exceeds the {max_bytes}-byte limit.")
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
