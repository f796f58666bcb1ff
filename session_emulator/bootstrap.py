"""The tiny in-sandbox prelude: limits, uid drop, then run the code Jupyter-style.

It is passed to ``python -u -c`` and reads the user's code from stdin, so the code
never touches a file another session could see. The last statement, when it is an
expression, is evaluated separately and its value is written as JSON to the result
pipe (``EMU_RESULT_FD``), like a notebook cell's ``Out[n]``.
"""

from __future__ import annotations

BOOTSTRAP = r"""
import os, sys
def _emu():
    import ast, json, math, resource, traceback
    env = os.environ
    fd = int(env.pop("EMU_RESULT_FD"))
    for name, value in json.loads(env.pop("EMU_LIMITS", "[]")):
        resource.setrlimit(getattr(resource, name), (value, value))
    uid = env.pop("EMU_UID", "")
    if uid:
        os.setgroups([])
        os.setgid(int(uid))
        os.setuid(int(uid))
    limit = int(env.pop("EMU_RESULT_MAX", "1048576"))
    src = sys.stdin.read()
    sys.stdin.close()
    sys.stdin = open(os.devnull)
    sys.argv = [""]
    ns = {"__name__": "__main__", "__builtins__": __builtins__}
    value = None
    def show(exc):
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == "<string>":
            tb = tb.tb_next
        traceback.print_exception(type(exc), exc, tb)
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
    if value is None:
        out = ""
    elif isinstance(value, float) and not math.isfinite(value):
        out = str(value)
    else:
        try:
            out = json.loads(json.dumps(value, allow_nan=False))
        except BaseException:
            out = repr(value)
    data = json.dumps({"executionResult": out}).encode()
    if len(data) > limit:
        data = json.dumps({"executionResult": repr(value)[: limit // 2]}).encode()
    with os.fdopen(fd, "wb", closefd=True) as pipe:
        pipe.write(data)
_emu()
del _emu
"""
