"""A small, tolerant reader of Bicep declarations, for tests where no Bicep compiler exists.

It does not parse expressions. It blanks comments and string contents (string-aware, with
``${...}`` interpolations and nested strings), then finds ``param``/``var``/``resource``/
``module``/``output`` declarations, their bodies (balanced braces) and an object's top-level
keys. Indexes into the blanked text equal indexes into the source, so spans found on the
structure can be read back from the source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

_DECL = re.compile(r"^[ \t]*(param|var|resource|module|output)[ \t]+(\w+)", re.MULTILINE)
_QUOTED = re.compile(r"\s*'([^']*)'")
_KEY = re.compile(r"^[ \t]*(\w+|'[^'\n]*')[ \t]*:", re.MULTILINE)
_OPEN = "{[("
_CLOSE = "}])"


class BicepSyntaxError(ValueError):
    """Unbalanced brackets or an unterminated string or comment."""


def _blank(text: str) -> tuple[str, str]:
    """(source with comments blanked, source with comments and string contents blanked)."""
    no_comments = list(text)
    structure = list(text)
    i, n = 0, len(text)
    # Stack of contexts: "code", or "string"; "interp" entries track brace depth in ${...}.
    stack: list[list] = [["code", 0]]
    string_start = -1
    while i < n:
        kind = stack[-1][0]
        ch = text[i]
        if kind in ("code", "interp"):
            if text.startswith("//", i):
                end = text.find("\n", i)
                end = n if end == -1 else end
                for j in range(i, end):
                    no_comments[j] = structure[j] = " "
                i = end
                continue
            if text.startswith("/*", i):
                end = text.find("*/", i + 2)
                if end == -1:
                    raise BicepSyntaxError(f"unterminated block comment at {i}")
                for j in range(i, end + 2):
                    if text[j] != "\n":
                        no_comments[j] = structure[j] = " "
                i = end + 2
                continue
            if text.startswith("'''", i):
                end = text.find("'''", i + 3)
                if end == -1:
                    raise BicepSyntaxError(f"unterminated multi-line string at {i}")
                for j in range(i + 3, end):
                    if text[j] != "\n":
                        structure[j] = "x"
                i = end + 3
                continue
            if ch == "'":
                if kind == "code":
                    string_start = i
                stack.append(["string", 0])
                i += 1
                continue
            if kind == "interp":
                structure[i] = "x"
                if ch == "{":
                    stack[-1][1] += 1
                elif ch == "}":
                    if stack[-1][1] == 0:
                        stack.pop()
                    else:
                        stack[-1][1] -= 1
            i += 1
            continue
        # inside a string
        if ch == "\\":
            structure[i] = "x"
            if i + 1 < n:
                structure[i + 1] = "x"
            i += 2
            continue
        if ch == "'":
            stack.pop()
            if stack[-1][0] == "interp":
                structure[i] = "x"
            i += 1
            continue
        if text.startswith("${", i):
            structure[i] = structure[i + 1] = "x"
            stack.append(["interp", 0])
            i += 2
            continue
        if ch == "\n":
            raise BicepSyntaxError(f"string starting at {string_start} runs past the line end")
        structure[i] = "x"
        i += 1
    if len(stack) != 1:
        raise BicepSyntaxError(f"unterminated string starting at {string_start}")
    return "".join(no_comments), "".join(structure)


def matching_bracket(structure: str, start: int) -> int:
    """Index of the bracket closing the one at ``start`` (in blanked text)."""
    depth: list[str] = []
    for i in range(start, len(structure)):
        ch = structure[i]
        if ch in _OPEN:
            depth.append(_CLOSE[_OPEN.index(ch)])
        elif ch in _CLOSE:
            if not depth or depth.pop() != ch:
                raise BicepSyntaxError(f"unexpected {ch!r} at {i}")
            if not depth:
                return i
    raise BicepSyntaxError(f"bracket at {start} is never closed")


def _check_balanced(structure: str) -> None:
    """Raise unless every bracket in the (blanked) file is closed by its partner."""
    depth: list[tuple[str, int]] = []
    for i, ch in enumerate(structure):
        if ch in _OPEN:
            depth.append((_CLOSE[_OPEN.index(ch)], i))
            continue
        if ch not in _CLOSE:
            continue
        if not depth or depth.pop()[0] != ch:
            raise BicepSyntaxError(f"unexpected {ch!r} at {i}")
    if depth:
        raise BicepSyntaxError(f"bracket at {depth[-1][1]} is never closed")


@dataclass(frozen=True)
class Declaration:
    """One top-level or nested declaration and the span of its body (if any)."""

    kind: str
    name: str
    start: int
    line: str
    type_string: str | None = None  # resource type@api or module path
    body: tuple[int, int] | None = None  # indexes of the body's { and }

    @property
    def resource_type(self) -> str | None:
        """``Microsoft.App/sessionPools`` for ``'Microsoft.App/sessionPools@2025-07-01'``."""
        return self.type_string.split("@")[0] if self.type_string else None

    @property
    def api_version(self) -> str | None:
        """The part after ``@``, if the type string has one."""
        if self.type_string and "@" in self.type_string:
            return self.type_string.split("@", 1)[1]
        return None


@dataclass
class BicepFile:
    """A Bicep file's declarations, found on the blanked text."""

    path: Path
    text: str = field(repr=False)

    @classmethod
    def load(cls, path: Path) -> BicepFile:
        """Read and scan ``path``."""
        return cls(path=path, text=path.read_text(encoding="utf-8"))

    @cached_property
    def _blanked(self) -> tuple[str, str]:
        return _blank(self.text)

    @property
    def code(self) -> str:
        """The source with comments blanked (strings kept)."""
        return self._blanked[0]

    @property
    def structure(self) -> str:
        """The source with comments and string contents blanked."""
        return self._blanked[1]

    @cached_property
    def declarations(self) -> list[Declaration]:
        """Every declaration, in source order (nested child resources included)."""
        _check_balanced(self.structure)
        found = []
        for match in _DECL.finditer(self.structure):
            kind, name = match.group(1), match.group(2)
            line_end = self.structure.find("\n", match.start())
            line_end = len(self.text) if line_end == -1 else line_end
            line = self.code[match.start() : line_end].strip()
            type_string = None
            if kind in ("resource", "module"):
                quoted = _QUOTED.match(self.text, match.end())
                type_string = quoted.group(1) if quoted else None
            body = None
            if kind in ("resource", "module"):
                equals = self.structure.find("=", match.end())
                brace = self.structure.find("{", equals)
                if equals != -1 and brace != -1:
                    body = (brace, matching_bracket(self.structure, brace))
            found.append(Declaration(kind, name, match.start(), line, type_string, body))
        return found

    def of_kind(self, kind: str) -> dict[str, Declaration]:
        """Declarations of one kind by name."""
        return {d.name: d for d in self.declarations if d.kind == kind}

    def body_text(self, declaration: Declaration) -> str:
        """The declaration's body with comments blanked."""
        assert declaration.body is not None, f"{declaration.name} has no body"
        start, end = declaration.body
        return self.code[start : end + 1]

    def object_keys(self, open_index: int) -> dict[str, str]:
        """Top-level keys of the object whose ``{`` is at ``open_index``, with value text."""
        close = matching_bracket(self.structure, open_index)
        keys: dict[str, str] = {}
        depth = 0
        i = open_index + 1
        while i < close:
            ch = self.structure[i]
            if ch in _OPEN:
                depth += 1
            elif ch in _CLOSE:
                depth -= 1
            elif depth == 0 and (i == open_index + 1 or self.structure[i - 1] == "\n"):
                match = _KEY.match(self.structure, i)
                if match and match.end() <= close:
                    key = self.text[match.start(1) : match.end(1)].strip("'")
                    value_end = self._value_end(match.end(), close)
                    keys[key] = self.code[match.end() : value_end].strip()
            i += 1
        return keys

    def _value_end(self, start: int, limit: int) -> int:
        """End of a value starting at ``start``: end of line, or past a bracketed block."""
        i = start
        while i < limit:
            ch = self.structure[i]
            if ch in _OPEN:
                i = matching_bracket(self.structure, i) + 1
                continue
            if ch == "\n":
                return i
            i += 1
        return limit

    def var_object_keys(self, name: str) -> dict[str, str]:
        """Top-level keys of ``var <name> = { ... }``."""
        decl = self.of_kind("var")[name]
        brace = self.structure.find("{", decl.start)
        return self.object_keys(brace)

    def body_keys(self, declaration: Declaration, *path: str) -> dict[str, str]:
        """Top-level keys of the declaration's body, or of a nested object by key path."""
        assert declaration.body is not None
        open_index = declaration.body[0]
        for key in path:
            value_start = self._key_value_start(open_index, key)
            open_index = self.structure.find("{", value_start)
        return self.object_keys(open_index)

    def _key_value_start(self, open_index: int, key: str) -> int:
        close = matching_bracket(self.structure, open_index)
        depth = 0
        for i in range(open_index + 1, close):
            ch = self.structure[i]
            if ch in _OPEN:
                depth += 1
            elif ch in _CLOSE:
                depth -= 1
            elif depth == 0 and self.structure[i - 1] == "\n":
                match = _KEY.match(self.structure, i)
                if match and self.text[match.start(1) : match.end(1)].strip("'") == key:
                    return match.end()
        raise KeyError(key)

    def decorators(self, declaration: Declaration) -> str:
        """The decorator lines (``@secure()``, ``@allowed([...])``...) right above a declaration."""
        lines = self.code[: declaration.start].rstrip("\n").split("\n")
        block: list[str] = []
        for line in reversed(lines):
            stripped = line.strip()
            if not stripped or _DECL.match(line) or stripped.endswith("}"):
                break
            block.append(stripped)
        block.reverse()
        return "\n".join(block) if block and block[0].startswith("@") else ""

    def param_default(self, name: str) -> str | None:
        """The text after ``=`` on a param's line, or None when it has no default."""
        line = self.of_kind("param")[name].line
        if "=" not in line:
            return None
        return line.split("=", 1)[1].strip()

    def param_required(self, name: str) -> bool:
        """True when a param has no default and is not nullable."""
        parts = self.of_kind("param")[name].line.split()
        return "=" not in self.of_kind("param")[name].line and not parts[2].endswith("?")
