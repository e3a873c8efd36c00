#!/usr/bin/env node
// Runs the exchanges of vectors/exchanges.json against a Probe server and prints one line per
// exchange and a summary. The step semantics are those of vectors/README.md, the same as the
// TypeScript runner in src/conformance/runner.ts. Frames are encoded and decoded by this
// package's own codec; WebSocket connections use the `ws` package, which the user provides
// (`npm install ws`, or `npx -p @probe/protocol -p ws probe-conformance <url>`).
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

class StepFailure extends Error {}
class VectorError extends Error {}

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

async function loadCodec() {
  try {
    return await import('@probe/protocol');
  } catch (error) {
    fail(`cannot load @probe/protocol (is it built?): ${error.message}`);
  }
}

// ---- values: "$name", "${name}", {"$bin": hex}, matchers {"$ne": v} and {"$type": t} ----

function hexToBytes(hex) {
  const digits = hex.replace(/\s+/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(digits)) throw new VectorError(`not hex: ${hex}`);
  return Uint8Array.from(digits.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
}

function variable(name, vars) {
  if (!vars.has(name)) throw new VectorError(`variable '${name}' is not bound`);
  return vars.get(name);
}

function resolve(value, vars) {
  if (typeof value === 'string') {
    if (/^\$[A-Za-z_]\w*$/.test(value)) return variable(value.slice(1), vars);
    return value.replace(/\$\{([A-Za-z_]\w*)\}/g, (_, name) => String(variable(name, vars)));
  }
  if (Array.isArray(value)) return value.map((item) => resolve(item, vars));
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === '$bin') return hexToBytes(String(value.$bin));
  return Object.fromEntries(keys.map((key) => [key, resolve(value[key], vars)]));
}

function number(expression, vars) {
  const terms = Array.isArray(expression) ? expression : [expression];
  return terms.reduce((sum, term) => {
    const value = typeof term === 'string' ? resolve(term, vars) : term;
    if (typeof value !== 'number') throw new VectorError(`${JSON.stringify(term)} is not a number`);
    return sum + value;
  }, 0);
}

function typeOf(value) {
  if (value === null) return 'nil';
  if (value instanceof Uint8Array) return 'bin';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'float';
  return typeof value === 'object' ? 'map' : typeof value;
}

function equal(a, b) {
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return (
      a instanceof Uint8Array &&
      b instanceof Uint8Array &&
      a.length === b.length &&
      a.every((byte, i) => byte === b[i])
    );
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((item, i) => equal(item, b[i]))
    );
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length &&
      keys.every((key) => Object.hasOwn(b, key) && equal(a[key], b[key]))
    );
  }
  return a === b;
}

