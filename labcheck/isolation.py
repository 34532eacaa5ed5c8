"""A private network namespace for the run, where the machine allows it (Linux, as root).

labcheck rewrites every team address to loopback whatever happens. Inside a network
namespace that holds only loopback, a mistake that slipped through could not send a
packet out either: the namespace has no other interface. The pytest process moves into
it before it opens any socket, so the team's processes, which it starts, run there too,
and the namespace disappears with the last of them. ``LABCHECK_ISOLATION=off`` keeps the
machine's namespace (to share ports with programs outside the run).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
import sys

_CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


def private_network() -> bool:
    """Move this process into a new network namespace with loopback up; whether it did."""
    if sys.platform != "linux" or os.geteuid() != 0:
        return False
    if os.environ.get("LABCHECK_ISOLATION", "").lower() in ("off", "0", "non"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    original = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        if libc.unshare(_CLONE_NEWNET) != 0:  # a container without CAP_SYS_ADMIN, say
            return False
        try:
            _loopback_up()
        except OSError:
            libc.setns(original, _CLONE_NEWNET)  # back where we were: better than no network
            return False
        return True
    finally:
        os.close(original)


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))


def namespace() -> str | None:
    """This process's network namespace, as the kernel names it ("net:[4026532281]")."""
    try:
        return os.readlink("/proc/self/ns/net")
    except OSError:
        return None
