/** Child side of {@link Child}: dispatches IPC commands to handlers. */
export type Handlers = Record<string, (args: never) => unknown>;

/** Longest any helper process may live, whatever happens to its parent. */
const MAX_LIFETIME_MS = 30 * 60_000;

export function serve(handlers: Handlers, onExit: () => Promise<void> | void): void {
  if (!process.send) throw new Error('this module runs as a forked child');
  const send = process.send.bind(process);
  let exiting = false;
  const exit = async (code: number) => {
    if (exiting) return;
    exiting = true;
    const force = setTimeout(() => process.exit(code), 5_000);
    try {
      await onExit();
    } catch {
      // exiting anyway
    }
    clearTimeout(force);
    process.exit(code);
  };
  // The parent went away: never linger.
  process.on('disconnect', () => void exit(0));
  setTimeout(() => void exit(3), MAX_LIFETIME_MS).unref();
  process.on('message', async (message: { id: number; cmd: string; args: unknown }) => {
    const { id, cmd, args } = message;
    if (cmd === 'exit') {
      await exit(0);
      return;
    }
    const handler = handlers[cmd];
    try {
      if (!handler) throw new Error(`unknown command ${cmd}`);
      const result = await (handler as (a: unknown) => unknown)(args);
      send({ id, ok: true, result });
    } catch (error) {
      send({
        id,
        ok: false,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
    }
  });
}

/** Sends an unsolicited event to the parent. */
export function emitEvent(event: string, fields: Record<string, unknown> = {}): void {
  process.send?.({ event, ...fields });
}
