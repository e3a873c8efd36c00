import { type ClientState, ProbeClient, ProbeError } from '@probe/client';
import {
  type ChatAuth,
  type ChatMessage,
  type ClientMessage,
  type Member,
  type NodeMessage,
  ROOMS,
  type RoomName,
  type RoomSummary,
  type ServerMessage,
} from '../shared/messages.js';
import { CutLink } from './cut-link.js';
import { randomId } from './random-id.js';
import { type PendingMessage, Timeline } from './timeline.js';
import { byId, logLine, messageEl, pendingEl, renderMembers, renderRooms } from './view.js';

/** What the page exposes on `window.probeChat`, for people poking around and for the e2e test. */
export interface ChatDebug {
  readonly client: ProbeClient<ServerMessage, ClientMessage>;
  readonly link: CutLink;
  /** Every badge state, in order, starting with the first. */
  readonly badgeLog: ClientState[];
  /** Every resume notice shown, in order. */
  readonly resumes: {
    /** From the client's `resume` event. */
    replayedToServer: number;
    replayedFromServer: number;
    /** From the server's session `resume` event, forwarded in a `resumed` message. */
    replayedToClient: number | null;
  }[];
  /** Cluster demo: every node that served this tab, as announced (on open and each resume). */
  readonly nodes: { name: string; id: string }[];
  /** Cluster demo: every time the session moved to another node, by node name. */
  readonly moves: { from: string; to: string }[];
}

declare global {
  interface Window {
    probeChat?: ChatDebug;
  }
}

/**
 * Demo reconnect settings: a connect attempt stuck in a cut gives up after 3 s, and retries
 * stay within 2 s so the session comes back soon after the cut ends.
 */
const RECONNECT = { initialDelayMs: 250, maxDelayMs: 2000, connectTimeoutMs: 3000 };

export class ChatApp {
  readonly link = new CutLink(WebSocket);
  readonly client: ProbeClient<ServerMessage, ClientMessage>;
  private readonly timelines = new Map<RoomName, Timeline>();
  private readonly members = new Map<string, Member>();
  private rooms: RoomSummary[] = ROOMS.map((name) => ({ name, members: 0 }));
  private selfId: string | null = null;
  private hadSession = false;
  private offlineSince: number | null = null;
  private readonly seqEls = new Map<number, HTMLElement>();
  private readonly pendingEls = new Map<string, HTMLElement>();
  private readonly debug: ChatDebug;
  private noticeTimer: ReturnType<typeof setTimeout> | null = null;
  /** Cluster demo: the node that served the current session last; null for a new session. */
  private sessionNode: NodeMessage | null = null;
  private restartTimer: ReturnType<typeof setTimeout> | null = null;

  private readonly ui = {
    badge: byId('badge'),
    rtt: byId('rtt'),
    queue: byId('queue'),
    node: byId('node'),
    restartNode: byId<HTMLButtonElement>('restart-node'),
    cut: byId<HTMLButtonElement>('cut'),
    cutSeconds: byId<HTMLSelectElement>('cut-seconds'),
    roomTitle: byId('room-title'),
    rooms: byId('rooms'),
    members: byId('members'),
    memberCount: byId('member-count'),
    log: byId('log'),
    serverStats: byId('server-stats'),
    notice: byId('notice'),
    messages: byId('messages'),
    composer: byId<HTMLFormElement>('composer'),
    text: byId<HTMLInputElement>('text'),
  };

  constructor(
    url: string,
    private readonly nick: string,
    private room: RoomName,
  ) {
    for (const name of ROOMS) this.timelines.set(name, new Timeline(name));
    this.client = new ProbeClient<ServerMessage, ClientMessage>(url, {
      // The key stays in this tab: it lets the server recognise our re-sends after a lost
      // session, and only ours.
      auth: { nick, key: randomId() } satisfies ChatAuth,
      WebSocket: this.link.WebSocket,
      reconnect: RECONNECT,
    });
    this.debug = {
      client: this.client,
      link: this.link,
      badgeLog: [this.client.state],
      resumes: [],
      nodes: [],
      moves: [],
    };
    window.probeChat = this.debug;
    this.setBadge(this.client.state);
    this.wireClient();
    this.wireControls();
    this.client.send({ type: 'join', room });
    this.showRoom();
    setInterval(() => this.showQueue(), 500);
  }

