import { type ClientState, ProbeClient, ProbeError, RequestError } from '@probe/client';
import {
  type ChatAuth,
  type ChatMessage,
  type ChatSchema,
  type Joined,
  type Member,
  type Rejected,
  type Resumed,
  ROOMS,
  type RoomName,
  type RoomSummary,
  type TypingNotice,
} from '../shared/schema.js';
import { parsePost } from '../shared/validate.js';
import { CutLink } from './cut-link.js';
import { NodeBadge } from './node-badge.js';
import { randomId } from './random-id.js';
import { authorKey, dropRecovery, saveRecovery } from './tab-state.js';
import { type PendingMessage, Timeline } from './timeline.js';
import { TYPING_EVERY_MS, TypingIndicator } from './typing.js';
import { byId, logLine, messageEl, pendingEl, renderMembers, renderRooms } from './view.js';

export type ChatClient = ProbeClient<unknown, unknown, ChatSchema>;

/** What the page exposes on `window.probeChat`, for people poking around and for the e2e test. */
export interface ChatDebug {
  readonly client: ChatClient;
  readonly link: CutLink;
  /** Every badge state, in order, starting with the first. */
  readonly badgeLog: ClientState[];
  /** Every resume notice shown, in order. */
  readonly resumes: {
    /** From the client's `resume` event. */
    replayedToServer: number;
    replayedFromServer: number;
    /** From the server's session `resume` event, forwarded in a `resumed` event. */
    replayedToClient: number | null;
  }[];
  /**
   * This page took the previous page's session up again (reload recovery): null while it is
   * not known yet (or the page started without a key), true once resumed, false when the
   * session could not be resumed and a new one was opened.
   */
  recovered: boolean | null;
  /** Every `typing` event received, in order. */
  readonly typing: TypingNotice[];
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
/** A join waits through reconnects; past this it is asked again. */
const JOIN_TIMEOUT_MS = 30_000;

export interface ChatAppOptions {
  url: string;
  nick: string;
  room: RoomName;
  /** `recoveryKey()` of this tab's previous page: take its session up again. */
  recover?: string | null;
}

export class ChatApp {
  readonly link = new CutLink(WebSocket);
  readonly client: ChatClient;
  private readonly nick: string;
  private room: RoomName;
  private readonly timelines = new Map<RoomName, Timeline>();
  private readonly members = new Map<string, Member>();
  private rooms: RoomSummary[] = ROOMS.map((name) => ({ name, members: 0 }));
  private selfId: string | null = null;
  /** Built with the previous page's recovery key. */
  private readonly recovering: boolean;
  /** A session was open before (or recovered): a new one means joining again. */
  private hadSession: boolean;
  private offlineSince: number | null = null;
  private readonly seqEls = new Map<number, HTMLElement>();
  private readonly pendingEls = new Map<string, HTMLElement>();
  private readonly debug: ChatDebug;
  private noticeTimer: ReturnType<typeof setTimeout> | null = null;
  private lastTypingSent = 0;

  private readonly ui = {
    badge: byId('badge'),
    recovered: byId('recovered'),
    rtt: byId('rtt'),
    queue: byId('queue'),
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
    typing: byId('typing'),
    composer: byId<HTMLFormElement>('composer'),
    text: byId<HTMLInputElement>('text'),
  };
  private readonly typing = new TypingIndicator(this.ui.typing);
  private readonly node: NodeBadge;

  constructor({ url, nick, room, recover = null }: ChatAppOptions) {
    this.nick = nick;
    this.room = room;
    for (const name of ROOMS) this.timelines.set(name, new Timeline(name));
    this.client = this.createClient(url, recover);
    // A client built from a recovery key has its session before it connects.
    this.recovering = this.client.sessionId !== null;
    this.hadSession = this.recovering;
    this.debug = {
      client: this.client,
      link: this.link,
      badgeLog: [this.client.state],
      resumes: [],
      recovered: null,
      typing: [],
      nodes: [],
      moves: [],
    };
    window.probeChat = this.debug;
    this.node = new NodeBadge({
      badge: byId('node'),
      restartButton: byId<HTMLButtonElement>('restart-node'),
      log: this.ui.log,
      nodes: this.debug.nodes,
      moves: this.debug.moves,
      restart: () => this.client.emitWithAck('restart-node', null),
      moved: (text) => {
        const { notice } = this.ui;
        if (!notice.hidden && notice.dataset.kind === 'info') this.appendNotice(` ${text}`);
        else this.notice(text);
      },
      failed: (text) => this.notice(text, 'warn'),
    });
    this.setBadge(this.client.state);
    this.wireClient();
    this.wireServerEvents();
    this.wireControls();
    this.wirePageLifecycle();
    // Queued behind what a recovered session still has to send: the reply's history then
    // holds those posts too.
    this.join(room);
    this.showRoom();
    setInterval(() => this.showQueue(), 500);
  }

