"""The benchmark's reading of a local database server's CPU time, from /proc."""

from __future__ import annotations

import subprocess
import time

from bench.fake_proc import process_cpu_seconds, server_cpu_seconds


def test_every_process_of_the_command_is_counted_and_an_absent_one_is_none() -> None:
    busy = subprocess.Popen(["sh", "-c", "while :; do :; done"])
    try:
        while process_cpu_seconds(busy.pid) < 0.05:  # a few clock ticks of its own
            time.sleep(0.05)
        own = process_cpu_seconds(busy.pid)  # read first: it only grows
        total = server_cpu_seconds("sh")  # this one and any other sh on the machine
        assert total is not None and total >= own > 0
        assert server_cpu_seconds("no-such-server") is None
    finally:
        busy.kill()
        busy.wait()
