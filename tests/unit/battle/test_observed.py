"""A side's choices read back from a protocol log (`battle.observed`): what an outside
user chose, named as the arena names its own decisions."""

from __future__ import annotations

from battle.observed import ObservedChoice, observed_choices

LOG = """\
|player|p1|arena p1 00|1|
|player|p2|SomeBot|2|
|start
|switch|p1a: Garchomp|Garchomp, L80, M|100/100
|switch|p2a: Iron Valiant|Iron Valiant, L83|100/100
|turn|1
|-terastallize|p2a: Iron Valiant|Fairy
|move|p2a: Iron Valiant|Moonblast|p1a: Garchomp
|-damage|p1a: Garchomp|40/100
|move|p1a: Garchomp|Earthquake|p2a: Iron Valiant
|turn|2
|switch|p2a: Snorlax|Snorlax, L88, F|100/100
|move|p1a: Garchomp|Outrage|p2a: Snorlax
|turn|3
|move|p2a: Snorlax|Sleep Talk|p2a: Snorlax
|move|p2a: Snorlax|Body Slam|p1a: Garchomp|[from]move: Sleep Talk
|move|p1a: Garchomp|Outrage|p2a: Snorlax|[from]lockedmove
|turn|4
|cant|p2a: Snorlax|slp
|move|p1a: Garchomp|Dragon Tail|p2a: Snorlax
|drag|p2a: Iron Valiant|Iron Valiant, L83|100/100
|turn|5
|move|p2a: Iron Valiant|Moonblast|p1a: Garchomp
|faint|p1a: Garchomp
|switch|p1a: Corviknight|Corviknight, L84, F|100/100
|faint|p2a: Iron Valiant
|upkeep
|switch|p2a: Urshifu|Urshifu-Rapid-Strike, L80, M|100/100
|turn|6
"""


def test_reads_one_sides_moves_tera_and_switches_at_their_turns():
    assert observed_choices(LOG.splitlines(), "p2") == [
        ObservedChoice(1, "move moonblast tera"),
        ObservedChoice(2, "switch snorlax"),
        ObservedChoice(3, "move sleeptalk"),  # the move it called is not a choice
        ObservedChoice(5, "move moonblast"),  # tera belonged to turn 1 only
        ObservedChoice(5, "switch urshifurapidstrike"),  # after a faint: turn 5's choice
    ]


def test_leads_drags_locked_moves_and_the_other_side_are_not_choices():
    mine = observed_choices(LOG.splitlines(), "p1")
    assert mine == [
        ObservedChoice(1, "move earthquake"),
        ObservedChoice(2, "move outrage"),  # its locked second turn is not read
        ObservedChoice(4, "move dragontail"),
        ObservedChoice(5, "switch corviknight"),
    ]


def test_an_empty_or_broken_log_reads_as_no_choices():
    assert observed_choices([], "p2") == []
    assert observed_choices(["", "|", "|turn|x", "|move|p2a: X"], "p2") == []
