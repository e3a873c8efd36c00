/**
 * 128 random bits as hex, for message ids and the tab's key. Message ids are broadcast with
 * the messages, so none may hint at the next one. Not `crypto.randomUUID`: that needs a secure
 * context, and the demo is also served over plain http on a LAN address (`HOST=0.0.0.0`).
 */
export function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