  private createClient(url: string, recover: string | null): ChatClient {
    const options = {
      // The key stays in this tab: it lets the server recognise our re-sends after a lost
      // session, and only ours.
      auth: { nick: this.nick, key: authorKey() } satisfies ChatAuth,
      WebSocket: this.link.WebSocket,
      reconnect: RECONNECT,
    };
    if (recover !== null) {
      try {
        return new ProbeClient<unknown, unknown, ChatSchema>(url, { ...options, recover });
      } catch (error) {
        // Not a key of this client version: start afresh.
        console.warn('[chat] recovery key refused:', error);
      }
    }
    return new ProbeClient<unknown, unknown, ChatSchema>(url, options);
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
    client.on('open', ({ resumed, sessionId }) => {
      logLine(this.ui.log, resumed ? 'session resumed' : `new session ${sessionId.slice(0, 8)}`);
      // A new session's node is where it starts, not where it moved to.
      if (!resumed) this.node.newSession();
      if (!resumed && this.hadSession) this.rejoin();
      this.hadSession = true;
    });
    client.on('resume', ({ replayedToServer, replayedFromServer }) => {
      const offlineMs = this.offlineSince === null ? 0 : Date.now() - this.offlineSince;
      this.offlineSince = null;
      this.debug.resumes.push({ replayedToServer, replayedFromServer, replayedToClient: null });
      logLine(this.ui.log, `replayed ${replayedToServer} to server, ${replayedFromServer} from it`);
      const replayed =
        `${plural(replayedToServer, 'message')} replayed to the server, ` +
        `${replayedFromServer} from the server.`;
      if (this.recovering && this.debug.recovered === null) {
        this.debug.recovered = true;
        this.ui.recovered.hidden = false;
        this.notice(`Session recovered after the page reload: ${replayed}`);
        return;
      }
      this.notice(`Session resumed after ${(offlineMs / 1000).toFixed(1)} s offline: ${replayed}`);
    });
    client.on('session-lost', ({ reason, unconfirmedEvents }) => {
      this.offlineSince = null;
      if (this.recovering && this.debug.recovered === null) this.debug.recovered = false;
      logLine(this.ui.log, `session lost: ${reason}`);
      this.keepUnconfirmedPosts(unconfirmedEvents);
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
  }

  private wireServerEvents(): void {
    const { client } = this;
    client.on('welcome', ({ id, rooms }) => {
      this.selfId = id;
      this.rooms = [...rooms];
      this.showRooms();
    });
    client.on('posted', (message) => this.onChatMessage(message));
    client.on('presence', ({ room, member }) => {
      if (room !== this.room) return;
      this.members.set(member.id, member);
      this.showMembers();
    });
    client.on('left', ({ room, id }) => {
      if (room !== this.room) return;
      this.members.delete(id);
      this.typing.remove(id);
      this.showMembers();
    });
    client.on('rooms', ({ rooms }) => {
      this.rooms = [...rooms];
      this.showRooms();
    });
    client.on('typing', (notice) => {
      this.debug.typing.push(notice);
      if (notice.room === this.room) this.typing.add(notice);
    });
    client.on('link', ({ rttMs, probeIntervalMs, probeTimeoutMs, sessions }) => {
      this.ui.rtt.textContent = rttMs === null ? 'RTT –' : `RTT ${rttMs.toFixed(1)} ms`;
      this.ui.rtt.title = `Probe round-trip time measured by the server (probe every ${probeIntervalMs / 1000} s, timeout ${probeTimeoutMs / 1000} s)`;
      this.ui.serverStats.textContent = `Server: ${plural(sessions.open, 'open session')}, ${sessions.suspended} suspended`;
    });
    client.on('resumed', (resumed) => this.onResumed(resumed));
    client.on('node', (node) => this.node.announced(node));
    client.on('rejected', (rejected) => this.onRejected(rejected));
  }

  private wireControls(): void {
    this.ui.composer.addEventListener('submit', (event) => {
      event.preventDefault();
      const text = this.ui.text.value.trim();
      if (text === '') return;
      this.ui.text.value = '';
      this.lastTypingSent = 0;
      this.say(text);
    });
    this.ui.text.addEventListener('input', () => this.sendTyping());
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
    window.addEventListener('hashchange', () => {
      const room = location.hash.slice(1);
      if ((ROOMS as readonly string[]).includes(room)) this.switchRoom(room as RoomName);
    });
  }

  /**
   * Reload recovery: when the page goes away, the client stops (so nothing more is received
   * or acknowledged behind the key's back) and its recovery key goes to sessionStorage; the
   * next page of this tab takes the session up with it: what this page sent and the server
   * had not acknowledged is delivered once, and nothing it already received comes again.
   */
  private wirePageLifecycle(): void {
    window.addEventListener('pagehide', () => {
      this.client.suspend();
      const key = this.client.recoveryKey();
      if (key !== null) saveRecovery(key);
    });
    // Back from the back/forward cache: this page goes on with its own client instead.
    window.addEventListener('pageshow', (event) => {
      if (!event.persisted) return;
      dropRecovery();
      this.client.connect();
    });
  }

  /** Tells the room we are typing, at most every 2 s, and only while connected (volatile). */
  private sendTyping(): void {
    const now = Date.now();
    if (this.ui.text.value.trim() === '' || now - this.lastTypingSent < TYPING_EVERY_MS) return;
    if (this.client.emit('typing', { room: this.room }, { volatile: true })) {
      this.lastTypingSent = now;
    }
  }

  private join(room: RoomName): void {
    this.client.emitWithAck('join', { room }, { timeoutMs: JOIN_TIMEOUT_MS }).then(
      (joined) => this.onJoined(joined),
      (error: unknown) => {
        if (error instanceof ProbeError) {
          // Timed out: ask again. Session lost: rejoin() joins again. Closed: the page says so.
          if (error.code === 'timeout' && room === this.room) this.join(room);
          return;
        }
        const why = error instanceof RequestError ? error.message : String(error);
        this.notice(`Could not join #${room}: ${why}`, 'warn');
      },
    );
  }

  private onJoined({ room, history, members, rooms, you }: Joined): void {
    this.selfId = you.id;
    this.rooms = [...rooms];
    const timeline = this.timelines.get(room)!;
    for (const m of history) timeline.add(m);
    if (room !== this.room) {
      this.showRooms();
      return;
    }
    this.members.clear();
    for (const member of members) this.members.set(member.id, member);
    this.showRoom();
  }

  private onResumed(message: Resumed): void {
    const last = this.debug.resumes.at(-1);
    if (last) last.replayedToClient = message.replayedToClient;
    // Taken over from another node (the 'node' event that follows says where it moved), or
    // back before the server noticed it was gone: nothing to add.
    if (message.reason === 'moved' || message.reason === '') return;
    const seconds = (message.suspendedMs / 1000).toFixed(1);
    logLine(this.ui.log, `server: suspended ${seconds} s (${message.reason})`);
    this.appendNotice(
      ` The server had suspended the session for ${seconds} s (${message.reason}).`,
    );
  }

  private onRejected({ cid, reason }: Rejected): void {
    let matched = false;
    for (const timeline of this.timelines.values()) {
      const pending = timeline.pending.get(cid);
      if (!pending) continue;
      matched = true;
      pending.failed = reason;
      if (timeline.room === this.room) this.replacePending(pending);
    }
    // Not one of our posts: still say so.
    if (!matched) this.notice(`The server refused a message: ${reason}`, 'warn');
  }

  private onChatMessage(message: ChatMessage): void {
    const timeline = this.timelines.get(message.room)!;
    const result = timeline.add(message);
    if (message.room !== this.room) return;
    this.typing.remove(message.from);
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
    this.post(pending);
    this.ui.messages.querySelector('.empty')?.remove();
    const element = pendingEl(pending, this.nick);
    this.ui.messages.append(element);
    this.pendingEls.set(pending.cid, element);
    this.scrollToBottom();
    this.showQueue();
  }

  private post(pending: PendingMessage): void {
    try {
      this.client.emit('post', { room: pending.room, cid: pending.cid, text: pending.text });
    } catch (error) {
      pending.failed = error instanceof ProbeError ? error.code : 'error';
    }
  }

  /**
   * Posts a lost session never confirmed, pending again: the posts of a page before a reload
   * whose session could not be recovered (this page never showed them). The server stores a
   * post it already has (same author key and id) once.
   */
  private keepUnconfirmedPosts(events: readonly { event: string; payload: unknown }[]): void {
    for (const { event, payload } of events) {
      const post = event === 'post' ? parsePost(payload) : '';
      if (typeof post === 'string') continue;
      const timeline = this.timelines.get(post.room)!;
      if (timeline.pending.has(post.cid)) continue;
      timeline.addPending({ ...post, ts: Date.now() });
    }
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
      if (waiting.length === 0 || timeline.room === this.room) continue;
      this.join(timeline.room);
      for (const m of waiting) this.post(m);
    }
    this.join(this.room);
    for (const m of this.timelines.get(this.room)!.pending.values()) {
      if (m.failed === undefined) this.post(m);
    }
  }

  private switchRoom(room: RoomName): void {
    if (room === this.room) return;
    this.room = room;
    if (location.hash !== `#${room}`) history.replaceState(null, '', `#${room}`);
    this.members.clear();
    this.typing.clear();
    this.join(room);
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
