"""The disk and inode budget of a session's /mnt/data.

/mnt/data is a folder on the host's file system, which has no per-folder quota the
emulator could set portably. The budget is therefore enforced, not imposed: the runner
measures the folder while code runs (every ``QUOTA_CHECK_SECONDS``) and when it ends,
and an execution that takes the session over its budget is killed and reported as
failed; uploads and new executions are refused while the folder is over it. One file
can never exceed the budget (``RLIMIT_FSIZE`` is capped by it), so the overshoot is
bounded by what code can write in one check interval. Allocated blocks are counted,
so a sparse file costs what it really occupies.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: How often a running execution's /mnt/data is measured.
QUOTA_CHECK_SECONDS = 0.25
QUOTA_EXCEEDED = "QuotaExceeded"


@dataclass(frozen=True)
class Usage:
    """Allocated bytes and entries (files, folders, links) under a folder."""

    bytes: int
    entries: int


@dataclass(frozen=True)
class DiskBudget:
    """Limits of one session's /mnt/data."""

    max_bytes: int
    max_entries: int

    def measure(self, folder: Path) -> Usage:
        """Walk ``folder`` without following links; stops early once over either limit."""
        used = entries = 0
        stack = [str(folder)]
        while stack:
            try:
                with os.scandir(stack.pop()) as listing:
                    for entry in listing:
                        entries += 1
                        try:
                            st = entry.stat(follow_symlinks=False)
                        except OSError:
                            continue
                        used += st.st_blocks * 512
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        if used > self.max_bytes or entries > self.max_entries:
                            return Usage(used, entries)
            except OSError:  # vanished or unreadable meanwhile: what is gone costs nothing
                continue
        return Usage(used, entries)

    def over(self, usage: Usage) -> bool:
        """Whether ``usage`` breaks the budget."""
        return usage.bytes > self.max_bytes or usage.entries > self.max_entries

    def message(self) -> str:
        """The error a caller sees."""
        return (
            f"The session's /mnt/data is over its quota ({self.max_bytes} bytes or "
            f"{self.max_entries} files and folders); delete files to use it again."
        )
