"""The in-sandbox kernel: limits, uid drop, then run code cells in one namespace, like Jupyter.

It is passed to ``python -u -c`` and lives as long as its session: a code-interpreter
session keeps a Jupyter kernel, so variables, imports and functions persist from one
execution to the next (the clients say so: "x = 5" then "print(x)"). The emulator talks
to it over a Unix socket (``EMU_KERNEL_FD``). A request is an 8-byte big-endian length,
a kind byte (``p``: Python code, ``s``: a shell command, as a Shell pool runs it), the
source, and three file descriptors passed with it (``SCM_RIGHTS``): the cell's stdout,
its stderr and a result pipe. The kernel points fd 1 and 2 at the first two while the cell
runs (so subprocesses are captured too), then writes the last expression's value (or the
shell command's exit code) as JSON to the result pipe and closes it: that EOF is the end
of the execution. Between cells fd 1 and 2 go to /dev/null. The socket's EOF ends the
kernel.

The value goes both as JSON (the default answer; a non-finite float is null, as the
service's examples show) and as its text/plain form (``pprint``, as IPython prints
``Out[n]``), which the legacy dialect and ``returnJupyterFormatExecutionResult`` return.

The code never touches a file another session could see. The last statement, when it is
an expression, is evaluated separately and its value returned (``Out[n]``); a figure or an
image (``savefig`` / ``_repr_png_``) becomes ``{"type": "image", "format": "png",
"base64_data": ...}`` as the service returns it; so do pyplot figures left open by the
cell (``plt.show()`` under the non-GUI backend), as a notebook's inline backend shows them.
"""

from __future__ import annotations

KERNEL = r"""
import os, sys
def _emu():
    import ast, json, math, resource, socket, struct, traceback
    env = os.environ
    sock = socket.socket(fileno=int(env.pop("EMU_KERNEL_FD")))
    for name, value in json.loads(env.pop("EMU_LIMITS", "[]")):
        resource.setrlimit(getattr(resource, name), (value, value))
    uid = env.pop("EMU_UID", "")
    if uid:
        os.setgroups([])
        os.setgid(int(uid))
        os.setuid(int(uid))
    limit = int(env.pop("EMU_RESULT_MAX", "1048576"))
    env.setdefault("MPLBACKEND", "Agg")
    sys.stdin = open(os.devnull)
    sys.argv = [""]
    ns = {"__name__": "__main__", "__builtins__": __builtins__}

    def show(exc):
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == "<string>":
            tb = tb.tb_next
        traceback.print_exception(type(exc), exc, tb)

    def image(value):
        import base64, io
        data = None
        try:
            if hasattr(value, "savefig"):
                buffer = io.BytesIO()
                value.savefig(buffer, format="png")
                data = buffer.getvalue()
            elif hasattr(value, "_repr_png_"):
                data = value._repr_png_()
        except BaseException:
            return None
        if not isinstance(data, (bytes, bytearray)):
            return None
        return {"type": "image", "format": "png",
                "base64_data": base64.b64encode(bytes(data)).decode()}

    def figure():
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is None:
            return None
        try:
            if not plt.get_fignums():
                return None
            picture = image(plt.gcf())
            plt.close("all")
            return picture
        except BaseException:
            return None

    def encode(value):
        # the value as JSON (the default answer) and as text/plain (a notebook's Out[n])
        picture = figure() if value is None else None
        if picture is None and not isinstance(value, (type(None), str, int, float, list, dict)):
            picture = image(value)
        if picture is not None:
            return picture, None
        if value is None:
            return "", None
        import pprint
        try:
            text = pprint.pformat(value, sort_dicts=False)
        except BaseException:
            text = object.__repr__(value)
        if isinstance(value, float) and not math.isfinite(value):
            return None, text
        try:
            return json.loads(json.dumps(value, allow_nan=False)), text
        except BaseException:
            return text, text

    def cell(src):
        value = None
        try:
            tree = ast.parse(src, "<code>")
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body.pop().value)
            exec(compile(tree, "<code>", "exec"), ns)
            if last is not None:
                value = eval(compile(last, "<code>", "eval"), ns)
        except SystemExit as exc:
            if exc.code not in (None, 0):
                show(exc)
        except BaseException as exc:
            show(exc)
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            pass
        try:
            out, text = encode(value)
        except BaseException as exc:
            show(exc)
            out, text = "", None
        data = json.dumps({"executionResult": out, "text": text}).encode()
        if len(data) > limit:
            short = (text or "")[: limit // 2]
            data = json.dumps({"executionResult": short, "text": short}).encode()
        return data

    def shell(src):
        import subprocess
        argv = ["/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh", "-c", src]
        try:
            code = subprocess.call(argv, stdin=subprocess.DEVNULL)
        except OSError as exc:
            print(f"{argv[0]}: {exc}", file=sys.stderr, flush=True)
            code = 127
        return json.dumps({"exitCode": 128 - code if code < 0 else code}).encode()

    def receive():
        fds, chunks, size, got = [], [], None, 0
        while size is None or got < size + 8:
            data, more, _, _ = socket.recv_fds(sock, 1 << 20, 3)
            if not data:
                return None, None, fds
            fds += more
            chunks.append(data)
            got += len(data)
            if size is None and got >= 8:
                size = struct.unpack(">Q", b"".join(chunks)[:8])[0]
        body = b"".join(chunks)[8:]
        return body[:1], body[1:].decode("utf-8", "surrogatepass"), fds

    null = os.open(os.devnull, os.O_RDWR)
    while True:
        kind, src, fds = receive()
        if src is None or len(fds) != 3:
            return
        out_fd, err_fd, result_fd = fds
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        os.close(out_fd)
        os.close(err_fd)
        data = shell(src) if kind == b"s" else cell(src)
        os.dup2(null, 1)
        os.dup2(null, 2)
        with os.fdopen(result_fd, "wb", closefd=True) as pipe:
            pipe.write(data)
_emu()
"""

#: The length prefix of a request (the kind byte plus the source's UTF-8 size).
HEADER_FORMAT = ">Q"
#: A request's kind byte: Python code for the kernel's namespace, or a shell command line.
PYTHON = b"p"
SHELL = b"s"
