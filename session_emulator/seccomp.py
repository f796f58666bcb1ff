"""The seccomp filter every sandboxed execution runs under (handed to bwrap's ``--seccomp``).

Without it, sandboxed code could create a user namespace and, as uid 0 inside it, mount
file systems, run a nested bwrap or reach kernel interfaces (keyrings, BPF, io_uring) that
have had privilege-escalation bugs: attack surface a real session (a Hyper-V sandbox)
does not offer. The filter is a deny list, like Docker's and Flatpak's defaults, of calls
that Python code and its usual libraries have no use for:

- namespace creation and entry (``unshare``/``clone`` with a ``CLONE_NEW*`` flag,
  ``setns``); ``clone3`` answers ENOSYS, so libc falls back to ``clone``, whose flags a
  filter can read;
- mounting and the new mount API, ``pivot_root``, ``chroot``;
- another process's memory (``ptrace``, ``process_vm_*``, ``kcmp``, ``pidfd_getfd``);
- keyrings, ``bpf``, ``perf_event_open``, ``userfaultfd``, ``io_uring``;
- kernel modules, kexec, reboot, swap, clocks, quotas, accounting, syslog, host names;
- file handles (``open_by_handle_at``: the "shocker" escape), ``iopl``/``ioperm``.

They fail with EPERM, so a library that probes one sees an ordinary error. System calls
of any other ABI (i386 via ``int 0x80``, x32) fail with ENOSYS. The program is classic
BPF built here because the standard library (libseccomp) has no maintained PyPI binding;
it is small, built from two tables checked against the kernel's ``unistd`` headers, and
the tests prove each class of call refused inside a real sandbox.
"""

from __future__ import annotations

import errno
import platform
import struct

# seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6]
_NR, _ARCH, _ARG0_LOW = 0, 4, 16
_LD_W_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000

#: Namespace flags; for clone the low byte is the exit signal, so CLONE_NEWTIME (0x80) is
#: only meaningful to unshare.
_CLONE_NEW = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000
_CLONE_NEW |= 0x40000000
_UNSHARE_NEW = _CLONE_NEW | 0x00000080

#: Denied calls, by name, with their numbers on x86_64 and on aarch64 (asm-generic).
DENIED: dict[str, tuple[int | None, int | None]] = {
    "ptrace": (101, 117),
    "process_vm_readv": (310, 270),
    "process_vm_writev": (311, 271),
    "kcmp": (312, 272),
    "pidfd_getfd": (438, 438),
    "mount": (165, 40),
    "umount2": (166, 39),
    "pivot_root": (155, 41),
    "chroot": (161, 51),
    "open_tree": (428, 428),
    "move_mount": (429, 429),
    "fsopen": (430, 430),
    "fsconfig": (431, 431),
    "fsmount": (432, 432),
    "fspick": (433, 433),
    "mount_setattr": (442, 442),
    "setns": (308, 268),
    "swapon": (167, 224),
    "swapoff": (168, 225),
    "reboot": (169, 142),
    "sethostname": (170, 161),
    "setdomainname": (171, 162),
    "init_module": (175, 105),
    "finit_module": (313, 273),
    "delete_module": (176, 106),
    "kexec_load": (246, 104),
    "kexec_file_load": (320, 294),
    "quotactl": (179, 60),
    "quotactl_fd": (443, 443),
    "acct": (163, 89),
    "settimeofday": (164, 170),
    "adjtimex": (159, 171),
    "clock_settime": (227, 112),
    "clock_adjtime": (305, 266),
    "syslog": (103, 116),
    "keyctl": (250, 219),
    "add_key": (248, 217),
    "request_key": (249, 218),
    "bpf": (321, 280),
    "perf_event_open": (298, 241),
    "userfaultfd": (323, 282),
    "io_uring_setup": (425, 425),
    "io_uring_enter": (426, 426),
    "io_uring_register": (427, 427),
    "open_by_handle_at": (304, 265),
    "name_to_handle_at": (303, 264),
    "lookup_dcookie": (212, 18),
    "vhangup": (153, 58),
    "nfsservctl": (180, 42),
    "iopl": (172, None),
    "ioperm": (173, None),
    "uselib": (134, None),
}
#: Calls allowed unless their first argument asks for a new namespace.
_FLAG_CHECKED = {"clone": ((56, 220), _CLONE_NEW), "unshare": ((272, 97), _UNSHARE_NEW)}
_CLONE3 = 435
#: (AUDIT_ARCH value, index into the number tables, lowest number of a foreign x32 call)
_ARCHES = {"x86_64": (0xC000003E, 0, 0x40000000), "aarch64": (0xC00000B7, 1, None)}


class SeccompUnsupported(RuntimeError):
    """No syscall table for this machine's architecture."""


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def build_filter(machine: str | None = None) -> bytes:
    """The BPF program (struct sock_filter[]) for ``machine`` (default: this one)."""
    machine = (machine or platform.machine()).lower()
    if machine == "arm64":
        machine = "aarch64"
    if machine not in _ARCHES:
        raise SeccompUnsupported(f"no seccomp table for {machine}")
    audit_arch, column, x32_base = _ARCHES[machine]
    denied = sorted({nrs[column] for nrs in DENIED.values() if nrs[column] is not None})
    checked = [(nrs[column], mask) for nrs, mask in _FLAG_CHECKED.values()]

    # Layout: header, one JEQ per denied number, flag checks, ALLOW, then the verdicts.
    body: list[tuple[int, int, str | None]] = []  # (code, k, label jumped to when true)
    body.append((_LD_W_ABS, _ARCH, None))
    body.append((_JEQ, audit_arch, "same_arch"))  # else fall through to ENOSYS
    body.append((_RET, _RET_ERRNO | errno.ENOSYS, None))
    labels = {"same_arch": len(body)}
    body.append((_LD_W_ABS, _NR, None))
    if x32_base is not None:
        body.append((_JGE, x32_base, "enosys"))
    body.append((_JEQ, _CLONE3, "enosys"))
    body += [(_JEQ, nr, "eperm") for nr in denied]
    for index, (nr, _) in enumerate(checked):
        body.append((_JEQ, nr, f"flags{index}"))
    body.append((_RET, _RET_ALLOW, None))
    for index, (_, mask) in enumerate(checked):
        labels[f"flags{index}"] = len(body)
        body.append((_LD_W_ABS, _ARG0_LOW, None))
        body.append((_JSET, mask, "eperm"))
        body.append((_RET, _RET_ALLOW, None))
    labels["eperm"] = len(body)
    body.append((_RET, _RET_ERRNO | errno.EPERM, None))
    labels["enosys"] = len(body)
    body.append((_RET, _RET_ERRNO | errno.ENOSYS, None))

    program = bytearray()
    for position, (code, k, target) in enumerate(body):
        if target is None:
            program += _insn(code, k)
            continue
        offset = labels[target] - position - 1
        if not 0 <= offset <= 255:
            raise AssertionError(f"BPF jump to {target} out of range ({offset})")
        program += _insn(code, k, jt=offset, jf=0)
    return bytes(program)


def denied_numbers(machine: str | None = None) -> dict[str, int]:
    """Name → number of every call the filter refuses outright on ``machine``."""
    machine = (machine or platform.machine()).lower()
    column = _ARCHES["aarch64" if machine == "arm64" else machine][1]
    return {name: nrs[column] for name, nrs in DENIED.items() if nrs[column] is not None}
