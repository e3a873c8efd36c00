/**
 * Runs the exchanges of vectors/exchanges.json against a live server: each step sends bytes or
 * waits for a frame or a close, and the first step that does not go as written fails the
 * exchange. Every wait is bounded, and every connection an exchange opened is dropped at its
 * end, however it ended. bin/probe-conformance.mjs is the same runner for the command line.
 */
import { decodeFromServer, encode } from '../codec.js';
import { ProtocolError } from '../errors.js';
import { type Frame, FrameType } from '../frames.js';
import type {
  ConnectStep,
  Exchange,
  ExchangeFile,
  ExpectCloseStep,
  ExpectStep,
  Step,
} from './format.js';
import { buildFrame, FRAME_OPTIONAL, frameName, hexToBytes, type JsonFrame } from './json-frame.js';
import type { Connect, ExchangeSocket } from './socket.js';
import { mismatch, number, resolve, show, type Variables, VectorError } from './values.js';

export interface RunOptions {
  /** The server under test, as a client would be given it (`ws://127.0.0.1:8080/`). */
  readonly url: string;
  readonly connect: Connect;
  /** Values for the file's `parameters`; the others keep their defaults. */
  readonly parameters?: Readonly<Record<string, number>>;
  /**
   * Longest a step waits when it names no timeout, in ms; also bounds each connect and close.
   * @default 2000
   */
  readonly stepTimeoutMs?: number;
}

export interface ExchangeResult {
  readonly name: string;
  readonly status: 'passed' | 'failed';
  /** Why it failed: the step and what happened instead. */
  readonly detail?: string;
  readonly durationMs: number;
}

/** Thrown by a step the server did not satisfy. */
class StepFailure extends Error {}

/** The requirements of `exchange` that `assumed` does not meet. */
export function unmetRequirements(exchange: Exchange, assumed: ReadonlySet<string>): string[] {
  return (exchange.requires ?? []).filter((requirement) => !assumed.has(requirement));
}

/**
 * Runs one exchange. Resolves with its result; rejects only for a mistake in the vector file
 * ({@link VectorError}), never because of what the server did.
 */
export async function runExchange(
  file: ExchangeFile,
  exchange: Exchange,
  options: RunOptions,
): Promise<ExchangeResult> {
  const started = performance.now();
  const run = new Run(file, options);
  const result = (status: ExchangeResult['status'], detail?: string): ExchangeResult => ({
    name: exchange.name,
    status,
    ...(detail === undefined ? {} : { detail }),
    durationMs: performance.now() - started,
  });
  try {
    await run.steps(exchange.steps);
    return result('passed');
  } catch (error) {
    if (!(error instanceof StepFailure)) throw error;
    return result('failed', `step ${run.stepNumber} (${run.stepName}): ${error.message}`);
  } finally {
    run.dropAll();
  }
}

/** One run of one exchange: its variables and connections. */
class Run {
  stepNumber = 0;
  stepName = '';
  readonly #vars: Variables = new Map();
  readonly #sockets = new Map<string, ExchangeSocket>();
  #current: string | null = null;
  readonly #options: RunOptions;
  readonly #timeoutMs: number;

  constructor(file: ExchangeFile, options: RunOptions) {
    this.#options = options;
    this.#timeoutMs = options.stepTimeoutMs ?? 2000;
    for (const [name, { default: value }] of Object.entries(file.parameters ?? {})) {
      this.#vars.set(name, options.parameters?.[name] ?? value);
    }
    this.#vars.set('host', new URL(options.url).host);
  }

  async steps(steps: readonly Step[]): Promise<void> {
    for (const step of steps) {
      if ('repeat' in step) {
        for (let i = 0; i < step.repeat; i++) await this.steps(step.steps);
        continue;
      }
      this.stepNumber++;
      this.stepName = describe(step);
      await this.#step(step);
    }
  }

