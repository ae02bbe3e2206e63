/**
 * Pure helpers for the create form (no DOM, no imports: the node tests import this file).
 */

/**
 * Splits a command line like a POSIX shell does for words: whitespace separates, '…' keeps
 * everything literally, "…" keeps spaces and honours \" \\ \$ \`, a backslash outside quotes
 * escapes the next character. No expansion of any kind. Throws on an unclosed quote.
 */
export function splitArgs(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const ch = line[i]!;
    if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end === -1) throw new Error('unclosed single quote in the command');
      cur += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (ch === '"') {
      i++;
      let closed = false;
      while (i < line.length) {
        const c = line[i]!;
        if (c === '"') {
          closed = true;
          i++;
          break;
        }
        if (c === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) {
          cur += line[i + 1];
          i += 2;
        } else {
          cur += c;
          i++;
        }
      }
      if (!closed) throw new Error('unclosed double quote in the command');
      inWord = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      cur += line[i + 1];
      inWord = true;
      i += 2;
    } else if (/\s/.test(ch)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
      i++;
    } else {
      cur += ch;
      inWord = true;
      i++;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

/** The inverse of splitArgs: words quoted only where a shell would need it. */
export function joinArgs(argv: readonly string[]): string {
  return argv.map((a) => (a !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `KEY=value` lines (blank lines and `#` comments skipped) → an object. Throws naming the bad line. */
export function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, idx) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const name = eq === -1 ? line : line.slice(0, eq).trim();
    if (eq === -1 || !ENV_NAME.test(name)) {
      throw new Error(`environment line ${idx + 1} must look like NAME=value (NAME: letters, digits, _)`);
    }
    env[name] = raw.slice(raw.indexOf('=') + 1);
  });
  return env;
}
