/**
 * UTF-8 for the lean codec where the runtime lacks TextEncoder or TextDecoder (older React
 * Native engines): the same results as the Encoding standard's encoder and decoder (lone
 * surrogates written as U+FFFD, invalid bytes read as U+FFFD, each maximal bad subpart once).
 * Runtimes that have them use theirs.
 */

/** Writes `text` as UTF-8 into `target` (which has room for 3 bytes per unit); returns the count. */
export function encodeUtf8Into(text: string, target: Uint8Array): number {
  let at = 0;
  for (let i = 0; i < text.length; i++) {
    let unit = text.charCodeAt(i);
    if (unit < 0x80) {
      target[at++] = unit;
      continue;
    }
    if (unit >= 0xd800 && unit < 0xe000) {
      const next = text.charCodeAt(i + 1);
      if (unit < 0xdc00 && next >= 0xdc00 && next < 0xe000) {
        const point = 0x10000 + ((unit - 0xd800) << 10) + (next - 0xdc00);
        target[at++] = 0xf0 | (point >> 18);
        target[at++] = 0x80 | ((point >> 12) & 0x3f);
        target[at++] = 0x80 | ((point >> 6) & 0x3f);
        target[at++] = 0x80 | (point & 0x3f);
        i++;
        continue;
      }
      unit = 0xfffd;
    }
    if (unit < 0x800) {
      target[at++] = 0xc0 | (unit >> 6);
    } else {
      target[at++] = 0xe0 | (unit >> 12);
      target[at++] = 0x80 | ((unit >> 6) & 0x3f);
    }
    target[at++] = 0x80 | (unit & 0x3f);
  }
  return at;
}

/** Reads `bytes` as UTF-8; a leading byte order mark is dropped unless `keepBom`. */
export function decodeUtf8(bytes: Uint8Array, keepBom: boolean): string {
  const end = bytes.length;
  let i = 0;
  if (!keepBom && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3;
  let text = '';
  const units: number[] = [];
  while (i < end) {
    const byte = bytes[i++] as number;
    let point = byte;
    if (byte >= 0x80) {
      let need = 0;
      let lower = 0x80;
      let upper = 0xbf;
      if (byte >= 0xc2 && byte <= 0xdf) {
        need = 1;
        point = byte & 0x1f;
      } else if (byte >= 0xe0 && byte <= 0xef) {
        need = 2;
        point = byte & 0x0f;
        if (byte === 0xe0) lower = 0xa0;
        if (byte === 0xed) upper = 0x9f;
      } else if (byte >= 0xf0 && byte <= 0xf4) {
        need = 3;
        point = byte & 0x07;
        if (byte === 0xf0) lower = 0x90;
        if (byte === 0xf4) upper = 0x8f;
      }
      // A byte that cannot start a sequence, or a sequence cut short: one U+FFFD, and the byte
      // that broke it is read again as the start of what follows.
      for (let k = 0; k < need; k++) {
        const next = bytes[i];
        if (next === undefined || next < lower || next > upper) {
          need = -1;
          break;
        }
        point = (point << 6) | (next & 0x3f);
        lower = 0x80;
        upper = 0xbf;
        i++;
      }
      if (need <= 0) point = 0xfffd;
    }
    if (point >= 0x10000) {
      point -= 0x10000;
      units.push(0xd800 + (point >> 10), 0xdc00 + (point & 0x3ff));
    } else units.push(point);
    if (units.length >= 4096) {
      text += String.fromCharCode(...units);
      units.length = 0;
    }
  }
  return text + String.fromCharCode(...units);
}