  dropAll(): void {
    for (const socket of this.#sockets.values()) socket.terminate();
    this.#sockets.clear();
  }

  async #step(step: Exclude<Step, { repeat: number }>): Promise<void> {
    const vars = this.#vars;
    if ('connect' in step) return this.#connect(step.connect);
    if ('wait' in step) return sleep(number(step.wait, vars));
    const socket = this.#socket(step.on);
    if ('send' in step) return socket.send(encode(this.#frame(step.send)));
    if ('sendHex' in step) return socket.send(hexToBytes(step.sendHex));
    if ('sendText' in step) return socket.send(step.sendText);
    if ('sendZeros' in step) return socket.send(new Uint8Array(number(step.sendZeros, vars)));
    if ('close' in step) return this.#close(socket, step.close);
    const timeoutMs = step.timeoutMs === undefined ? this.#timeoutMs : number(step.timeoutMs, vars);
    if ('expect' in step) return this.#expect(socket, step, timeoutMs);
    if ('expectClose' in step) return this.#expectClose(socket, step, timeoutMs);
    throw new VectorError(`step ${this.stepNumber}: unknown step ${JSON.stringify(step)}`);
  }

  #frame(description: JsonFrame): Frame {
    try {
      return buildFrame(resolve(description, this.#vars) as Record<string, unknown>);
    } catch (error) {
      throw new VectorError(`step ${this.stepNumber}: ${(error as Error).message}`);
    }
  }

  async #connect(connect: ConnectStep['connect']): Promise<void> {
    const url = new URL(this.#options.url);
    if (connect.path !== undefined) {
      const target = new URL(String(resolve(connect.path, this.#vars)), url);
      url.pathname = target.pathname;
      url.search = target.search;
    }
    const headers = resolve(connect.headers ?? {}, this.#vars) as Record<string, string>;
    let connected: Awaited<ReturnType<Connect>>;
    try {
      connected = await this.#options.connect({
        url: url.href,
        headers,
        timeoutMs: this.#timeoutMs,
      });
    } catch (error) {
      throw new StepFailure(`cannot connect to ${url.href}: ${(error as Error).message}`);
    }
    if ('status' in connected) {
      if (connected.status === connect.refused) return;
      const expected = connect.refused === undefined ? 'an upgrade' : `HTTP ${connect.refused}`;
      throw new StepFailure(`the upgrade got HTTP ${connected.status}, expected ${expected}`);
    }
    const name = connect.as ?? `#${this.#sockets.size + 1}`;
    this.#sockets.set(name, connected.socket);
    this.#current = name;
    if (connect.refused !== undefined) {
      throw new StepFailure(`the upgrade succeeded, expected HTTP ${connect.refused}`);
    }
    for (const [header, expected] of Object.entries(connect.responseHeaders ?? {})) {
      const actual = connected.headers[header.toLowerCase()] ?? null;
      if (actual !== expected) {
        throw new StepFailure(
          `response header ${header} is ${show(actual)}, expected ${show(expected)}`,
        );
      }
    }
  }

  #socket(name: string | undefined): ExchangeSocket {
    const key = name ?? this.#current;
    const socket = key === null ? undefined : this.#sockets.get(key);
    if (!socket) throw new VectorError(`step ${this.stepNumber}: no connection ${key ?? 'open'}`);
    return socket;
  }

  async #close(socket: ExchangeSocket, close: { code?: number; reason?: string }): Promise<void> {
    socket.close(close.code ?? 1000, close.reason ?? '');
    const deadline = performance.now() + this.#timeoutMs;
    for (;;) {
      const event = await socket.next(deadline - performance.now());
      if (event === null) throw new StepFailure(`still open after ${this.#timeoutMs} ms`);
      if (event.kind === 'close') return;
    }
  }

  async #expect(socket: ExchangeSocket, step: ExpectStep, timeoutMs: number): Promise<void> {
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
      const frame = decodeStrictly(event.data);
      const name = frameName(frame.type);
      if (name !== expect.type) {
        if (name !== undefined && skip.includes(name)) continue;
        throw new StepFailure(`got ${showFrame(frame)}, expected ${expect.type}`);
      }
      const fields = frame as unknown as Record<string, unknown>;
      // An optional field the frame leaves out (a plain message's `event`) reads as null.
      const optional = FRAME_OPTIONAL[name];
      const value = (field: string) =>
        optional.includes(field) ? (fields[field] ?? null) : fields[field];
      const problem = Object.entries(expect)
        .filter(([field]) => field !== 'type')
        .map(([field, pattern]) => {
          const differs = mismatch(value(field), pattern, this.#vars);
          return differs === null ? null : `${expect.type} '${field}' is ${differs}`;
        })
        .find((differs) => differs !== null);
      if (problem === undefined) {
        for (const [variable, field] of Object.entries(step.bind ?? {})) {
          this.#vars.set(variable, value(field));
        }
        return;
      }
      if (!step.untilMatch) throw new StepFailure(problem);
    }
  }

  async #expectClose(
    socket: ExchangeSocket,
    step: ExpectCloseStep,
    timeoutMs: number,
  ): Promise<void> {
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
        const differs = reason === undefined ? null : mismatch(event.reason, reason, this.#vars);
        if (differs !== null) throw new StepFailure(`close reason is ${differs}`);
        return;
      }
      const frame = decodeStrictly(event.data);
      if (frame.type === FrameType.GOODBYE) {
        if (frame.code === code) continue;
        throw new StepFailure(`got ${showFrame(frame)} before the close, expected code ${code}`);
      }
      const name = frameName(frame.type);
      if (name === undefined || !skip.includes(name)) {
        throw new StepFailure(`got ${showFrame(frame)}, expected the close`);
      }
    }
  }
}

function decodeStrictly(data: Uint8Array | string): Frame {
  try {
    return decodeFromServer(data);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    throw new StepFailure(`the server sent an invalid frame (${error.code}: ${error.message})`);
  }
}

function showFrame(frame: Frame): string {
  const { type, ...fields } = frame as unknown as Record<string, unknown>;
  return `${frameName(type as number) ?? String(type)} ${show(fields)}`;
}

/** A step in a few words, for failure messages. */
function describe(step: Step): string {
  if ('connect' in step) return step.connect.as ? `connect as ${step.connect.as}` : 'connect';
  if ('send' in step) return `send ${step.send.type}`;
  if ('expect' in step) return `expect ${step.expect.type}`;
  if ('expectClose' in step) return `expect close ${step.expectClose.code}`;
  return Object.keys(step).find((key) => key !== 'on') ?? 'step';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