  private wireClient(): void {
    const { client } = this;
    client.on('state', (state) => {
      this.setBadge(state);
      this.debug.badgeLog.push(state);
      logLine(this.ui.log, `state → ${state}`);
      if (state === 'reconnecting' && this.offlineSince === null) this.offlineSince = Date.now();
      if (this.selfId) this.updateSelf();
      this.showQueue();
    });
    client.on('disconnect', ({ code, reason, attempt, delayMs }) => {
      const why = reason ? `${code} ${reason}` : String(code);
      logLine(this.ui.log, `lost (${why}); retry #${attempt} in ${delayMs} ms`);
    });
    client.on('open', ({ resumed }) => {
      logLine(this.ui.log, resumed ? 'session resumed' : 'new session');
      // A new session's node is where it starts, not where it moved to.
      if (!resumed) this.sessionNode = null;
      if (!resumed && this.hadSession) this.rejoin();
      this.hadSession = true;
    });
    client.on('resume', ({ replayedToServer, replayedFromServer }) => {
      const offlineMs = this.offlineSince === null ? 0 : Date.now() - this.offlineSince;
      this.offlineSince = null;
      this.debug.resumes.push({ replayedToServer, replayedFromServer, replayedToClient: null });
      logLine(this.ui.log, `replayed ${replayedToServer} to server, ${replayedFromServer} from it`);
      this.notice(
        `Session resumed after ${(offlineMs / 1000).toFixed(1)} s offline: ` +
          `${plural(replayedToServer, 'message')} replayed to the server, ` +
          `${replayedFromServer} from the server.`,
      );
    });
    client.on('session-lost', ({ reason }) => {
      this.offlineSince = null;
      logLine(this.ui.log, `session lost: ${reason}`);
      this.notice(
        `The server could not resume the session (${reason}). Joined again with a new one; unsent messages are re-sent.`,
        'warn',
      );
    });
    client.on('close', ({ code, reason }) => {
      logLine(this.ui.log, `closed (${code} ${reason})`);
      this.notice(
        `Disconnected for good: ${reason}. Reload the page to join again.`,
        'warn',
        false,
      );
    });
    client.on('error', (error) => console.warn('[chat]', error));
    client.on('message', (message) => this.onMessage(message));
  }

  private wireControls(): void {
    this.ui.composer.addEventListener('submit', (event) => {
      event.preventDefault();
      const text = this.ui.text.value.trim();
      if (text === '') return;
      this.ui.text.value = '';
      this.say(text);
    });
    this.ui.cut.addEventListener('click', () => {
      if (this.link.isCut) {
        this.link.restore();
        return;
      }
      this.link.cut(Number(this.ui.cutSeconds.value) * 1000);
    });
    let countdown: ReturnType<typeof setInterval> | null = null;
    this.link.onChange((until) => {
      if (countdown !== null) clearInterval(countdown);
      countdown = null;
      if (until === null) {
        logLine(this.ui.log, 'cut over: new connections work again');
        this.ui.cut.dataset.active = 'false';
        this.ui.cut.textContent = 'Cut my connection';
        return;
      }
      logLine(this.ui.log, `cut: dropping all traffic for ${this.ui.cutSeconds.value} s`);
      this.ui.cut.dataset.active = 'true';
      const tick = () => {
        const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
        this.ui.cut.textContent = `Cut: ${left} s left (restore now)`;
      };
      tick();
      countdown = setInterval(tick, 250);
    });
    this.ui.restartNode.addEventListener('click', () => {
      const node = this.sessionNode;
      if (node === null) return;
      this.client.send({ type: 'restart-node' });
      logLine(this.ui.log, `asked node ${node.name} to restart`);
      this.ui.restartNode.disabled = true;
      this.ui.restartNode.textContent = `Restarting node ${node.name}…`;
      // Enabled again by the next node announcement, or after a while if none comes.
      if (this.restartTimer !== null) clearTimeout(this.restartTimer);
      this.restartTimer = setTimeout(() => this.showNode(), 15_000);
    });
    window.addEventListener('hashchange', () => {
      const room = location.hash.slice(1);
      if ((ROOMS as readonly string[]).includes(room)) this.switchRoom(room as RoomName);
    });
  }

