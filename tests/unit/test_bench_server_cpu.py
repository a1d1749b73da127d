"""The benchmark's reading of a local database server's CPU time, from /proc."""

from __future__ import annotations

import subprocess

from bench.fake_proc import server_cpu_seconds


def test_a_running_command_is_read_and_an_absent_one_is_none() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        seconds = server_cpu_seconds("sleep")
        assert seconds is not None and seconds >= 0
        assert server_cpu_seconds("no-such-server") is None
    finally:
        child.kill()
        child.wait()
