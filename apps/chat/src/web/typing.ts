import type { TypingNotice } from '../shared/schema.js';
import { el } from './view.js';

/** How long "… is typing" stays after the last notice (the page sends one every 2 s). */
export const TYPING_SHOWN_MS = 3500;
/** A page says it is typing at most this often. */
export const TYPING_EVERY_MS = 2000;

/**
 * Who else is typing in the room shown: fed by the server's volatile `typing` events, each
 * entry expires on its own, and a member's message or departure ends it at once.
 */
export class TypingIndicator {
  private readonly typing = new Map<
    string,
    { nick: string; timer: ReturnType<typeof setTimeout> }
  >();

  constructor(private readonly element: HTMLElement) {}

  add({ member }: TypingNotice): void {
    const entry = this.typing.get(member.id);
    if (entry) clearTimeout(entry.timer);
    const timer = setTimeout(() => this.remove(member.id), TYPING_SHOWN_MS);
    this.typing.set(member.id, { nick: member.nick, timer });
    this.render();
  }

  remove(id: string): void {
    const entry = this.typing.get(id);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.typing.delete(id);
    this.render();
  }

  clear(): void {
    for (const id of [...this.typing.keys()]) this.remove(id);
  }

  private render(): void {
    const nicks = [...this.typing.values()].map((entry) => entry.nick).sort();
    this.element.dataset.typing = nicks.join(',');
    if (nicks.length > 3) {
      this.element.textContent = 'Several people are typing…';
      return;
    }
    // Nicknames bidi-isolated, as everywhere on the page.
    const parts: (Node | string)[] = [];
    nicks.forEach((nick, i) => {
      if (i > 0) parts.push(i === nicks.length - 1 ? ' and ' : ', ');
      parts.push(el('bdi', { text: nick }));
    });
    if (nicks.length > 0) parts.push(nicks.length === 1 ? ' is typing…' : ' are typing…');
    this.element.replaceChildren(...parts);
  }
}