  private onMessage(message: ServerMessage): void {
    switch (message.type) {
      case 'welcome':
        this.selfId = message.id;
        this.rooms = [...message.rooms];
        this.showRooms();
        return;
      case 'joined': {
        const timeline = this.timelines.get(message.room)!;
        for (const m of message.history) timeline.add(m);
        if (message.room !== this.room) return;
        this.members.clear();
        for (const member of message.members) this.members.set(member.id, member);
        this.showRoom();
        return;
      }
      case 'message':
        this.onChatMessage(message.message);
        return;
      case 'presence':
        if (message.room !== this.room) return;
        this.members.set(message.member.id, message.member);
        this.showMembers();
        return;
      case 'left':
        if (message.room !== this.room) return;
        this.members.delete(message.id);
        this.showMembers();
        return;
      case 'rooms':
        this.rooms = [...message.rooms];
        this.showRooms();
        return;
      case 'link': {
        const { rttMs, probeIntervalMs, probeTimeoutMs, sessions } = message;
        this.ui.rtt.textContent = rttMs === null ? 'RTT –' : `RTT ${rttMs.toFixed(1)} ms`;
        this.ui.rtt.title = `Probe round-trip time measured by the server (probe every ${probeIntervalMs / 1000} s, timeout ${probeTimeoutMs / 1000} s)`;
        this.ui.serverStats.textContent = `Server: ${plural(sessions.open, 'open session')}, ${sessions.suspended} suspended`;
        return;
      }
      case 'resumed': {
        const last = this.debug.resumes.at(-1);
        if (last) last.replayedToClient = message.replayedToClient;
        // Taken over from another node (the 'node' message that follows says where it
        // moved), or back before the server noticed it was gone: nothing to add.
        if (message.reason === 'moved' || message.reason === '') return;
        const seconds = (message.suspendedMs / 1000).toFixed(1);
        logLine(this.ui.log, `server: suspended ${seconds} s (${message.reason})`);
        this.appendNotice(
          ` The server had suspended the session for ${seconds} s (${message.reason}).`,
        );
        return;
      }
      case 'node':
        this.onNode(message);
        return;
      case 'rejected': {
        let matched = false;
        for (const timeline of this.timelines.values()) {
          const pending = timeline.pending.get(message.cid);
          if (!pending) continue;
          matched = true;
          pending.failed = message.reason;
          if (timeline.room === this.room) this.replacePending(pending);
        }
        // Not one of our posts (e.g. a room switch over the rate limit): still say so.
        if (!matched) this.notice(`The server refused a message: ${message.reason}`, 'warn');
        return;
      }
    }
  }

  /** Cluster demo: the node serving this session, announced on open and on every resume. */
  private onNode(node: NodeMessage): void {
    const previous = this.sessionNode;
    this.sessionNode = node;
    this.debug.nodes.push({ name: node.name, id: node.id });
    this.showNode();
    if (previous === null || previous.id === node.id) return;
    const to =
      previous.name === node.name ? `the restarted node ${node.name}` : `node ${node.name}`;
    const text = `Your session moved from node ${previous.name} to ${to}; nothing was lost.`;
    this.debug.moves.push({ from: previous.name, to: node.name });
    logLine(this.ui.log, `moved from node ${previous.name} to node ${node.name}`);
    const { notice } = this.ui;
    if (!notice.hidden && notice.dataset.kind === 'info') this.appendNotice(` ${text}`);
    else this.notice(text);
  }

  private showNode(): void {
    const node = this.sessionNode;
    const { node: badge, restartNode } = this.ui;
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    if (node === null) return;
    badge.hidden = false;
    badge.textContent = `node ${node.name}`;
    badge.dataset.node = node.name;
    badge.dataset.nodeId = node.id;
    badge.title = `Served by node ${node.name} (node id ${node.id})`;
    restartNode.hidden = !node.restartable;
    restartNode.disabled = false;
    restartNode.textContent = 'Restart this node';
  }

  private onChatMessage(message: ChatMessage): void {
    const timeline = this.timelines.get(message.room)!;
    const result = timeline.add(message);
    if (message.room !== this.room) return;
    const stick = this.atBottom() || message.from === this.selfId;
    if (result.replaces !== null) {
      this.pendingEls.get(result.replaces)?.remove();
      this.pendingEls.delete(result.replaces);
    }
    if (result.kind !== 'added') return;
    const element = messageEl(message, message.from === this.selfId);
    const next =
      (result.before === null ? undefined : this.seqEls.get(result.before)) ??
      this.pendingEls.values().next().value ??
      null;
    this.ui.messages.querySelector('.empty')?.remove();
    this.ui.messages.insertBefore(element, next);
    this.seqEls.set(message.seq, element);
    if (this.seqEls.size > timeline.delivered.length) {
      for (const [seq, old] of this.seqEls) {
        if (timeline.has(seq)) continue;
        old.remove();
        this.seqEls.delete(seq);
      }
    }
    if (stick) this.scrollToBottom();
  }

  private say(text: string): void {
    const pending: PendingMessage = { room: this.room, cid: randomId(), text, ts: Date.now() };
    const timeline = this.timelines.get(this.room)!;
    timeline.addPending(pending);
    try {
      this.client.send({ type: 'say', room: pending.room, cid: pending.cid, text });
    } catch (error) {
      pending.failed = error instanceof ProbeError ? error.code : 'error';
    }
    this.ui.messages.querySelector('.empty')?.remove();
    const element = pendingEl(pending, this.nick);
    this.ui.messages.append(element);
    this.pendingEls.set(pending.cid, element);
    this.scrollToBottom();
    this.showQueue();
  }

