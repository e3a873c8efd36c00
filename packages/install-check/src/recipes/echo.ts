import type { Session } from '@probe/server';

/** The recipes' application: every message comes back to its sender. */
export function echo(session: Session): void {
  session.on('message', (data) => session.send(data));
}

/** A started recipe: where clients connect, and how to stop it. */
export interface Started {
  url: string;
  close(): Promise<void>;
}
