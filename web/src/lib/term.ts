/**
 * Turns raw terminal output into plain text for the shell pane (no DOM, no imports: the node
 * tests import this file). It is a simple pane, not an emulator: escape sequences are dropped,
 * CR LF becomes LF, a lone CR or a backspace erases back on the current line.
 */

// CSI (ESC [ … final), OSC (ESC ] … BEL or ESC \), two-byte escapes, other C0 controls but \b \t \n \r.
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|[\x00-\x07\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]/g;

export function stripEscapes(s: string): string {
  return s.replace(ESCAPES, '');
}

/**
 * Appends `chunk` to the text `screen`, applying CR and backspace to the last line.
 * `max` bounds the kept text (oldest lines dropped).
 */
export function appendOutput(screen: string, chunk: string, max = 200_000): string {
  let text = screen;
  const clean = stripEscapes(chunk).replace(/\r+\n/g, '\n');
  for (const part of clean.split(/(\r|\x08)/)) {
    if (part === '\r') {
      text = text.slice(0, text.lastIndexOf('\n') + 1);
    } else if (part === '\x08') {
      if (text.length > 0 && !text.endsWith('\n')) text = text.slice(0, -1);
    } else {
      text += part;
    }
  }
  if (text.length > max) {
    const cut = text.indexOf('\n', text.length - max);
    text = cut === -1 ? text.slice(-max) : text.slice(cut + 1);
  }
  return text;
}
