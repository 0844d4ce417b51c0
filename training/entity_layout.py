"""Where everything sits in the entity observation: entity slots, kinds, roles, numbers.

`training.entities.EntityEncoder` fills these slots; `training.turn_encoder` and
`training.heads` read them (which projection each entity's numbers go through, which
embedding says what it is, which entity scores each action, which actions terastallize);
the indices of the numbers name what `EntityEncoder` writes and what the tests check.

Entities (19), each 8 word slots and 25 numbers (flattened row-major into `tokens` and
`numbers`, so the data pipeline stores them as it stores the text view):

    ======  ==============================================================================
    0       global: format, phase, weather, 2 field words
    1, 2    our side, the opponent's: 4 side-condition words, its previous move and type
    3, 4    our active, the opponent's active (a Pokémon entity, below)
    5-9     our 5 switches in action order (actions 4-8)
    10-14   the opponent's revealed bench (sorted by species; needs the arena's
            `opponent_bench` extension, else empty)
    15-18   our active's 4 move slots in action order (actions 0-3, and 9-12 with tera)
    ======  ==============================================================================

Pokémon words: name, item, ability, status, type x2, tera type, first effect.
Pokémon numbers: hp, alive, level / 100, 7 boosts / 6, level-aware stats (hp atk def spa
spd spe, estimated from base stats and level with 84 EVs and 31 IVs, / 400),
terastallized, offence (best type multiplier of its types against the opposing active,
log2 / 2), defence (best multiplier of the opposing active's types against it), faster
than the opposing active (1, 0.5 tie, 0), its known moves' best expected damage and best
KO chance against the opposing active, the opposing active's known moves' best expected
damage and KO chance against it, known moves / 4. "The opposing active" of our Pokémon is
the opponent's active and of the opponent's Pokémon ours.

Move words: name, type, category. Move numbers: base power / 150, accuracy, priority / 5,
pp left (fraction), damaging, STAB, type multiplier against the opposing active (log2 /
2), attack / defence ratio of the stats it uses (boosts included, log2 / 2), expected
damage (fraction of the target's max HP, accuracy included) and KO chance, the same two
with tera, present, legal.

Side numbers: stealth rock, spikes / 3, toxic spikes / 2, sticky web, reflect, light
screen, aurora veil, tailwind, Pokémon left / 6, tera available, previous move's power /
150. Global numbers: forced switch, generation / 9, trick room, weather, terrain, the
opponent's Pokémon left / 6, ours / 6, won, lost.
"""

from __future__ import annotations

from training.features import N_ACTIONS, N_MOVES, N_SWITCHES, TERA_OFFSET

N_ENTITIES = 19
N_WORDS = 8  # word slots per entity
N_FEATURES = 25  # numbers per entity
N_BENCH = 5  # the opponent's revealed bench slots
GLOBAL, OUR_SIDE, OPP_SIDE, OUR_ACTIVE, OPP_ACTIVE = 0, 1, 2, 3, 4
OUR_BENCH = 5  # .. 9
OPP_BENCH = OUR_BENCH + N_SWITCHES  # 10 .. 14
MOVES = OPP_BENCH + N_BENCH  # 15 .. 18
assert MOVES + N_MOVES == N_ENTITIES

# The kind of each entity: its numbers mean different things per kind.
KIND_GLOBAL, KIND_SIDE, KIND_POKEMON, KIND_MOVE = 0, 1, 2, 3
N_KINDS = 4
ENTITY_KINDS = (
    KIND_GLOBAL,
    KIND_SIDE,
    KIND_SIDE,
    *[KIND_POKEMON] * (2 + N_SWITCHES + N_BENCH),
    *[KIND_MOVE] * N_MOVES,
)
assert len(ENTITY_KINDS) == N_ENTITIES
# The role of each entity (its learned embedding): slots of one group share a role, so
# the model sees no order among our switches, the opponent's bench or the move slots
# (their order is alphabetical, which means nothing), and a Pokémon or move scores the
# same whichever slot it sits in.
ENTITY_ROLES = (0, 1, 2, 3, 4, *[5] * N_SWITCHES, *[6] * N_BENCH, *[7] * N_MOVES)
N_ROLES = 8
assert len(ENTITY_ROLES) == N_ENTITIES

# The entity whose output scores each action: moves 0-3 -> move slots, 4-8 -> our switches,
# 9-12 -> the move slots again (with the tera modifier).
ACTION_ENTITIES = (
    *range(MOVES, MOVES + N_MOVES),
    *range(OUR_BENCH, OUR_BENCH + N_SWITCHES),
    *range(MOVES, MOVES + N_MOVES),
)
ACTION_IS_TERA = tuple(a >= TERA_OFFSET for a in range(N_ACTIONS))
assert len(ACTION_ENTITIES) == N_ACTIONS

# numbers of a Pokémon entity
P_HP, P_ALIVE, P_LEVEL, P_BOOSTS, P_STATS = 0, 1, 2, 3, 10
P_TERA = 16
P_OFFENCE, P_DEFENCE, P_FASTER = 17, 18, 19
P_DAMAGE, P_KO, P_TAKEN, P_TAKEN_KO, P_KNOWN = 20, 21, 22, 23, 24
# numbers of a move entity
(
    M_POWER,
    M_ACCURACY,
    M_PRIORITY,
    M_PP,
    M_DAMAGING,
    M_STAB,
    M_MULT,
    M_RATIO,
    M_DAMAGE,
    M_KO,
    M_TERA_DAMAGE,
    M_TERA_KO,
    M_PRESENT,
    M_LEGAL,
) = range(14)
# numbers of a side and of the global entity
SIDE_CONDITIONS = (
    "stealthrock",
    "spikes",
    "toxicspikes",
    "stickyweb",
    "reflect",
    "lightscreen",
    "auroraveil",
    "tailwind",
)
S_LEFT, S_TERA, S_PREV_POWER = 8, 9, 10
G_FORCED, G_GEN, G_TRICKROOM, G_WEATHER, G_TERRAIN, G_OPP_LEFT, G_OUR_LEFT, G_WON, G_LOST = range(9)
