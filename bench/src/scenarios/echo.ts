// Scenario 1: one client, pipelined echo with a window of messages in flight.
import { type BenchConfig, SMALL_MESSAGE } from '../config.js';
import { add, type Log, note, type Row, rotated, row } from '../lib/results.js';
import { type ServerChildOptions, startServerChild } from '../lib/server-child.js';
import { sleep, withTimeout } from '../lib/time.js';
import { startProfile, stopProfile, windowProfileDir } from '../lib/window-profile.js';
import { adapter, type BenchClient, type SystemName } from '../systems/index.js';

export type Payload = 'json' | 'binary';

/** Round trips per second for one system; the server runs in its own process. */
export async function echoOnce(
  system: SystemName,
  payload: Payload,
  config: BenchConfig,
  serverOptions: ServerChildOptions = {},
): Promise<{ rate: number; errors: number; received: number; serverCpuUs: number }> {
  const { warmupMs, measureMs, window, binaryBytes } = config.echo;
  const data: unknown =
    payload === 'json' ? { ...SMALL_MESSAGE } : new Uint8Array(binaryBytes).map((_, i) => i * 31);
  const server = await startServerChild(system, `echo-${payload}`, undefined, serverOptions);
  let client: BenchClient | undefined;
  try {
    let sent = 0;
    let received = 0;
    let errors = 0;
    let running = true;
    const send = () => {
      try {
        client!.send(data);
        sent++;
      } catch {
        errors++;
      }
    };
    client = (await adapter(system)).connect(
      server.url,
      { reconnect: false },
      {
        onMessage: () => {
          received++;
          if (running) send();
        },
      },
    );
    await withTimeout(client.opened, 10_000, `${system} echo client open`);
    for (let i = 0; i < window; i++) send();
    await sleep(warmupMs);
    const profDir = windowProfileDir();
    if (profDir) await Promise.all([server.child.call('profileStart'), startProfile()]);
    await server.child.call('cpuMark');
    const c0 = received;
    const t0 = performance.now();
    await sleep(measureMs);
    const c1 = received;
    const t1 = performance.now();
    const { cpuMs } = await server.child.call<{ cpuMs: number }>('cpuSince');
    if (profDir) {
      const stem = `${profDir}/echo-${payload}-${system}-${Date.now()}`;
      await stopProfile(`${stem}-client.cpuprofile`);
      await server.child.call('profileStop', { file: `${stem}-server.cpuprofile` }, 30_000);
    }
    running = false;
    if (c1 === c0) throw new Error(`${system}: no echo arrived during the measurement`);
    if (received > sent) throw new Error(`${system}: ${received} echoes for ${sent} messages sent`);
    return {
      rate: ((c1 - c0) * 1000) / (t1 - t0),
      errors,
      received,
      serverCpuUs: (cpuMs * 1000) / (c1 - c0),
    };
  } finally {
    client?.close();
    await server.stop();
  }
}

export async function runEcho(
  config: BenchConfig,
  systems: readonly SystemName[],
  log: Log,
): Promise<Row[]> {
  const rows: Row[] = [];
  const payloads = (process.env.BENCH_ECHO_PAYLOADS ?? 'json,binary').split(',') as Payload[];
  for (const payload of payloads) {
    const label =
      payload === 'json'
        ? 'Echo, 64-byte JSON-like object'
        : `Echo, ${config.echo.binaryBytes / 1024} KiB binary`;
    const r = row(label, `round trips/s (window ${config.echo.window})`, true);
    for (let rep = 0; rep < config.repeat; rep++) {
      for (const system of rotated(systems, rep)) {
        const { rate, errors } = await echoOnce(system, payload, config);
        add(r, system, rate);
        if (errors > 0) note(r, system, `${errors} send errors`);
        log(`  ${label} #${rep + 1} ${system}: ${Math.round(rate)} rt/s`);
      }
    }
    rows.push(r);
  }
  return rows;
}
