import type { ChatMessage, Member, RoomName, RoomSummary } from '../shared/schema.js';
import type { PendingMessage } from './timeline.js';

/** Looks up an element the page must have. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from index.html`);
  return element as T;
}

/** Creates an element; text goes in as text, never as HTML. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { className?: string; text?: string; attrs?: Record<string, string> } = {},
  ...children: (Node | null)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.text !== undefined) node.textContent = props.text;
  for (const [name, value] of Object.entries(props.attrs ?? {})) node.setAttribute(name, value);
  for (const child of children) if (child) node.append(child);
  return node;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

function timeEl(ts: number): HTMLTimeElement {
  const date = new Date(ts);
  return el('time', {
    text: timeFormat.format(date),
    attrs: { datetime: date.toISOString(), title: fullFormat.format(date) },
  });
}

/** A stable colour per nickname, so people are easy to tell apart. */
function nickColor(nick: string): string {
  let hash = 0;
  for (const char of nick) hash = (hash * 31 + (char.codePointAt(0) ?? 0)) >>> 0;
  return `hsl(${hash % 360} 55% 45%)`;
}

/**
 * A nickname, isolated from the text around it: a right-to-left name (Arabic, Hebrew) must not
 * reorder the time or "(you)" beside it.
 */
function nickEl(nick: string, className = ''): HTMLElement {
  return el('bdi', { className, text: nick });
}

/** A delivered message: keyed by its server sequence number in `data-seq`. */
export function messageEl(message: ChatMessage, mine: boolean): HTMLLIElement {
  const nick = nickEl(message.nick, 'nick');
  nick.style.color = nickColor(message.nick);
  return el(
    'li',
    {
      className: mine ? 'msg mine' : 'msg',
      attrs: {
        'data-seq': String(message.seq),
        'data-cid': message.cid,
        'data-from': message.from,
      },
    },
    el(
      'div',
      { className: 'meta' },
      nick,
      timeEl(message.ts),
      mine ? el('span', { className: 'state', text: '✓', attrs: { title: 'delivered' } }) : null,
    ),
    el('div', { className: 'text', text: message.text }),
  );
}

/** A message this tab sent that has not come back from the server yet (grey). */
export function pendingEl(message: PendingMessage, nick: string): HTMLLIElement {
  const failed = message.failed !== undefined;
  return el(
    'li',
    {
      className: failed ? 'msg mine pending failed' : 'msg mine pending',
      attrs: { 'data-cid': message.cid },
    },
    el(
      'div',
      { className: 'meta' },
      nickEl(nick, 'nick'),
      timeEl(message.ts),
      el('span', {
        className: 'state',
        text: failed ? `not sent: ${message.failed}` : 'sending…',
      }),
    ),
    el('div', { className: 'text', text: message.text }),
  );
}

export function renderRooms(
  list: HTMLElement,
  rooms: readonly RoomSummary[],
  current: RoomName,
  onPick: (room: RoomName) => void,
): void {
  list.replaceChildren(
    ...rooms.map((room) => {
      const button = el(
        'button',
        { attrs: { type: 'button', 'data-room': room.name } },
        el('span', { text: `#${room.name}` }),
        el('span', { className: 'count', text: room.members > 0 ? String(room.members) : '' }),
      );
      if (room.name === current) button.setAttribute('aria-current', 'true');
      button.addEventListener('click', () => onPick(room.name));
      return el('li', {}, button);
    }),
  );
}

export function renderMembers(
  list: HTMLElement,
  members: Iterable<Member>,
  selfId: string | null,
): void {
  const sorted = [...members].sort((a, b) => a.nick.localeCompare(b.nick));
  list.replaceChildren(
    ...sorted.map((member) =>
      el(
        'li',
        { attrs: { 'data-status': member.status, 'data-id': member.id } },
        nickEl(member.nick),
        member.id === selfId ? el('span', { className: 'you', text: '(you)' }) : null,
        member.status === 'reconnecting'
          ? el('span', { className: 'status', text: 'reconnecting…' })
          : null,
      ),
    ),
  );
}

/** Newest first, at most `keep` entries. */
export function logLine(list: HTMLElement, text: string, keep = 14): void {
  const now = new Date();
  list.prepend(
    el('li', {}, el('time', { text: now.toLocaleTimeString() }), document.createTextNode(text)),
  );
  while (list.childElementCount > keep) list.lastElementChild?.remove();
}
