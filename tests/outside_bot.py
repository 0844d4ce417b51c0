"""A bot outside the arena, for the tests: a poke-env random player logged in to a
Showdown server as NAME, run as its own program.

In `accept` mode it behaves like bots in the wild: it accepts one challenge at a time,
plays the battle, pauses, and loses the challenges that arrived during the pause (the
arena must re-issue them). `ignore` never answers; `reject` rejects every challenge.

    python tests/outside_bot.py --server ws://127.0.0.1:8000/showdown/websocket \
        --name OutsideBot --mode accept --pause 3

It prints `ready` once logged in, then one line per battle it played.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from poke_env.concurrency import POKE_LOOP
from poke_env.data.normalize import to_id_str
from poke_env.player import RandomPlayer
from poke_env.ps_client import AccountConfiguration, ServerConfiguration

from arena.server import AUTH_URL


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", required=True, help="the server's websocket URL")
    p.add_argument("--name", required=True, help="the Showdown username to log in as")
    p.add_argument("--format", default="gen9randombattle")
    p.add_argument("--mode", choices=("accept", "ignore", "reject"), default="accept")
    p.add_argument("--pause", type=float, default=0.0, help="seconds between battles")
    return p


async def serve(args: argparse.Namespace) -> None:
    player = RandomPlayer(
        account_configuration=AccountConfiguration(args.name, None),
        server_configuration=ServerConfiguration(args.server, AUTH_URL),
        battle_format=args.format,
        max_concurrent_battles=1,
        log_level=logging.ERROR,
    )
    await player.ps_client.logged_in.wait()
    print("ready", flush=True)
    queue = player._challenge_queue
    played = 0
    while True:
        user = to_id_str(await queue.get())
        if args.mode == "ignore":
            continue
        if args.mode == "reject":
            await player.ps_client.send_message(f"/reject {user}")
            continue
        await player.ps_client.accept_challenge(user, player.next_team)
        await player._battle_semaphore.acquire()  # the battle started
        await player._battle_count_queue.join()  # and ended
        played += 1
        print(f"played {played} against {user}", flush=True)
        await asyncio.sleep(args.pause)
        while not queue.empty():  # what arrived during the pause is lost
            queue.get_nowait()


def main() -> None:
    args = make_parser().parse_args()
    asyncio.run_coroutine_threadsafe(serve(args), POKE_LOOP).result()


if __name__ == "__main__":
    main()
