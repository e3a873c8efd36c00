#!/usr/bin/env node
// Runs the exchanges of vectors/exchanges.json against a Probe server and prints one line per
// exchange and a summary. The steps run in this package's runner (src/conformance/runner.ts,
// built as dist/conformance.js; step semantics in vectors/README.md), with this package's own
// codec; WebSocket connections use the `ws` package, which the user provides (`npm install ws`,
// or `npx -p @probe/protocol -p ws probe-conformance <url>`).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const USAGE = `Usage: probe-conformance <url> [options]

Runs the conformance exchanges against the Probe server at <url> (ws:// or wss://).

Options:
  --assume <requirement>   the server meets this requirement (repeatable; "all" for every one);
                           exchanges with requirements not assumed are skipped
  --param <name>=<value>   a parameter of the exchanges, e.g. --param handshakeTimeoutMs=500
  --only <text>            run only exchanges whose name contains <text> (repeatable)
  --timeout-ms <ms>        longest a step waits when it names no timeout (default 2000)
  --vectors <file>         the exchanges file (default: the one shipped with this package)
  --list                   list the exchanges with their requirements, run nothing
  --help                   show this text

Exit status: 0 when every exchange run passed, 1 when one failed, 2 on a usage or setup error.`;

function fail(message) {
  console.error(`probe-conformance: ${message}`);
  process.exit(2);
}

async function loadWs() {
  try {
    return (await import('ws')).WebSocket;
  } catch {
    // Not installed beside this package: try the current directory's project.
    try {
      const require = createRequire(join(process.cwd(), 'package.json'));
      return require('ws').WebSocket;
    } catch {
      fail('the `ws` package is needed: run `npm install ws`, or use npx -p @probe/protocol -p ws');
    }
  }
}

async function loadRunner() {
  try {
    return await import('../dist/conformance.js');
  } catch (error) {
    fail(`cannot load this package's runner (is it built?): ${error.message}`);
  }
}

async function main() {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        assume: { type: 'string', multiple: true, default: [] },
        param: { type: 'string', multiple: true, default: [] },
        only: { type: 'string', multiple: true, default: [] },
        'timeout-ms': { type: 'string', default: '2000' },
        vectors: { type: 'string' },
        list: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    fail(`${error.message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const here = new URL('../vectors/', import.meta.url);
  const file = JSON.parse(readFileSync(values.vectors ?? new URL('exchanges.json', here), 'utf8'));
  const requirements = Object.keys(file.requirements ?? {});
  if (values.list) {
    for (const exchange of file.exchanges) {
      const needs = exchange.requires?.length ? `  [${exchange.requires.join(', ')}]` : '';
      console.log(`${exchange.name}${needs}`);
    }
    console.log(
      `\nrequirements:\n${requirements.map((r) => `  ${r}: ${file.requirements[r]}`).join('\n')}`,
    );
    return 0;
  }
  if (positionals.length !== 1) fail(`give exactly one server URL\n\n${USAGE}`);
  const url = positionals[0];
  if (!/^wss?:\/\//.test(url)) fail(`not a ws:// or wss:// URL: ${url}`);
  const assumed = new Set(values.assume.includes('all') ? requirements : values.assume);
  for (const requirement of assumed) {
    if (!requirements.includes(requirement)) fail(`unknown requirement ${requirement}`);
  }
  const parameters = {};
  for (const pair of values.param) {
    const [name, value] = pair.split('=', 2);
    if (!(name in (file.parameters ?? {})) || !Number.isFinite(Number(value))) {
      fail(`--param needs name=number with a name of ${Object.keys(file.parameters ?? {})}`);
    }
    parameters[name] = Number(value);
  }
  const stepTimeoutMs = Number(values['timeout-ms']);
  if (!(stepTimeoutMs > 0)) fail('--timeout-ms needs a positive number');

  const { runExchange, unmetRequirements, wsConnect, VectorError } = await loadRunner();
  const options = { url, connect: wsConnect(await loadWs()), parameters, stepTimeoutMs };
  const counts = { passed: 0, failed: 0, skipped: 0 };
  for (const exchange of file.exchanges) {
    if (values.only.length > 0 && !values.only.some((text) => exchange.name.includes(text)))
      continue;
    const unmet = unmetRequirements(exchange, assumed);
    if (unmet.length > 0) {
      counts.skipped++;
      console.log(`skip  ${exchange.name} (needs ${unmet.join(', ')})`);
      continue;
    }
    let result;
    try {
      result = await runExchange(file, exchange, options);
    } catch (error) {
      if (!(error instanceof VectorError)) throw error;
      fail(`${exchange.name}: ${error.message}`);
    }
    counts[result.status]++;
    console.log(
      result.status === 'passed'
        ? `pass  ${exchange.name} (${Math.round(result.durationMs)} ms)`
        : `FAIL  ${exchange.name}: ${result.detail}`,
    );
  }
  const skipped = counts.skipped > 0 ? `, ${counts.skipped} skipped` : '';
  console.log(`${counts.passed} passed, ${counts.failed} failed${skipped}`);
  return counts.failed > 0 ? 1 : 0;
}

process.exitCode = await main();
