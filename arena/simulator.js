// The arena's direct simulator engine: many battles in one Node process, no server.
//
//   node arena/simulator.js PATH_TO_POKEMON_SHOWDOWN
//
// Speaks line-delimited JSON. In (stdin):
//   {"id": TAG, "start": {"formatid": "gen9randombattle"}, "p1": {"name": ...}, "p2": {...}}
//   {"id": TAG, "side": "p1", "choice": "move 1"}      a player's choice
//   {"id": TAG, "tie": true}                            end a battle now, as a tie
// Out (stdout):
//   {"id": TAG, "side": "p1", "data": CHUNK}            what that player would receive
//   {"id": TAG, "end": true, "inputlog": TEXT}          the battle is over; its input log
//                                                       (seeds and choices: it re-runs it)
//   {"id": TAG, "error": MESSAGE}                       the simulator failed on it
// Each player's chunks are exactly the player streams of Showdown's simulator
// (privacy of `|split|` lines applied, `|request|` after the turn's log).
"use strict";

const readline = require("readline");
const { BattleStream, getPlayerStreams } = require(process.argv[2]);

const battles = new Map();

function send(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

async function pump(id, side, stream) {
  for await (const chunk of stream) send({ id, side, data: chunk });
}

function start(message) {
  const { id } = message;
  const stream = new BattleStream();
  const streams = getPlayerStreams(stream);
  battles.set(id, streams);
  const done = Promise.all([pump(id, "p1", streams.p1), pump(id, "p2", streams.p2)]);
  done
    .catch((err) => send({ id, error: String((err && err.stack) || err) }))
    .finally(() => {
      battles.delete(id);
      const inputlog = stream.battle ? stream.battle.inputLog.join("\n") : null;
      send({ id, end: true, inputlog });
    });
  void streams.omniscient.write(
    `>start ${JSON.stringify(message.start)}\n` +
      `>player p1 ${JSON.stringify(message.p1)}\n` +
      `>player p2 ${JSON.stringify(message.p2)}`
  );
  // The omniscient stream must be drained or the battle stalls.
  (async () => {
    for await (const _ of streams.omniscient);
  })().catch(() => {});
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (!line.trim()) return;
  let message;
  try {
    message = JSON.parse(line);
  } catch (err) {
    send({ id: null, error: `not JSON: ${line.slice(0, 80)}` });
    return;
  }
  if (message.start) return start(message);
  const streams = battles.get(message.id);
  if (!streams) return; // a late message for a finished battle
  if (message.choice !== undefined) void streams[message.side].write(message.choice);
  else if (message.tie) void streams.omniscient.write(">forcetie");
});
process.stdin.on("end", () => process.exit(0));
