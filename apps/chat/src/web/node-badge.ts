import type { NodeInfo, Restarting } from '../shared/schema.js';
import { logLine } from './view.js';

/** What the badge needs from the page. */
export interface NodeBadgeHost {
  readonly badge: HTMLElement;
  readonly restartButton: HTMLButtonElement;
  readonly log: HTMLElement;
  /** Every node announced, and every move between nodes (the page's debug record). */
  readonly nodes: { name: string; id: string }[];
  readonly moves: { from: string; to: string }[];
  /** Sends the `restart-node` request. */
  restart(): Promise<Restarting>;
  /** Tells the user: the session moved, or the restart failed. */
  moved(text: string): void;
  failed(text: string): void;
}

/**
 * Cluster demo: the node serving this tab ("node A"), announced by the node when a session
 * opens and on every resume; a move to another node is told once. Also the "Restart this
 * node" button, for nodes that allow it.
 */
export class NodeBadge {
  /** The node that served the current session last; null for a new session. */
  private current: NodeInfo | null = null;
  private restartTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly host: NodeBadgeHost) {
    host.restartButton.addEventListener('click', () => this.restart());
  }

  /** A new session starts where it is, it did not move. */
  newSession(): void {
    this.current = null;
  }

  announced(node: NodeInfo): void {
    const { host } = this;
    const previous = this.current;
    this.current = node;
    host.nodes.push({ name: node.name, id: node.id });
    this.show();
    if (previous === null || previous.id === node.id) return;
    const to =
      previous.name === node.name ? `the restarted node ${node.name}` : `node ${node.name}`;
    host.moves.push({ from: previous.name, to: node.name });
    logLine(host.log, `moved from node ${previous.name} to node ${node.name}`);
    host.moved(`Your session moved from node ${previous.name} to ${to}; nothing was lost.`);
  }

  private restart(): void {
    const { host } = this;
    const node = this.current;
    if (node === null) return;
    logLine(host.log, `asked node ${node.name} to restart`);
    host.restartButton.disabled = true;
    host.restartButton.textContent = `Restarting node ${node.name}…`;
    // Enabled again by the next node announcement, or after a while if none comes.
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => this.show(), 15_000);
    host.restart().then(
      ({ node: name }) => logLine(host.log, `node ${name} is restarting`),
      (error: unknown) => {
        host.failed(
          `The node was not restarted: ${error instanceof Error ? error.message : error}`,
        );
        this.show();
      },
    );
  }

  private show(): void {
    const node = this.current;
    const { badge, restartButton } = this.host;
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    if (node === null) return;
    badge.hidden = false;
    badge.textContent = `node ${node.name}`;
    badge.dataset.node = node.name;
    badge.dataset.nodeId = node.id;
    badge.title = `Served by node ${node.name} (node id ${node.id})`;
    restartButton.hidden = !node.restartable;
    restartButton.disabled = false;
    restartButton.textContent = 'Restart this node';
  }
}
