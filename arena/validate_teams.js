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

function answer(line) {
	let request;
	try {
		request = JSON.parse(line);
	} catch (e) {
		return {ok: false, errors: [`bad request: ${e.message}`]};
	}
	try {
		if (request.op === 'format') return formatInfo(request.format);
		if (request.op === 'validate') return validate(request.format, request.text);
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