function show(value) {
  const text = JSON.stringify(value, (_, item) =>
    item instanceof Uint8Array || item?.type === 'Buffer'
      ? { $bin: Buffer.from(item.data ?? item).toString('hex') }
      : item,
  );
  return text === undefined ? String(value) : text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function mismatch(actual, pattern, vars) {
  if (pattern !== null && typeof pattern === 'object' && !Array.isArray(pattern)) {
    const keys = Object.keys(pattern);
    if (keys.length === 1 && keys[0] === '$ne') {
      return equal(actual, resolve(pattern.$ne, vars))
        ? `${show(actual)}, expected anything else`
        : null;
    }
    if (keys.length === 1 && keys[0] === '$type') {
      const type = typeOf(actual);
      return type === pattern.$type
        ? null
        : `${show(actual)} (${type}), expected a ${pattern.$type}`;
    }
  }
  const expected = resolve(pattern, vars);
  return equal(actual, expected) ? null : `${show(actual)}, expected ${show(expected)}`;
}

// ---- connections over `ws` ----

function connect(WebSocket, url, headers, timeoutMs) {
  return new Promise((resolvePromise, reject) => {
    const ws = new WebSocket(url, {
      headers,
      handshakeTimeout: timeoutMs,
      perMessageDeflate: false,
    });
    const queue = [];
    let closed = null;
    let wake = null;
    const push = (event) => {
      queue.push(event);
      wake?.();
    };
    ws.on('message', (data, isBinary) => {
      push({ kind: 'message', data: isBinary ? new Uint8Array(data) : data.toString() });
    });
    ws.on('close', (code, reason) => {
      closed = { kind: 'close', code, reason: reason.toString() };
      push(closed);
    });
    const socket = {
      send: (data) => ws.send(data),
      close: (code, reason) => ws.close(code, reason),
      terminate: () => ws.terminate(),
      async next(ms) {
        if (queue.length > 0) return queue.shift();
        if (closed) return closed;
        let timer;
        await new Promise((done) => {
          wake = done;
          timer = setTimeout(done, Math.max(0, ms));
        });
        clearTimeout(timer);
        wake = null;
        return queue.shift() ?? closed;
      },
    };
    let responseHeaders = {};
    ws.on('upgrade', (response) => {
      responseHeaders = response.headers;
    });
    ws.on('open', () => resolvePromise({ socket, headers: responseHeaders }));
    ws.on('unexpected-response', (request, response) => {
      request.destroy();
      resolvePromise({ status: response.statusCode });
    });
    ws.on('error', reject);
  });
}

// ---- one exchange ----

async function runExchange(file, exchange, context) {
  const { codec, WebSocket, url: baseUrl, parameters, stepTimeoutMs } = context;
  const vars = new Map();
  for (const [name, { default: value }] of Object.entries(file.parameters ?? {})) {
    vars.set(name, parameters[name] ?? value);
  }
  vars.set('host', new URL(baseUrl).host);
  const names = Object.fromEntries(
    Object.entries(context.frameTypes).map(([name, { type }]) => [type, name]),
  );
  const sockets = new Map();
  let current = null;
  let stepNumber = 0;
  let stepName = '';

  const decode = (data) => {
    try {
      return codec.decodeFromServer(data);
    } catch (error) {
      if (!(error instanceof codec.ProtocolError)) throw error;
      throw new StepFailure(`the server sent an invalid frame (${error.code}: ${error.message})`);
    }
  };
  const showFrame = ({ type, ...fields }) => `${names[type] ?? type} ${show(fields)}`;
  const encode = (description) => {
    const values = resolve(description, vars);
    const layout = context.frameTypes[values.type];
    if (!layout) throw new VectorError(`step ${stepNumber}: unknown frame type ${values.type}`);
    const given = Object.keys(values).filter((key) => key !== 'type');
    const optional = layout.optional ?? [];
    // Optional fields are trailing: one that is given needs every optional field before it.
    const present = optional.filter((field) => given.includes(field)).length;
    const wrong =
      given.some((key) => !layout.fields.includes(key)) ||
      layout.fields.some((field) => !given.includes(field) && !optional.includes(field)) ||
      optional.slice(0, present).some((field) => !given.includes(field));
    if (wrong) {
      const needs = optional.length > 0 ? ` (optional: ${optional})` : '';
      throw new VectorError(`step ${stepNumber}: ${values.type} needs ${layout.fields}${needs}`);
    }
    const frame = { type: layout.type };
    for (const field of layout.fields) frame[field] = values[field] ?? null;
    return codec.encode(frame);
  };
  const socketOf = (name) => {
    const socket = sockets.get(name ?? current);
    if (!socket) throw new VectorError(`step ${stepNumber}: no connection ${name ?? current}`);
    return socket;
  };

  async function openConnection(step) {
    const url = new URL(baseUrl);
    if (step.path !== undefined) {
      const target = new URL(String(resolve(step.path, vars)), url);
      url.pathname = target.pathname;
      url.search = target.search;
    }
    let connected;
    try {
      connected = await connect(
        WebSocket,
        url.href,
        resolve(step.headers ?? {}, vars),
        stepTimeoutMs,
      );
    } catch (error) {
      throw new StepFailure(`cannot connect to ${url.href}: ${error.message}`);
    }
    if ('status' in connected) {
      if (connected.status === step.refused) return;
      const expected = step.refused === undefined ? 'an upgrade' : `HTTP ${step.refused}`;
      throw new StepFailure(`the upgrade got HTTP ${connected.status}, expected ${expected}`);
    }
    const name = step.as ?? `#${sockets.size + 1}`;
    sockets.set(name, connected.socket);
    current = name;
    if (step.refused !== undefined) {
      throw new StepFailure(`the upgrade succeeded, expected HTTP ${step.refused}`);
    }
    for (const [header, expected] of Object.entries(step.responseHeaders ?? {})) {
      const actual = connected.headers[header.toLowerCase()] ?? null;
      if (actual !== expected) {
        throw new StepFailure(
          `response header ${header} is ${show(actual)}, expected ${show(expected)}`,
        );
      }
    }
  }

  async function expectFrame(socket, step, timeoutMs) {
    const { expect } = step;
    const skip = step.skip ?? (expect.type === 'probe' ? [] : ['probe']);
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const event = await socket.next(deadline - performance.now());
      if (event === null)
        throw new StepFailure(`no matching ${expect.type} within ${timeoutMs} ms`);
      if (event.kind === 'close') {
        throw new StepFailure(
          `closed with ${event.code} ${show(event.reason)}, expected ${expect.type}`,
        );
      }
      const frame = decode(event.data);
      const name = names[frame.type];
      if (name !== expect.type) {
        if (skip.includes(name)) continue;
        throw new StepFailure(`got ${showFrame(frame)}, expected ${expect.type}`);
      }
      // An optional field the frame leaves out (a plain message's `event`) reads as null.
      const optional = context.frameTypes[name].optional ?? [];
      const value = (field) => (optional.includes(field) ? (frame[field] ?? null) : frame[field]);
      const problem = Object.entries(expect)
        .filter(([field]) => field !== 'type')
        .map(([field, pattern]) => {
          const differs = mismatch(value(field), pattern, vars);
          return differs === null ? null : `${expect.type} '${field}' is ${differs}`;
        })
        .find((differs) => differs !== null);
      if (problem === undefined) {
        for (const [variable, field] of Object.entries(step.bind ?? {}))
          vars.set(variable, value(field));
        return;
      }
      if (!step.untilMatch) throw new StepFailure(problem);
    }
  }

  async function expectClose(socket, step, timeoutMs) {
    const { code, reason } = step.expectClose;
    const skip = step.skip ?? ['probe'];
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const event = await socket.next(deadline - performance.now());
      if (event === null) throw new StepFailure(`still open after ${timeoutMs} ms`);
      if (event.kind === 'close') {
        if (event.code !== code) {
          throw new StepFailure(
            `closed with ${event.code} ${show(event.reason)}, expected ${code}`,
          );
        }
        const differs = reason === undefined ? null : mismatch(event.reason, reason, vars);
        if (differs !== null) throw new StepFailure(`close reason is ${differs}`);
        return;
      }
      const frame = decode(event.data);
      if (names[frame.type] === 'goodbye') {
        if (frame.code === code) continue;
        throw new StepFailure(`got ${showFrame(frame)} before the close, expected code ${code}`);
      }
      if (!skip.includes(names[frame.type])) {
        throw new StepFailure(`got ${showFrame(frame)}, expected the close`);
      }
    }
  }

  async function closeConnection(socket, close) {
    socket.close(close.code ?? 1000, close.reason ?? '');
    const deadline = performance.now() + stepTimeoutMs;
    for (;;) {
      const event = await socket.next(deadline - performance.now());
      if (event === null) throw new StepFailure(`still open after ${stepTimeoutMs} ms`);
      if (event.kind === 'close') return;
    }
  }

  async function runStep(step) {
    if ('connect' in step) return openConnection(step.connect);
    if ('wait' in step) return new Promise((done) => setTimeout(done, number(step.wait, vars)));
    const socket = socketOf(step.on);
    if ('send' in step) return socket.send(encode(step.send));
    if ('sendHex' in step) return socket.send(hexToBytes(step.sendHex));
    if ('sendText' in step) return socket.send(step.sendText);
    if ('sendZeros' in step) return socket.send(new Uint8Array(number(step.sendZeros, vars)));
    if ('close' in step) return closeConnection(socket, step.close);
    const timeoutMs = step.timeoutMs === undefined ? stepTimeoutMs : number(step.timeoutMs, vars);
    if ('expect' in step) return expectFrame(socket, step, timeoutMs);
    if ('expectClose' in step) return expectClose(socket, step, timeoutMs);
    throw new VectorError(`step ${stepNumber}: unknown step ${JSON.stringify(step)}`);
  }

  async function runSteps(steps) {
    for (const step of steps) {
      if ('repeat' in step) {
        for (let i = 0; i < step.repeat; i++) await runSteps(step.steps);
        continue;
      }
      stepNumber++;
      stepName = describe(step);
      await runStep(step);
    }
  }

  try {
    await runSteps(exchange.steps);
    return { status: 'passed' };
  } catch (error) {
    if (!(error instanceof StepFailure)) throw error;
    return { status: 'failed', detail: `step ${stepNumber} (${stepName}): ${error.message}` };
  } finally {
    for (const socket of sockets.values()) socket.terminate();
  }
}

