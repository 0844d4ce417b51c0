// Re-run battles from their input logs in the bundled simulator, many per process.
//
//   node finetune/rerun.js PATH_TO_POKEMON_SHOWDOWN
//
// Line-delimited JSON. In (stdin), one battle a line:
//   {"id": ID, "inputlog": ">start {...}\n>player p1 {...}\n>player p2 {...}\n>p1 move ..."}
// Out (stdout), one line per battle, in the order they came in:
//   {"id": ID, "names": {"p1": NAME, "p2": NAME}, "winner": NAME | "", "turns": N,
//    "ended": BOOL, "p1": [LINE, ...], "p2": [LINE, ...], "spectator": [LINE, ...]}
//   {"id": ID, "error": MESSAGE}                  the input log could not be re-run
//
// A side's lines are what that player's stream would carry (the side's channel of every
// `|split|` block, `|request|JSON` after each update, `|error|...`), plus a marker line
// `>CHOICE` (e.g. `>move thunderbolt terastallize`) right where the input log has that
// side choose, so everything before a marker is what the player saw when it chose.
// `spectator` is the public channel: the battle part of a replay site's `log`.
//
// Everything runs synchronously: the stream's `pushMessage` is replaced by a recorder,
// and each input line is written with `_write`, which processes it before returning.
"use strict";

const path = require("path");
const readline = require("readline");

const pkg = process.argv[2];
const { BattleStream } = require(pkg);
const { extractChannelMessages } = require(path.join(pkg, "dist", "sim", "battle.js"));

const CHANNEL = { p1: 1, p2: 2 };

function rerun(inputlog) {
  const out = { p1: [], p2: [], spectator: [] };
  let failure = null;
  const stream = new BattleStream({ keepAlive: true });
  stream.pushMessage = (type, data) => {
    if (type === "update") {
      const channels = extractChannelMessages(data, [0, 1, 2]);
      out.spectator.push(...channels[0]);
      out.p1.push(...channels[1]);
      out.p2.push(...channels[2]);
    } else if (type === "sideupdate") {
      const cut = data.indexOf("\n");
      const side = data.slice(0, cut);
      if (out[side] && side !== "spectator") out[side].push(...data.slice(cut + 1).split("\n"));
    }
  };
  stream.pushError = (err) => {
    failure = failure || String((err && err.message) || err);
  };
  for (const raw of inputlog.split("\n")) {
    const line = raw.replace(/\r$/, "");
    if (!line.startsWith(">")) continue;
    const match = /^>(p[12]) (.*)$/.exec(line);
    if (match && match[2] !== "undo") out[match[1]].push(">" + match[2]);
    stream._write(line);
    if (failure) break;
  }
  const battle = stream.battle;
  if (!battle) throw new Error(failure || "the input log has no >start line");
  if (failure) throw new Error(failure);
  return {
    names: { p1: battle.sides[0].name, p2: battle.sides[1].name },
    winner: battle.winner || "",
    turns: battle.turn,
    ended: !!battle.ended,
    ...out,
  };
}

function send(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
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
  try {
    send({ id: message.id, ...rerun(String(message.inputlog || "")) });
  } catch (err) {
    send({ id: message.id, error: String((err && err.message) || err).split("\n")[0] });
  }
});
process.stdin.on("end", () => process.exit(0));
