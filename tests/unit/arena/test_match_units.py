"""Small decisions of arena.match that need no server."""

from __future__ import annotations

import pytest

from arena.match import FormatError, check_format, showdown_username


def test_usernames_fit_showdown_and_differ_per_side_and_run():
    names = {
        showdown_username(agent, side, tag)
        for agent in ("random", "mistral:ft:ministral-8b-latest:abc123", "héuristic!!")
        for side in ("p1", "p2")
        for tag in ("a1b2", "c3d4")
    }
    assert len(names) == 12
    assert all(len(name) <= 18 for name in names)
    assert showdown_username("Mistral-Large", "p1", "a1b2") == "mistralla p1 a1b2"


@pytest.mark.parametrize(
    "fmt", ["gen9randombattle", "gen8randombattle", "gen9randombattleblitz", "gen9ou", "gen1ou"]
)
def test_random_singles_formats_are_playable(fmt):
    check_format(fmt)


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("gen9randomdoublesbattle", "singles"),
        ("gen9vgc2025regg", "singles"),
        ("random battle", "not a Showdown format id"),
    ],
)
def test_unplayable_formats_say_why(fmt, message):
    with pytest.raises(FormatError, match=message):
        check_format(fmt)


async def test_a_websocket_closing_under_poke_env_is_the_servers_one_line_error():
    """The server dying while poke-env sends a challenge surfaces as ServerError, which the
    CLI prints as one line (it used to escape as a ConnectionClosedError traceback)."""
    import types

    from websockets.exceptions import ConnectionClosedError

    from arena.engines import Lane, ServerEngine
    from arena.server import ServerError

    class Closing:
        async def battle_against(self, opponent, n_battles):
            raise ConnectionClosedError(None, None)

    engine = ServerEngine(types.SimpleNamespace(url="ws://127.0.0.1:1"))  # type: ignore[arg-type]

    def lane_for(pairing):
        return Lane(pairing, {"p1": Closing(), "p2": Closing()})  # type: ignore[dict-item]

    config = types.SimpleNamespace(concurrency=1)
    with pytest.raises(ServerError, match="stopped answering"):
        await engine.run_schedule([("p1", "p2")], lane_for, config)  # type: ignore[arg-type]