  /**
   * A new session after the old one was lost: the server knows nothing of us, and if it
   * restarted, its sequence numbers start again from 1. Forget what we showed, join again
   * (the join brings the history) and re-send what is still pending; the server drops a
   * re-send whose id it already has.
   */
  private rejoin(): void {
    for (const timeline of this.timelines.values()) timeline.clearDelivered();
    this.showRoom();
    for (const timeline of this.timelines.values()) {
      const waiting = [...timeline.pending.values()].filter((m) => m.failed === undefined);
      if (waiting.length === 0) continue;
      this.client.send({ type: 'join', room: timeline.room });
      for (const m of waiting)
        this.client.send({ type: 'say', room: m.room, cid: m.cid, text: m.text });
    }
    this.client.send({ type: 'join', room: this.room });
  }

  private switchRoom(room: RoomName): void {
    if (room === this.room) return;
    this.room = room;
    if (location.hash !== `#${room}`) history.replaceState(null, '', `#${room}`);
    this.members.clear();
    this.client.send({ type: 'join', room });
    this.showRoom();
  }

  private showRoom(): void {
    const timeline = this.timelines.get(this.room)!;
    this.ui.roomTitle.textContent = `#${this.room}`;
    this.ui.text.placeholder = `Message #${this.room}`;
    document.title = `#${this.room} · Probe chat`;
    this.seqEls.clear();
    this.pendingEls.clear();
    const items: HTMLElement[] = [];
    for (const message of timeline.delivered) {
      const element = messageEl(message, message.from === this.selfId);
      this.seqEls.set(message.seq, element);
      items.push(element);
    }
    for (const pending of timeline.pending.values()) {
      const element = pendingEl(pending, this.nick);
      this.pendingEls.set(pending.cid, element);
      items.push(element);
    }
    if (items.length === 0)
      items.push(
        Object.assign(document.createElement('li'), {
          className: 'empty',
          textContent: 'No messages yet. Say hello!',
        }),
      );
    this.ui.messages.replaceChildren(...items);
    this.scrollToBottom();
    this.showRooms();
    this.showMembers();
  }

  private replacePending(pending: PendingMessage): void {
    const old = this.pendingEls.get(pending.cid);
    if (!old) return;
    const element = pendingEl(pending, this.nick);
    old.replaceWith(element);
    this.pendingEls.set(pending.cid, element);
  }

  private showRooms(): void {
    renderRooms(this.ui.rooms, this.rooms, this.room, (room) => this.switchRoom(room));
  }

  private showMembers(): void {
    this.updateSelf();
  }

  /** Our own entry follows our client's state, which we know before the server does. */
  private updateSelf(): void {
    const members = new Map(this.members);
    const self = this.selfId === null ? undefined : members.get(this.selfId);
    if (self) {
      const status = this.client.state === 'open' ? 'online' : 'reconnecting';
      members.set(self.id, { ...self, status });
    }
    renderMembers(this.ui.members, members.values(), this.selfId);
    this.ui.memberCount.textContent = members.size > 0 ? `(${members.size})` : '';
  }

  private setBadge(state: ClientState): void {
    this.ui.badge.dataset.state = state;
    this.ui.badge.textContent = state;
    // The last figure is stale once the link is down; the next report comes after the resume.
    if (state !== 'open') this.ui.rtt.textContent = 'RTT –';
    this.ui.composer.dataset.state = state;
  }

  private showQueue(): void {
    const { messages } = this.client.buffered;
    this.ui.queue.textContent =
      messages > 0 && this.client.state !== 'open' ? `${plural(messages, 'message')} queued` : '';
  }

  private notice(text: string, kind: 'info' | 'warn' = 'info', autoHide = true): void {
    const { notice } = this.ui;
    notice.textContent = text;
    notice.dataset.kind = kind;
    notice.hidden = false;
    if (this.noticeTimer !== null) clearTimeout(this.noticeTimer);
    this.noticeTimer = autoHide ? setTimeout(() => (notice.hidden = true), 20_000) : null;
  }

  private appendNotice(text: string): void {
    if (this.ui.notice.hidden) return;
    this.ui.notice.textContent += text;
  }

  private atBottom(): boolean {
    const list = this.ui.messages;
    return list.scrollHeight - list.scrollTop - list.clientHeight < 48;
  }

  private scrollToBottom(): void {
    this.ui.messages.scrollTop = this.ui.messages.scrollHeight;
  }
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