function describe(step) {
  if ('connect' in step) return step.connect.as ? `connect as ${step.connect.as}` : 'connect';
  if ('send' in step) return `send ${step.send.type}`;
  if ('expect' in step) return `expect ${step.expect.type}`;
  if ('expectClose' in step) return `expect close ${step.expectClose.code}`;
  return Object.keys(step).find((key) => key !== 'on') ?? 'step';
}

// ---- command line ----

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
  const { frameTypes } = JSON.parse(readFileSync(new URL('frames.json', here), 'utf8'));
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

  const context = {
    codec: await loadCodec(),
    WebSocket: await loadWs(),
    url,
    parameters,
    stepTimeoutMs,
    frameTypes,
  };
  const counts = { passed: 0, failed: 0, skipped: 0 };
  for (const exchange of file.exchanges) {
    if (values.only.length > 0 && !values.only.some((text) => exchange.name.includes(text)))
      continue;
    const unmet = (exchange.requires ?? []).filter((requirement) => !assumed.has(requirement));
    if (unmet.length > 0) {
      counts.skipped++;
      console.log(`skip  ${exchange.name} (needs ${unmet.join(', ')})`);
      continue;
    }
    const started = performance.now();
    let result;
    try {
      result = await runExchange(file, exchange, context);
    } catch (error) {
      if (!(error instanceof VectorError)) throw error;
      fail(`${exchange.name}: ${error.message}`);
    }
    const ms = Math.round(performance.now() - started);
    counts[result.status]++;
    console.log(
      result.status === 'passed'
        ? `pass  ${exchange.name} (${ms} ms)`
        : `FAIL  ${exchange.name}: ${result.detail}`,
    );
  }
  const skipped = counts.skipped > 0 ? `, ${counts.skipped} skipped` : '';
  console.log(`${counts.passed} passed, ${counts.failed} failed${skipped}`);
  return counts.failed > 0 ? 1 : 0;
}

process.exitCode = await main();
