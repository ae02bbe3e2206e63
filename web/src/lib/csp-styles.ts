/**
 * Lets a library that styles itself from script (xterm.js) run under the dashboard's CSP
 * (`style-src 'self'`, no 'unsafe-inline'; see src/web/static.ts), without relaxing it.
 *
 * CSP forbids two things xterm.js does: `<style>` elements it fills at run time (theme colours,
 * cell size) and `setAttribute('style', …)` (24-bit colours). It does not forbid the CSSOM, and
 * what a script can do through the CSSOM is exactly what these two would do, so this routes them
 * there: a `<style>` created by script becomes a hidden element whose text is mirrored into a
 * constructed stylesheet adopted by the document, and `setAttribute('style', v)` sets
 * `style.cssText`. Styles in markup (what the CSP is there to stop) stay forbidden.
 */

let installed = false;
const sheets = new Map<HTMLElement, CSSStyleSheet>();
let ownerDoc: Document | null = null;

/**
 * Drops the stylesheets whose stand-in element has left the document: call it after disposing
 * what created them (a terminal), when every stand-in still wanted is connected.
 */
export function dropDetachedStyles(): void {
  if (!ownerDoc) return;
  const gone = new Set<CSSStyleSheet>();
  for (const [el, sheet] of sheets) {
    if (!el.isConnected) {
      sheets.delete(el);
      gone.add(sheet);
    }
  }
  if (gone.size) ownerDoc.adoptedStyleSheets = ownerDoc.adoptedStyleSheets.filter((s) => !gone.has(s));
}

/** Installs the shims once for this document; later calls do nothing. */
export function installCspSafeStyles(doc: Document = document): void {
  if (installed) return;
  installed = true;
  ownerDoc = doc;
  const create = doc.createElement.bind(doc);

  const styleStandIn = (): HTMLElement => {
    const el = create('div');
    el.hidden = true;
    el.dataset.adoptedStyle = '';
    const sheet = new CSSStyleSheet();
    sheets.set(el, sheet);
    doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, sheet];
    // The text is mirrored whether or not the element is in the document yet: xterm.js creates,
    // appends and fills them in one go, and its rules are scoped to its own elements anyway.
    new MutationObserver(() => sheet.replaceSync(el.textContent ?? '')).observe(el, { childList: true, characterData: true, subtree: true });
    return el;
  };

  doc.createElement = function createElement(tagName: string, options?: ElementCreationOptions): HTMLElement {
    if (typeof tagName === 'string' && tagName.toLowerCase() === 'style') return styleStandIn();
    return create(tagName, options);
  } as Document['createElement'];

  const setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (this: Element, name: string, value: string): void {
    if (name.toLowerCase() === 'style' && 'style' in this) {
      (this as HTMLElement).style.cssText = String(value);
      return;
    }
    setAttribute.call(this, name, value);
  };
}
