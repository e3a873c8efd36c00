import type { SystemAdapter, SystemName } from './types.js';

/** Loads only the system asked for, so a helper process starts quickly. */
export async function adapter(name: SystemName): Promise<SystemAdapter> {
  switch (name) {
    case 'ws':
      return (await import('./ws.js')).wsSystem;
    case 'socketio':
      return (await import('./socketio.js')).socketIoSystem(false);
    case 'socketio-recovery':
      return (await import('./socketio.js')).socketIoSystem(true);
    case 'socketio-redis':
      return (await import('./socketio.js')).socketIoSystem(true, 'streams');
    case 'socketio-redis-pubsub':
      return (await import('./socketio.js')).socketIoSystem(false, 'pubsub');
    case 'probe':
      return (await import('./probe.js')).probeSystem(false);
    case 'probe-redis':
      return (await import('./probe.js')).probeSystem(true);
    case 'probe-redis-volatile':
      return (await import('./probe.js')).probeSystem(true, true);
  }
}

export * from './types.js';
