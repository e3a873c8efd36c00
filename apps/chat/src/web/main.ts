import { cleanNick } from '../shared/names.js';
import { ROOMS, type RoomName } from '../shared/schema.js';
import { ChatApp } from './chat-app.js';
import { rememberNick, takeRecovery } from './tab-state.js';
import { byId } from './view.js';

const NICK_KEY = 'probe-chat:nick';

/** The Probe endpoint on the page's own origin (the chat server serves both). */
function probeUrl(): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/probe`;
}

function roomFromHash(): RoomName {
  const room = location.hash.slice(1);
  return (ROOMS as readonly string[]).includes(room) ? (room as RoomName) : 'general';
}

function start(nick: string, recover: string | null = null): void {
  byId('join').hidden = true;
  byId('app').hidden = false;
  const room = roomFromHash();
  if (location.hash !== `#${room}`) history.replaceState(null, '', `#${room}`);
  rememberNick(nick);
  new ChatApp({ url: probeUrl(), nick, room, recover });
  byId<HTMLInputElement>('text').focus();
}

const form = byId<HTMLFormElement>('join');
const input = byId<HTMLInputElement>('nick');
input.value = localStorage.getItem(NICK_KEY) ?? '';
form.addEventListener('submit', (event) => {
  event.preventDefault();
  let nick: string;
  try {
    nick = cleanNick(input.value);
  } catch {
    input.focus();
    return;
  }
  localStorage.setItem(NICK_KEY, nick);
  start(nick);
});

// A reload: the previous page of this tab left its session's recovery key; take the session
// up again with the nickname it has (used once: the key is removed as it is read).
const recovery = takeRecovery();
// `?nick=ada` skips the form (handy for opening several tabs).
const fromQuery = new URLSearchParams(location.search).get('nick');
if (recovery) {
  start(recovery.nick, recovery.key);
} else if (fromQuery) {
  try {
    start(cleanNick(fromQuery));
  } catch {
    input.focus();
  }
} else {
  input.focus();
}
