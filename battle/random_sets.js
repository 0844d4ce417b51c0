// Aggregate the sets Showdown's own random-battle team generator deals, per species.
//
//   node battle/random_sets.js FORMAT N SEED OUTFILE
//
// Generates N teams of FORMAT (e.g. gen9randombattle) with the bundled package, team i
// seeded from (SEED, i) so a run is reproducible, and writes OUTFILE (JSON, atomically:
// a temp file in the same folder, then a rename):
//   {"format": "gen9randombattle", "gen": 9, "teams": N, "seed": SEED,
//    "showdown_version": "0.11.11",
//    "species": {"dedenne": [{"level": 88, "ability": "Cheek Pouch", "item": "Sitrus Berry",
//                             "moves": ["dazzlinggleam", ...] (sorted ids), "tera_type": "Flying",
//                             "evs": {...}, "ivs": {...}, "nature": "", "count": 3}, ...]}}
// Species are keyed by Showdown's id of the set's species ("urshifurapidstrike"); the
// distinct full sets of each species are listed most common first.
'use strict';

const fs = require('fs');
const path = require('path');

const packageDir = process.env.SHOWDOWN_PACKAGE_DIR ||
	path.join(__dirname, '..', 'node_modules', 'pokemon-showdown');
const {Dex, Teams, toID} = require(packageDir);

function usage(message) {
	process.stderr.write(`${message}\nusage: node random_sets.js FORMAT N SEED OUTFILE\n`);
	process.exit(2);
}

function hex16(n) {
	return BigInt.asUintN(64, BigInt(n)).toString(16).padStart(16, '0');
}

function main() {
	const [formatArg, nArg, seedArg, outFile] = process.argv.slice(2);
	if (!outFile) usage('missing arguments');
	const n = Number(nArg);
	const seed = Number(seedArg);
	if (!Number.isInteger(n) || n < 1) usage(`N must be a positive integer, not ${nArg}`);
	if (!Number.isInteger(seed)) usage(`SEED must be an integer, not ${seedArg}`);
	const format = Dex.formats.get(formatArg);
	if (!format.exists || format.effectType !== 'Format') usage(`unknown format ${formatArg}`);

	const generator = Teams.getGenerator(format, `sodium,${hex16(seed)}${hex16(0)}`);
	const bySpecies = new Map();
	for (let i = 0; i < n; i++) {
		generator.setSeed(`sodium,${hex16(seed)}${hex16(i)}`);
		for (const set of generator.getTeam()) {
			const species = toID(set.species);
			const entry = {
				level: set.level || 100,
				ability: set.ability || '',
				item: set.item || '',
				moves: (set.moves || []).map(toID).sort(),
				tera_type: set.teraType || '',
				evs: set.evs || {},
				ivs: set.ivs || {},
				nature: set.nature || '',
			};
			const key = JSON.stringify(entry);
			if (!bySpecies.has(species)) bySpecies.set(species, new Map());
			const sets = bySpecies.get(species);
			if (sets.has(key)) {
				sets.get(key).count++;
			} else {
				sets.set(key, {...entry, count: 1});
			}
		}
	}

	const species = {};
	for (const id of [...bySpecies.keys()].sort()) {
		species[id] = [...bySpecies.get(id).values()].sort((a, b) => b.count - a.count);
	}
	let version = '';
	try {
		version = JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8')).version;
	} catch (e) {}
	const result = {
		format: toID(format.id), gen: Dex.forFormat(format).gen, teams: n, seed, showdown_version: version, species,
	};
	const tmp = `${outFile}.${process.pid}.tmp`;
	fs.writeFileSync(tmp, JSON.stringify(result));
	fs.renameSync(tmp, outFile);
}

main();
