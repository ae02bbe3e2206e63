/**
 * Reads app manifests from catalog directories and reports every problem as
 * `file:line:col: path: message`. The YAML is parsed with node ranges kept, so each zod issue
 * (whose path is in the parsed object) maps back to the key or value that caused it.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { findCycle } from '../domain/app-graph.js';
import { BerthError } from '../errors.js';
import { editDistance } from './template.js';
import type { AppManifest } from './manifest.js';
import { KNOWN_FIELDS, manifestInputSchema, normalizeManifest } from './manifest.schema.js';

/** One problem in one manifest. `line`/`col` are 1-based; 0 when the problem is not in the file's text. */
export interface ManifestError {
  file: string;
  line: number;
  col: number;
  /** Dotted path in the manifest (`env.DATABASE_URL`, `command[2]`); '' for the whole file. */
  path: string;
  message: string;
}

/** `file:line:col: path: message` (position and path left out when unknown). */
export function formatManifestError(e: ManifestError): string {
  const where = e.line > 0 ? `${e.file}:${e.line}:${e.col}` : e.file;
  return e.path ? `${where}: ${e.path}: ${e.message}` : `${where}: ${e.message}`;
}

/** One BerthError for a failed manifest, listing every problem on its own line. */
export function manifestInvalid(errors: readonly ManifestError[]): BerthError {
  return new BerthError('E_MANIFEST_INVALID', `invalid app manifest:\n${errors.map(formatManifestError).join('\n')}`);
}

/** Manifests larger than this are refused before parsing (a manifest is a page of YAML). */
const MAX_MANIFEST_BYTES = 256 * 1024;

/** Parses and validates one manifest's text. Pure: `file` only labels the errors. */
export function parseManifest(text: string, file: string): { manifest?: AppManifest; errors: ManifestError[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true });
  const at = (offset: number): { line: number; col: number } => lines.linePos(offset);

  if (doc.errors.length > 0) {
    return {
      errors: doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? at(e.pos[0]);
        return { file, line: pos.line, col: pos.col, path: '', message: firstLine(e.message) };
      }),
    };
  }
  if (!isMap(doc.contents)) {
    return { errors: [{ file, line: 1, col: 1, path: '', message: 'a manifest must be a YAML mapping (name: …, image: …)' }] };
  }
  const parsed = manifestInputSchema.safeParse(doc.toJS({ maxAliasCount: 50 }));
  if (parsed.success) return { manifest: normalizeManifest(parsed.data, file), errors: [] };

  const errors = parsed.error.issues.flatMap((issue) => issueToErrors(issue, doc, text, file, at));
  // zod reports in schema order; readers expect file order.
  errors.sort((a, b) => a.line - b.line || a.col - b.col);
  return { errors };
}

type Issue = z.core.$ZodIssue;
type PathKey = PropertyKey;

function issueToErrors(issue: Issue, doc: Document, text: string, file: string, at: (o: number) => { line: number; col: number }): ManifestError[] {
  const issuePath = issue.path;
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const found = locate(doc, [...issuePath, key]);
      const known = KNOWN_FIELDS[issuePath.join('.')] ?? [];
      const close = known.find((k) => editDistance(k, key) <= 2);
      const hint = close ? ` (did you mean "${close}"?)` : known.length ? ` (known: ${known.join(', ')})` : '';
      return { file, ...at(found.keyOffset ?? found.offset), path: dotted([...issuePath, key]), message: `unknown field${hint}` };
    });
  }
  const found = locate(doc, issuePath);
  let offset = found.offset;
  let message = issue.message.replace(/^Invalid input: /, '');
  if (!found.complete) {
    // The value is absent: point at the mapping that should hold it.
    if (issue.code === 'invalid_type') message = `is required (expected ${issue.expected})`;
    return [{ file, ...at(offset), path: dotted(issuePath), message }];
  }
  if (issue.code === 'invalid_key') {
    offset = found.keyOffset ?? offset;
    message = `invalid name: ${issue.issues[0]?.message ?? message}`;
  } else if (issue.code === 'custom' && typeof issue.params?.needle === 'string' && found.node?.range) {
    // Point at the `${…}` inside the string, not at the string's start.
    const [start, end] = found.node.range;
    const idx = text.slice(start, end).indexOf(issue.params.needle);
    if (idx >= 0) offset = start + idx;
  } else if (issue.code === 'invalid_type' && (!found.node || (isScalar(found.node) && found.node.value === null))) {
    // `key:` with nothing after it: point at the key.
    offset = found.keyOffset ?? offset;
    message = `is empty (expected ${issue.expected})`;
  }
  return [{ file, ...at(offset), path: dotted(issuePath), message }];
}

interface Located {
  /** Deepest node reached (the value at the full path when `complete`). */
  node: YamlNode | null;
  offset: number;
  /** Offset of the key naming the last map entry reached. */
  keyOffset?: number | undefined;
  complete: boolean;
  /** Number of path segments resolved. */
  depth: number;
}

