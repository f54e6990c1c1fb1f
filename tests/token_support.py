"""Scaffolding for the BPF token tests: an unprivileged child in a user namespace of its own, and a
bpffs instance the privileged parent configured to delegate BPF to it.

The dance (kernel >= 6.9): the child unshares a user and a mount namespace (the parent writes its
uid and gid maps) and calls ``fsopen("bpf")``, so the bpffs instance belongs to the child's user
namespace; it passes the fs context's fd to the parent over a Unix socket (SCM_RIGHTS). The
parent sets the ``delegate_*`` options (only a process with CAP_SYS_ADMIN in the initial user
namespace may), creates the superblock and ``fsmount``s it, and passes the mount's fd back; the
child attaches it to a directory with ``move_mount`` and runs a scenario of this module there,
whose observations come back as JSON.

The child's uid 0 is mapped to uid 0 (so it still reads the interpreter and the checkout, which
may sit under /root), but its capabilities are those of its own user namespace only: in the
initial one, which bpf() asks without a token, it has none. Run as a script, this module is the
child.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import socket
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

# syscall numbers: one table for every architecture since 5.1 (x86_64, arm64, ...), alpha aside
SYS_MOVE_MOUNT, SYS_FSOPEN, SYS_FSCONFIG, SYS_FSMOUNT = 429, 430, 431, 432
# linux/mount.h
FSOPEN_CLOEXEC = 0x1
FSCONFIG_SET_STRING, FSCONFIG_CMD_CREATE = 1, 6
FSMOUNT_CLOEXEC = 0x1
MOVE_MOUNT_F_EMPTY_PATH = 0x4
# linux/sched.h
CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
AT_FDCWD = -100

TIMEOUT = 60.0  # seconds a side waits for the other's next message before it gives up

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long


def _checked(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def fsopen(fs_name: str) -> int:
    return _checked(_syscall(ctypes.c_long(SYS_FSOPEN), ctypes.c_char_p(fs_name.encode()),
                             ctypes.c_uint(FSOPEN_CLOEXEC)), f"fsopen({fs_name!r})")


def fsconfig_string(fs_fd: int, key: str, value: str) -> None:
    _checked(_syscall(ctypes.c_long(SYS_FSCONFIG), ctypes.c_int(fs_fd), ctypes.c_uint(FSCONFIG_SET_STRING),
                      ctypes.c_char_p(key.encode()), ctypes.c_char_p(value.encode()), ctypes.c_int(0)),
             f"fsconfig({key}={value})")


def fsconfig_create(fs_fd: int) -> None:
    _checked(_syscall(ctypes.c_long(SYS_FSCONFIG), ctypes.c_int(fs_fd), ctypes.c_uint(FSCONFIG_CMD_CREATE),
                      ctypes.c_char_p(None), ctypes.c_void_p(None), ctypes.c_int(0)), "fsconfig(CMD_CREATE)")


def fsmount(fs_fd: int) -> int:
    return _checked(_syscall(ctypes.c_long(SYS_FSMOUNT), ctypes.c_int(fs_fd), ctypes.c_uint(FSMOUNT_CLOEXEC),
                             ctypes.c_uint(0)), "fsmount")


def move_mount_to(mount_fd: int, target: str) -> None:
    """Attach the detached mount ``mount_fd`` at the directory ``target``."""
    _checked(_syscall(ctypes.c_long(SYS_MOVE_MOUNT), ctypes.c_int(mount_fd), ctypes.c_char_p(b""),
                      ctypes.c_int(AT_FDCWD), ctypes.c_char_p(os.fsencode(target)),
                      ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH)), f"move_mount(to {target})")


def unshare(flags: int) -> None:
    _checked(_libc.unshare(ctypes.c_int(flags)), "unshare")


# messages: one JSON object per datagram, with fds alongside ---------------------------------

def send(sock: socket.socket, message: Dict[str, Any], fds: Tuple[int, ...] = ()) -> None:
    socket.send_fds(sock, [json.dumps(message).encode()], list(fds))


def receive(sock: socket.socket, expected_fds: int = 0) -> Tuple[Dict[str, Any], List[int]]:
    data, fds, _, _ = socket.recv_fds(sock, 1 << 20, max(expected_fds, 1))
    if not data:
        for fd in fds:
            os.close(fd)
        raise EOFError("the other side closed the socket")
    return json.loads(data), fds


# the parent --------------------------------------------------------------------------------

class NoTokens(Exception):
    """The kernel (or the system's settings) cannot give the child a delegated bpffs; the
    message says why."""


DEFAULT_DELEGATION = {"delegate_cmds": "any", "delegate_maps": "any", "delegate_progs": "any",
                      "delegate_attachs": "any"}


def run_delegated(scenario: str, delegation: Optional[Dict[str, str]] = None, **args: Any) -> Dict[str, Any]:
    """Run ``scenario`` (a ``scenario_*`` function of this module) in an unprivileged child that
    has a bpffs delegating ``delegation`` (the mount options) mounted on a directory; return what
    it reports. Raises NoTokens when the kernel cannot do it; the child, its namespaces (and so
    its mount) and the directory are gone when this returns, also on failure."""
    delegation = DEFAULT_DELEGATION if delegation is None else delegation
    mount_dir = tempfile.mkdtemp(prefix="libbpf_py-token-")
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    child: Optional[subprocess.Popen] = None
    try:
        parent_sock.settimeout(TIMEOUT)
        child = subprocess.Popen(
            [sys.executable, __file__, str(child_sock.fileno()), scenario, mount_dir, json.dumps(args)],
            pass_fds=[child_sock.fileno()], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        child_sock.close()
        try:
            return _serve(child, parent_sock, delegation)
        except (EOFError, OSError, ValueError) as exc:
            output = _finish(child)
            raise AssertionError(f"the child failed ({exc!r}); its output:\n{output}") from None
    finally:
        try:
            parent_sock.close()
            child_sock.close()
            if child is not None:
                _finish(child)
        finally:
            os.rmdir(mount_dir)  # (the mount was in the child's mount namespace, gone with it)


def _finish(child: subprocess.Popen, patience: float = 0.0) -> str:
    """Wait up to ``patience`` seconds for the child to end (then kill it) and return its output."""
    if child.stdout is None or child.stdout.closed:  # finished before
        return ""
    try:
        output, _ = child.communicate(timeout=patience)
    except subprocess.TimeoutExpired:
        child.kill()
        output, _ = child.communicate()
    return output.decode(errors="replace") if output else ""


def _serve(child: subprocess.Popen, sock: socket.socket, delegation: Dict[str, str]) -> Dict[str, Any]:
    message, _ = receive(sock)
    if "unshare_errno" in message:
        raise NoTokens(f"cannot create a user namespace: {os.strerror(message['unshare_errno'])}")
    for name, line in (("uid_map", "0 0 1"), ("gid_map", "0 0 1")):
        Path(f"/proc/{child.pid}/{name}").write_text(line + "\n")
    send(sock, {"mapped": True})

    message, fds = receive(sock, 1)
    if "fsopen_errno" in message:
        raise NoTokens("the kernel does not let a user namespace create a bpffs instance (fsopen(\"bpf\"): "
                       f"{os.strerror(message['fsopen_errno'])}): it has no BPF tokens (kernel < 6.9)")
    (fs_fd,) = fds
    try:
        for key, value in delegation.items():
            try:
                fsconfig_string(fs_fd, key, value)
            except OSError as exc:
                if exc.errno == errno.EINVAL:
                    raise NoTokens(f"the kernel has no BPF tokens: bpffs refused the mount option {key} ({exc})") \
                        from None
                if exc.errno == errno.EPERM:
                    raise NoTokens(f"delegating needs CAP_SYS_ADMIN in the initial user namespace ({exc})") from None
                raise
        fsconfig_create(fs_fd)
        mount_fd = fsmount(fs_fd)
    finally:
        os.close(fs_fd)
    try:
        send(sock, {"mount": True}, (mount_fd,))
    finally:
        os.close(mount_fd)

    report, _ = receive(sock)
    output = _finish(child, TIMEOUT)
    if "error" in report:
        raise AssertionError(f"the child's scenario {report.get('scenario')!r} failed:\n{report['error']}\n"
                             f"its output:\n{output}")
    if child.returncode != 0:
        raise AssertionError(f"the child exited with {child.returncode}; its output:\n{output}")
    return report


# the child ---------------------------------------------------------------------------------

def _child(sock_fd: int, scenario: str, mount_dir: str, args: Dict[str, Any]) -> None:
    sock = socket.socket(fileno=sock_fd)
    sock.settimeout(TIMEOUT)
    try:
        unshare(CLONE_NEWUSER | CLONE_NEWNS)
    except OSError as exc:
        send(sock, {"unshare_errno": exc.errno})
        return
    send(sock, {"unshared": True})
    receive(sock)  # the maps are written

    try:
        fs_fd = fsopen("bpf")
    except OSError as exc:
        send(sock, {"fsopen_errno": exc.errno})
        return
    try:
        send(sock, {"fs": True}, (fs_fd,))
    finally:
        os.close(fs_fd)
    _, (mount_fd,) = receive(sock, 1)

    try:
        move_mount_to(mount_fd, mount_dir)
        report = SCENARIOS[scenario](mount_dir=mount_dir, mount_fd=mount_fd, **args)
    except BaseException:
        report = {"scenario": scenario, "error": traceback.format_exc()}
    finally:
        os.close(mount_fd)
    send(sock, report)


def _outcome(action: Callable[[], Any]) -> Dict[str, Any]:
    """What ``action`` did: its value, or the exception it raised (class, errno, message)."""
    try:
        return {"value": action()}
    except Exception as exc:
        return {"raised": [cls.__name__ for cls in type(exc).__mro__], "errno": getattr(exc, "errno", None),
                "message": str(exc)}


def scenario_load(mount_dir: str, mount_fd: int, obj: str) -> Dict[str, Any]:
    """Load ``obj`` (bpf_progs' xdp_pass.o) without a token and with the delegated bpffs as
    ``token_path``; run its program; make Tokens from the directory and from the mount's fd, and
    create a map with one through libbpf's own bpf_map_create."""
    import libbpf_py as bpf
    from libbpf_py.token import Token

    report: Dict[str, Any] = {"libbpf": bpf.libbpf().version_string}
    status = Path("/proc/self/status").read_text()
    report["cap_eff"] = next(line.split()[1] for line in status.splitlines() if line.startswith("CapEff:"))

    def load(**options: Any) -> Dict[str, Any]:
        with bpf.Object.open(obj, **options) as loaded:
            loaded.load()
            prog = loaded.programs["xdp_count"]
            stats = loaded.maps["xdp_stats"]
            stats.key_type = stats.value_type = int
            dropped = prog.test_run(b"\xff" + bytes(63)).retval
            passed = prog.test_run(bytes(64)).retval
            stats[1] = stats[1] + 1000  # an update from user space, through the token-created map
            token_fd = None
            if bpf.libbpf().version >= (1, 5):
                token_fd = bpf.libbpf().bpf_object__token_fd(loaded.as_libbpf())
            return {"dropped": dropped, "passed": passed, "stats": [stats[0], stats[1]], "object_token_fd": token_fd,
                    "prog_type": int(prog.info().type)}

    report["without_token"] = _outcome(lambda: load(token_path=""))  # "": libbpf makes no token of its own
    report["without_token_implicit"] = _outcome(load)  # libbpf's own try of /sys/fs/bpf (not delegated here)
    report["with_token"] = _outcome(lambda: load(token_path=mount_dir))

    def token_from(source: Any) -> Dict[str, Any]:
        with Token.create(source) as token:
            kinds = token.delegated()
            fdinfo = Path(f"/proc/self/fdinfo/{token.fd}").read_text()
            made = _create_map(token.fd)
            return {"fd": token.fd, "fdinfo": fdinfo, "repr": repr(token), "map": made,
                    "delegated": {field: None if value is None else sorted(int(v) for v in value)
                                  for field, value in kinds._asdict().items()}}

    report["token_from_dir"] = _outcome(lambda: token_from(mount_dir))
    report["token_from_mount_fd"] = _outcome(lambda: token_from(mount_fd))
    report["map_without_token"] = _outcome(lambda: _create_map(None))
    report["token_from_host_bpffs"] = _outcome(lambda: token_from("/sys/fs/bpf"))

    token = Token.create(mount_dir)
    token.close()
    token.close()
    report["closed_twice"] = token.closed
    report["fd_after_close"] = _outcome(lambda: token.fd)
    return report


BPF_F_TOKEN_FD = 1 << 16  # linux/bpf.h: the command's token_fd field is set


class _MapCreateOpts(ctypes.Structure):
    """libbpf's struct bpf_map_create_opts up to token_fd (libbpf >= 1.4)."""

    _fields_ = [("sz", ctypes.c_size_t), ("btf_fd", ctypes.c_uint32), ("btf_key_type_id", ctypes.c_uint32),
                ("btf_value_type_id", ctypes.c_uint32), ("btf_vmlinux_value_type_id", ctypes.c_uint32),
                ("inner_map_fd", ctypes.c_uint32), ("map_flags", ctypes.c_uint32), ("map_extra", ctypes.c_uint64),
                ("numa_node", ctypes.c_uint32), ("map_ifindex", ctypes.c_uint32),
                ("value_type_btf_obj_fd", ctypes.c_int32), ("token_fd", ctypes.c_uint32)]


def scenario_restricted(mount_dir: str, mount_fd: int, obj: str) -> Dict[str, Any]:
    """Under a narrower delegation: what the token shows, and what it refuses."""
    import libbpf_py as bpf
    from libbpf_py.token import Token

    report: Dict[str, Any] = {}

    def load() -> Dict[str, Any]:
        with bpf.Object.open(obj, token_path=mount_dir) as loaded:
            loaded.load()
            return {"retval": loaded.programs["xdp_count"].test_run(bytes(64)).retval}

    report["load"] = _outcome(load)
    with Token.create(mount_dir) as token:
        kinds = token.delegated()
        report["delegated"] = {field: None if value is None else sorted(int(v) for v in value)
                               for field, value in kinds._asdict().items()}
        report["delegated_names"] = {field: None if value is None else sorted(getattr(v, "name", v) for v in value)
                                     for field, value in kinds._asdict().items() if field != "commands"}
        report["array"] = _outcome(lambda: _create_map(token.fd))
        report["hash"] = _outcome(lambda: _create_map(token.fd, bpf.MapType.HASH))
    return report


def scenario_undelegated(mount_dir: str, mount_fd: int, obj: str) -> Dict[str, Any]:
    """A bpffs of the child's user namespace that delegates nothing."""
    import libbpf_py as bpf
    from libbpf_py.token import Token

    def load() -> None:
        with bpf.Object.open(obj, token_path=mount_dir) as loaded:
            loaded.load()

    return {"token": _outcome(lambda: Token.create(mount_dir).close()), "load": _outcome(load)}


def scenario_lifetime(mount_dir: str, mount_fd: int) -> Dict[str, Any]:
    """A Token closed from another thread during an operation, from the operation's own thread (as
    a signal's handler would), in a forked child, by collection; pickled."""
    import gc
    import pickle
    import threading

    from libbpf_py.token import Token

    report: Dict[str, Any] = {}
    waited = Token.create(mount_dir)
    closed = threading.Event()

    def close() -> None:
        waited.close()
        closed.set()

    with waited._fd_in_use() as fd:
        closer = threading.Thread(target=close)
        closer.start()
        closed.wait(0.2)  # (a close that did not wait would be seen here; one that waits never is)
        report["closed_during_operation"] = closed.is_set()
        report["map_during_operation"] = _outcome(lambda: _create_map(fd))
    closer.join(TIMEOUT)
    report["closed_after_operation"] = closed.is_set() and waited.closed

    released = Token.create(mount_dir)
    with released._fd_in_use() as fd:
        released.close()
        released.close()
        report["same_thread_closed"] = released.closed
        report["number_while_closed"] = os.readlink(f"/proc/self/fd/{fd}")
        report["map_with_released_token"] = _outcome(lambda: _create_map(fd))
    report["number_after_operation"] = os.path.lexists(f"/proc/self/fd/{fd}")

    forked = Token.create(mount_dir)
    pid = os.fork()
    if pid == 0:  # the forked child closes its copy
        try:
            forked.close()
            os._exit(0 if forked.closed else 1)
        finally:
            os._exit(2)
    report["forked_child_exit"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    report["map_after_fork"] = _outcome(lambda: _create_map(forked.fd))
    report["pickled"] = _outcome(lambda: pickle.dumps(forked))
    forked.close()
    fd = Token.create(mount_dir).fd  # (dropped at once)
    gc.collect()
    report["collected_closes"] = not os.path.lexists(f"/proc/self/fd/{fd}")
    return report


def _create_map(token_fd: Optional[int], map_type: int = 2) -> Dict[str, Any]:
    """A map made by libbpf's bpf_map_create with ``token_fd`` (None: without a token): its type,
    its name (lost in a user namespace: libbpf asks whether the kernel takes names by loading a
    program without the token) and a value written and read back."""
    import libbpf_py as bpf

    opts = _MapCreateOpts(sz=ctypes.sizeof(_MapCreateOpts))
    if token_fd is not None:
        opts.token_fd = token_fd
        opts.map_flags = BPF_F_TOKEN_FD
    fd = bpf.libbpf().bpf_map_create(int(map_type), b"token_made", 4, 8, 2, ctypes.addressof(opts))
    try:
        made = bpf.Map.from_fd(fd)  # (on a copy of the fd)
    finally:
        os.close(fd)
    with made:
        info = made.info()
        made.key_type = made.value_type = int
        made[1] = 42
        return {"type": int(info.type), "name": info.name, "value": made[1]}


SCENARIOS: Dict[str, Callable[..., Dict[str, Any]]] = {
    "load": scenario_load, "restricted": scenario_restricted, "undelegated": scenario_undelegated,
    "lifetime": scenario_lifetime,
}


if __name__ == "__main__":
    _child(int(sys.argv[1]), sys.argv[2], sys.argv[3], json.loads(sys.argv[4]))
