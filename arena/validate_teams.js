// Validate many teams in one node process with the bundled Showdown package.
//
//   node arena/validate_teams.js < requests.jsonl > answers.jsonl
//
// One JSON request per stdin line, one JSON answer per stdout line, in order:
//   {"op": "validate", "format": "gen9ou", "text": "<export or packed team>"}
//     -> {"ok": true, "errors": [], "packed": "<Showdown's packed team>"}
//     -> {"ok": false, "errors": ["Koraidon is banned.", ...], "packed": null}
//   {"op": "format", "format": "gen9randombattle"}
//     -> {"ok": true, "exists": true, "name": "[Gen 9] Random Battle", "team": "random"}
//   {"op": "formats"} -> {"ok": true, "ids": ["gen9randombattle", "gen9ou", ...]} (singles)
//   {"op": "generate", "format": "gen8ou", "count": 10, "seed": [1, 2, 3, 4]}
//     -> {"ok": true, "teams": ["<export text>", ...], "errors": []}
//     Teams of six built from the format's generation's random-battle sets (Showdown's
//     own generator, seeded), each set and each whole team legal by the format's
//     validator; fewer than `count` (maybe none) when the format allows too few of them.
// It does what `pokemon-showdown validate-team FORMAT` does for one team (Teams.import,
// then TeamValidator.get(format).validateTeam), without a process per team.
'use strict';

const path = require('path');
const readline = require('readline');

const packageDir = process.env.SHOWDOWN_PACKAGE_DIR ||
	path.join(__dirname, '..', 'node_modules', 'pokemon-showdown');
const {Dex, Teams, TeamValidator} = require(packageDir);

const validators = new Map();

function validator(format) {
	if (!validators.has(format)) validators.set(format, TeamValidator.get(format));
	return validators.get(format);
}

function formatInfo(format) {
	const f = Dex.formats.get(format);
	return {ok: true, exists: !!f.exists && f.effectType === 'Format', name: f.name, team: f.team || null};
}

function formatIds() {
	const ids = Dex.formats.all().filter(f => f.effectType === 'Format' && f.gameType === 'singles');
	return {ok: true, ids: ids.map(f => f.id)};
}

function validate(format, text) {
	const info = formatInfo(format);
	if (!info.exists) return {ok: false, errors: [`unknown format ${format}`], packed: null};
	let team;
	try {
		team = Teams.import(text || '');
	} catch (e) {
		return {ok: false, errors: [`the team could not be read: ${e.message}`], packed: null};
	}
	if (!team || !team.length) {
		return {ok: false, errors: ['the team could not be read: no Pokémon found'], packed: null};
	}
	const errors = validator(format).validateTeam(team);
	if (errors && errors.length) return {ok: false, errors, packed: null};
	return {ok: true, errors: [], packed: Teams.pack(team)};
}

function generate(format, count, seed) {
	const info = formatInfo(format);
	if (!info.exists) return {ok: false, errors: [`unknown format ${format}`], teams: []};
	const dex = Dex.forFormat(Dex.formats.get(format));
	const source = `gen${dex.gen}randombattle`;
	const check = validator(format);
	const level = Math.min(100, check.ruleTable.maxLevel || 100);
	const itemClause = check.ruleTable.has('itemclause');
	const teams = [];
	let team = [];
	let draws = 0;
	const maxDraws = Math.max(40, count * 40);
	while (teams.length < count && draws < maxDraws) {
		const drawn = Teams.generate(source, {seed: [seed[0], seed[1], seed[2], (seed[3] + draws) % 65536]});
		draws++;
		for (const set of drawn) {
			const candidate = JSON.parse(JSON.stringify({...set, level}));
			candidate.moves = candidate.moves.map(move => dex.moves.get(move).name || move);
			const base = dex.species.get(candidate.species).baseSpecies;
			if (team.some(s => dex.species.get(s.species).baseSpecies === base)) continue;
			if (itemClause && candidate.item && team.some(s => s.item === candidate.item)) continue;
			if (check.validateSet(JSON.parse(JSON.stringify(candidate)), {})) continue;
			team.push(candidate);
			if (team.length < 6) continue;
			const whole = Teams.import(Teams.export(team));
			if (!check.validateTeam(whole)) teams.push(Teams.export(team));
			team = [];
			if (teams.length >= count) break;
		}
	}
	return {ok: teams.length > 0, errors: [], teams};
}

function answer(line) {
	let request;
	try {
		request = JSON.parse(line);
	} catch (e) {
		return {ok: false, errors: [`bad request: ${e.message}`]};
	}
	try {
		if (request.op === 'format') return formatInfo(request.format);
		if (request.op === 'formats') return formatIds();
		if (request.op === 'validate') return validate(request.format, request.text);
		if (request.op === 'generate') {
			return generate(request.format, request.count || 10, request.seed || [1, 2, 3, 4]);
		}
		return {ok: false, errors: [`unknown op ${request.op}`]};
	} catch (e) {
		return {ok: false, errors: [`validator crashed: ${e.message}`], packed: null};
	}
}

const lines = readline.createInterface({input: process.stdin, crlfDelay: Infinity});
lines.on('line', line => {
	if (!line.trim()) return;
	process.stdout.write(JSON.stringify(answer(line)) + '\n');
});
