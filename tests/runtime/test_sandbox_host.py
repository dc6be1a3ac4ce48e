"""What the sandbox takes from the host: the /etc snapshot, cgroup joining, the peer lookup."""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambdactl.runtime import supervisor
from lambdactl.runtime.cgroups import create_cgroup
from lambdactl.runtime.sandbox import ETC_FILES, etc_view

ETC_APP = '''
import os
def handler(event, context):
    out = {"listing": sorted(os.listdir("/etc"))}
    for name in event["read"]:
        try:
            with open("/etc/" + name, "rb") as f:
                out[name] = f.read().decode("latin-1")
        except OSError as e:
            out[name] = e.__class__.__name__
    for d in event["dirs"]:
        try:
            out[d] = sorted(os.listdir(d))
        except OSError as e:
            out[d] = e.__class__.__name__
    return out
'''


@pytest.mark.parametrize("snapshot", [True, False], ids=["snapshot", "per-entry-binds"])
def test_sandbox_etc_is_the_whitelist_with_live_contents(make_env, bwrap_only, cache, snapshot):
    readable = [n for n in ("passwd", "hosts", "resolv.conf", "nsswitch.conf", "group")
                if os.path.isfile(f"/etc/{n}") and os.stat(f"/etc/{n}").st_mode & 0o004]
    env = make_env({"app.py": ETC_APP}, cache_dir=(cache / "sandbox") if snapshot else None)
    event = {"read": readable + ["shadow", "gshadow"], "dirs": ["/etc/ssl/private", "/etc/ssl/certs"]}
    seen = json.loads(env.invoke(json.dumps(event).encode()).payload)
    assert set(seen["listing"]) <= set(ETC_FILES), seen["listing"]
    for name in readable:
        assert seen[name] == Path(f"/etc/{name}").read_bytes().decode("latin-1"), name
    assert seen["shadow"] == seen["gshadow"] == "FileNotFoundError"
    if os.path.isdir("/etc/ssl/private"):
        assert seen["/etc/ssl/private"] == []  # host keys masked, in both ways of binding /etc
    if os.path.isdir("/etc/ssl/certs"):
        assert seen["/etc/ssl/certs"] == sorted(os.listdir("/etc/ssl/certs"))  # bound live


def test_etc_snapshot_follows_host_changes(tmp_path):
    etc = tmp_path / "etc"
    (etc / "ssl").mkdir(parents=True)
    (etc / "hosts").write_text("127.0.0.1 localhost\n")
    (etc / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (etc / "group").write_text("secret\n")
    os.chmod(etc / "group", 0o600)  # not world-readable: left out
    os.symlink("/usr/share/zoneinfo/Etc/UTC", etc / "localtime")
    os.symlink("/run/elsewhere/resolv.conf", etc / "resolv.conf")  # dangling: left out
    cache = tmp_path / "cache"
    first = etc_view(cache, str(etc))
    assert first is not None
    snap, dirs = first
    assert dirs == ["ssl"]
    assert sorted(p.name for p in snap.iterdir()) == ["hosts", "localtime", "passwd", "ssl"]
    assert os.readlink(snap / "localtime") == "/usr/share/zoneinfo/Etc/UTC"
    assert (snap / "hosts").stat().st_mode & 0o777 == 0o644
    assert etc_view(cache, str(etc)) == first  # unchanged host: the same snapshot
    (etc / "hosts").write_text("127.0.0.1 localhost changed\n")  # in place, same inode
    second = etc_view(cache, str(etc))
    assert second is not None and second[0] != snap
    assert (second[0] / "hosts").read_text() == "127.0.0.1 localhost changed\n"
    # the outdated snapshot stays: a running sandbox may still have it mounted as its /etc
    assert (snap / "hosts").read_text() == "127.0.0.1 localhost\n"
    replaced = etc / "passwd.new"
    replaced.write_text("root:x:0:0::/root:/bin/bash\n")
    os.replace(replaced, etc / "passwd")  # replaced by rename, as package managers do
    third = etc_view(cache, str(etc))
    assert third is not None and (third[0] / "passwd").read_text().endswith("/bin/bash\n")


def test_etc_view_without_a_writable_cache_binds_entry_by_entry(tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache directory should be")
    assert etc_view(blocker / "sandbox") is None


def test_sandbox_processes_join_their_cgroup_before_exec(make_env):
    env = make_env({"app.py": "def handler(e, c):\n    return open('/proc/self/cgroup').read()\n"})
    cg = env.supervisor.launched.cgroup
    if cg is None:
        pytest.skip("no writable cgroup tree here")
    inside = json.loads(env.invoke(b"{}").payload)
    pid_of_runtime = cg.procs()
    assert pid_of_runtime and env.supervisor.pid in pid_of_runtime  # bwrap itself too
    if not cg.v2:
        for ctrl, path in cg.paths.items():
            assert f":{ctrl}:/" in inside and inside.split(f":{ctrl}:", 1)[1].split("\n")[0].endswith(path.name)


def test_self_join_uses_the_thread_file_on_cgroup_v1():
    cg = create_cgroup("join-file-test", 4)
    if cg is None:
        pytest.skip("no writable cgroup tree here")
    try:
        names = {Path(f).name for f in cg.self_join_files()}
        assert names == ({"cgroup.procs"} if cg.v2 else {"tasks"})
        assert cg.cheap_self_join is (not cg.v2)
    finally:
        cg.remove()


@contextlib.contextmanager
def loopback_pair() -> Iterator[tuple[socket.socket, int]]:
    """A connected client socket and the port of the listener it is connected to."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        port = srv.getsockname()[1]
        with socket.socket() as client:
            client.connect(("127.0.0.1", port))
            yield client, port


def test_peer_socket_inode_lookup():
    with loopback_pair() as (client, port):
        mine = client.getsockname()[1]
        want = os.fstat(client.fileno()).st_ino
        assert supervisor._tcp_socket_inode(mine, port) == want
        assert supervisor._tcp_socket_inode_netlink(mine, port) == want
        assert supervisor._tcp_socket_inode(mine, port + 1 if port < 65535 else port - 1) is None
        # no such connection: the kernel's answer (ENOENT) is also its answer when it has no
        # TCP handler, so it is an error here and the /proc/net/tcp scan decides
        with pytest.raises(OSError):
            supervisor._tcp_socket_inode_netlink(mine, port + 1 if port < 65535 else port - 1)
        # the kernel falls back to a listener on the local port: that is no connection
        assert supervisor._tcp_socket_inode_netlink(port, 1) is None


def test_peer_lookup_falls_back_to_proc_net_tcp(monkeypatch):
    def no_netlink(*_: object) -> None:
        raise OSError("netlink unavailable")

    monkeypatch.setattr(supervisor, "_tcp_socket_inode_netlink", no_netlink)
    with loopback_pair() as (client, port):
        assert supervisor._tcp_socket_inode(client.getsockname()[1], port) == os.fstat(client.fileno()).st_ino
