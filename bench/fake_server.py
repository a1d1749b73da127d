"""FakeBotAPI in a process of its own, driven over HTTP by the benchmarks.

The fake does real work per call (form decoding, Telegram-HTML parsing, bookkeeping); in its
own process that work is not charged to the bot being measured. Besides the Bot API it
serves a few control routes:

* ``POST /_ctl/push`` ``{"updates": [{"kind": "message"|"callback", "user": 1, ...}]}``:
  build and queue updates; answers their ids, the time they were queued and ``len(calls)``;
* ``GET /_ctl/count?since=&lo=&hi=&method=&after=&text=``: how many successful calls of
  ``method`` went to chats ``lo..hi`` (from call number ``since``, arriving after ``after``;
  with exactly ``text``, if given; ``other``: those with another text), and the arrival time
  of the last one;
* ``GET /_ctl/calls?since=``: the calls themselves (method, chat, arrival time, status,
  text), without the long polls;
* ``GET /_ctl/info``: ``rejected_429``, the number of calls, the fake's own clock;
* ``POST /_ctl/clear``: drop the updates still queued (a stopped bot may not have confirmed
  its last batch; the next bot must not get them); answers how many were dropped.

Times are ``time.monotonic()``, which on Linux is one clock for every process, so the bench
compares them with its own. The process ends when its stdin closes (the bench exits).

With ``--bots N`` one process serves N bots, each on a port of its own with its own update
queue, calls and limits, as Telegram serves many bots: benchmark 3 runs the bare bot and
leadbot side by side against one fake process.

Run: ``python -m bench.fake_server [--global-rate 30 --per-chat-rate 1 --per-chat-burst 3]
[--bots 2]``; it prints ``PORT <n> [<n2> …]`` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from aiohttp import web

from fakes.bot_api import FakeBotAPI


class Control:
    def __init__(self, fake: FakeBotAPI) -> None:
        self.fake = fake
        router = fake.app.router
        router.add_post("/_ctl/push", self.push)
        router.add_get("/_ctl/count", self.count)
        router.add_get("/_ctl/calls", self.calls)
        router.add_get("/_ctl/info", self.info)
        router.add_post("/_ctl/clear", self.clear)

    async def push(self, request: web.Request) -> web.Response:
        body = await request.json()
        fake = self.fake
        pushed = []
        for spec in body["updates"]:
            user = int(spec["user"])
            if spec["kind"] == "message":
                update = fake.message_update(user, spec["text"], first_name=spec.get("first_name"))
            elif spec["kind"] == "callback":
                update = fake.callback_update(user, spec["data"], spec.get("message_id"))
            else:
                raise web.HTTPBadRequest(text=f"unknown kind {spec['kind']!r}")
            queued = fake.push_update(update)
            pushed.append([queued["update_id"], user, time.monotonic()])
        return web.json_response({"pushed": pushed, "calls": len(fake.calls)})

    async def count(self, request: web.Request) -> web.Response:
        q = request.query
        since = int(q.get("since", 0))
        lo, hi = int(q.get("lo", -(2**62))), int(q.get("hi", 2**62))
        method = q.get("method", "sendMessage")
        after = float(q.get("after", 0))
        wanted = q.get("text")
        count, other, last = 0, 0, 0.0
        for call in self.fake.calls[since:]:
            chat = call.chat_id
            if (
                call.method == method
                and call.ok
                and isinstance(chat, int)
                and lo <= chat <= hi
                and call.time >= after
            ):
                if wanted is None or call.text == wanted:
                    count += 1
                    last = max(last, call.time)
                else:
                    other += 1
        return web.json_response(
            {"count": count, "other": other, "last": last, "calls": len(self.fake.calls)}
        )

    async def calls(self, request: web.Request) -> web.Response:
        since = int(request.query.get("since", 0))
        rows: list[list[Any]] = [
            [c.method, c.chat_id, c.time, c.status, (c.text or "")[:80]]
            for c in self.fake.calls[since:]
            if c.method != "getUpdates"
        ]
        return web.json_response({"calls": rows, "total": len(self.fake.calls)})

    async def info(self, request: web.Request) -> web.Response:
        fake = self.fake
        return web.json_response(
            {"rejected_429": fake.rejected_429, "calls": len(fake.calls), "now": time.monotonic()}
        )

    async def clear(self, request: web.Request) -> web.Response:
        dropped = len(self.fake.pending_updates)
        self.fake.pending_updates.clear()
        return web.json_response({"dropped": dropped})


async def serve(args: argparse.Namespace) -> None:
    fakes = [
        FakeBotAPI(
            global_rate=args.global_rate,
            per_chat_rate=args.per_chat_rate,
            per_chat_burst=args.per_chat_burst,
            global_burst=args.global_burst,
        )
        for _ in range(args.bots)
    ]
    for fake in fakes:
        Control(fake)
        await fake.start()
    print("PORT " + " ".join(f.base_url.rsplit(":", 1)[1] for f in fakes), flush=True)
    try:
        await asyncio.to_thread(sys.stdin.read)  # until the bench closes our stdin
    finally:
        for fake in fakes:
            await fake.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--global-rate", type=float, default=None)
    parser.add_argument("--global-burst", type=int, default=None)
    parser.add_argument("--per-chat-rate", type=float, default=None)
    parser.add_argument("--per-chat-burst", type=int, default=3)
    parser.add_argument("--bots", type=int, default=1, help="bots served, one port each")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