/** Walks the YAML document along a zod issue path. */
function locate(doc: Document, issuePath: readonly PathKey[]): Located {
  let node = doc.contents as YamlNode | null;
  let offset = node?.range?.[0] ?? 0;
  let keyOffset: number | undefined;
  for (let depth = 0; depth < issuePath.length; depth++) {
    const seg = issuePath[depth];
    let next: unknown;
    let nextKeyOffset: number | undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (pair) {
        next = pair.value;
        nextKeyOffset = (pair.key as YamlNode).range?.[0];
        // `key:` with no value: the key is the best place to point at.
        if (next === null) return { node: null, offset: nextKeyOffset ?? offset, keyOffset: nextKeyOffset, complete: depth === issuePath.length - 1, depth: depth + 1 };
      }
    } else if (isSeq(node) && typeof seg === 'number') {
      next = node.items[seg];
    }
    if (next === undefined || next === null) return { node, offset: keyOffset ?? offset, keyOffset, complete: false, depth };
    node = next as YamlNode;
    keyOffset = nextKeyOffset;
    offset = node.range?.[0] ?? offset;
  }
  return { node, offset, keyOffset, complete: true, depth: issuePath.length };
}

function dotted(p: readonly PathKey[]): string {
  let out = '';
  for (const seg of p) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${String(seg)}` : String(seg);
  return out;
}

/** First line of a yaml error, without the position it repeats (` at line 3, column 1:`). */
function firstLine(s: string): string {
  return s.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '').trim();
}

/** Reads and validates one `app.yaml`; checks that `name` matches the directory and the icon exists. */
export async function loadManifestFile(file: string): Promise<{ manifest?: AppManifest; errors: ManifestError[] }> {
  const info = await stat(file);
  if (info.size > MAX_MANIFEST_BYTES) return { errors: [{ file, line: 0, col: 0, path: '', message: `larger than ${MAX_MANIFEST_BYTES} bytes` }] };
  const text = await readFile(file, 'utf8');
  const result = parseManifest(text, file);
  const m = result.manifest;
  if (!m) return result;
  const errors: ManifestError[] = [];
  const positionOf = (key: string): { line: number; col: number } => {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines });
    return lines.linePos(locate(doc, [key]).offset);
  };
  const dirName = path.basename(path.dirname(file));
  if (m.name !== dirName) {
    errors.push({ file, ...positionOf('name'), path: 'name', message: `must match its directory name "${dirName}"` });
  }
  if (m.icon && !m.icon.startsWith('https://')) {
    const icon = path.join(path.dirname(file), m.icon);
    if (!(await isFile(icon))) errors.push({ file, ...positionOf('icon'), path: 'icon', message: `file ${m.icon} not found next to app.yaml` });
  }
  return errors.length ? { errors } : { manifest: m, errors };
}

/**
 * Loads every `<dir>/<name>/app.yaml` of the given catalog directories. A later directory overrides
 * an app of the same name from an earlier one (so an extra catalog can replace a built-in app).
 * Invalid manifests are left out of `apps` and reported in `errors`; so are dependency cycles, and
 * `dependsOn` entries naming no app (those apps stay listed: installing them is refused later).
 */
export async function loadCatalog(dirs: string[]): Promise<{ apps: Map<string, AppManifest>; errors: ManifestError[] }> {
  const apps = new Map<string, AppManifest>();
  const errors: ManifestError[] = [];
  for (const dir of dirs) {
    let entries: string[];
    try {
      entries = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
    } catch (err) {
      errors.push({ file: dir, line: 0, col: 0, path: '', message: `cannot read catalog directory: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
      continue;
    }
    for (const name of entries.sort()) {
      const file = path.join(dir, name, 'app.yaml');
      if (!(await isFile(file))) continue; // shared assets or docs, not an app
      const result = await loadManifestFile(file);
      errors.push(...result.errors);
      if (result.manifest) apps.set(result.manifest.name, result.manifest);
    }
  }
  for (const m of apps.values()) {
    m.dependsOn.forEach((dep, i) => {
      if (!apps.has(dep)) errors.push({ file: m.source, line: 0, col: 0, path: `dependsOn[${i}]`, message: `no app named "${dep}" in the catalog` });
    });
  }
  const cycle = findCycle(apps);
  if (cycle) {
    // Point at the entry of the first app that closes the loop.
    const first = apps.get(cycle[0]!)!;
    const index = first.dependsOn.indexOf(cycle[1]!);
    errors.push({ file: first.source, line: 0, col: 0, path: `dependsOn[${index}]`, message: `dependency cycle: ${cycle.join(' → ')}` });
  }
  return { apps, errors: await withPositions(errors) };
}

/** Fills line/col for cross-manifest errors (found after parsing) by reading the file again. */
async function withPositions(errors: ManifestError[]): Promise<ManifestError[]> {
  return Promise.all(
    errors.map(async (e) => {
      if (e.line > 0 || !e.path || !e.file.endsWith('.yaml')) return e;
      try {
        const text = await readFile(e.file, 'utf8');
        const lines = new LineCounter();
        const doc = parseDocument(text, { lineCounter: lines });
        const segs = e.path.split(/\.|\[(\d+)\]/).filter((s) => s !== undefined && s !== '').map((s) => (/^\d+$/.test(s) ? Number(s) : s));
        return { ...e, ...lines.linePos(locate(doc, segs).offset) };
      } catch {
        return e;
      }
    }),
  );
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}
