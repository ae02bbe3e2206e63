/**
 * The dashboard's terminal: xterm.js on a workspace's exec WebSocket (a PTY on the server).
 * Loaded on demand (terminal.tsx imports it dynamically), so the dashboard's first load does not
 * carry the emulator.
 *
 * - Size: the fit addon sizes the emulator to its box; the size goes in the connect URL and every
 *   change as a `resize` message, so the remote `stty size` follows the page.
 * - Input: keys and pastes (xterm.js wraps them in bracketed-paste marks when the program asked
 *   for that) go out as binary frames. Ctrl+V / Ctrl+Shift+V paste, Ctrl+C copies when text is
 *   selected and is an interrupt otherwise.
 * - Reconnect: a connection that drops without an exit status is retried with backoff (and at
 *   once when the browser comes back online). The session on the server was hung up when its
 *   socket went away, so a reconnect starts a NEW shell, and the terminal says so.
 */
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import { wsUrl } from '../api.js';
import { dropDetachedStyles, installCspSafeStyles } from '../lib/csp-styles.js';
import { execPath, exitCodeOf, reconnectDelay, resizeMessage, type TermSize } from '../lib/exec-protocol.js';

/** What the panel shows about the connection. */
export type TermState =
  | { kind: 'connecting' }
  | { kind: 'open' }
  | { kind: 'reconnecting'; attempt: number }
  | { kind: 'exited'; code: number }
  | { kind: 'lost' };

const NOTE = (text: string): string => `\r\n\x1b[2m[${text}]\x1b[0m\r\n`;

export class TerminalSession {
  private readonly term: Terminal;
  private readonly fit = new FitAddon();
  private readonly observer: ResizeObserver;
  private sock: WebSocket | null = null;
  private attempt = 0;
  private everOpened = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private fitFrame = 0;
  private disposed = false;
  private state: TermState = { kind: 'connecting' };
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly host: HTMLElement,
    private readonly workspaceId: string,
    private readonly onState: (s: TermState) => void,
  ) {
    installCspSafeStyles();
    this.term = new Terminal({
      cursorBlink: true,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: 14,
      scrollback: 5_000,
      theme: { background: '#111418', foreground: '#e6e6e6' },
    });
    this.term.loadAddon(this.fit);
    this.term.attachCustomKeyEventHandler((e) => this.browserKey(e));
    this.term.open(host);
    this.term.onData((data) => this.send(this.encoder.encode(data)));
    // Non-UTF-8 bytes (some mouse reports) arrive as a binary string: one char per byte.
    this.term.onBinary((data) => this.send(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff)));
    this.term.onResize((size) => {
      this.host.dataset.cols = String(size.cols);
      this.host.dataset.rows = String(size.rows);
      if (this.sock?.readyState === WebSocket.OPEN) this.sock.send(resizeMessage(size));
    });
    this.observer = new ResizeObserver(() => this.scheduleFit());
    this.observer.observe(host);
    addEventListener('online', this.onOnline);
    this.fitNow();
    this.connect();
  }

  /** Starts a new shell (after an exit, or when the automatic retries gave up). */
  restart(): void {
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    this.everOpened = false;
    this.term.reset();
    this.connect();
  }

  focus(): void {
    this.term.focus();
  }

  /** Sends Ctrl-C (for the panel's button: touch devices have no Ctrl key). */
  interrupt(): void {
    this.send(new Uint8Array([3]));
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.retryTimer);
    cancelAnimationFrame(this.fitFrame);
    removeEventListener('online', this.onOnline);
    this.observer.disconnect();
    const s = this.sock;
    this.sock = null;
    s?.close(1000);
    this.term.dispose();
    dropDetachedStyles();
  }

  private setState(s: TermState): void {
    this.state = s;
    this.host.dataset.state = s.kind;
    this.onState(s);
  }

  private size(): TermSize {
    return { cols: this.term.cols, rows: this.term.rows };
  }

  private send(bytes: Uint8Array<ArrayBuffer>): void {
    if (this.sock?.readyState === WebSocket.OPEN) this.sock.send(bytes);
    else if (this.state.kind === 'exited' && bytes.length === 1 && bytes[0] === 13) this.restart();
  }

  private scheduleFit(): void {
    cancelAnimationFrame(this.fitFrame);
    this.fitFrame = requestAnimationFrame(() => this.fitNow());
  }

  private fitNow(): void {
    // A hidden or zero-sized box has no size to fit to.
    if (this.disposed || !this.host.clientWidth || !this.host.clientHeight) return;
    this.fit.fit();
    this.host.dataset.cols = String(this.term.cols);
    this.host.dataset.rows = String(this.term.rows);
  }

  private readonly onOnline = (): void => {
    if (this.state.kind === 'reconnecting' || this.state.kind === 'lost') {
      clearTimeout(this.retryTimer);
      this.connect();
    }
  };

  private connect(): void {
    if (this.disposed) return;
    this.setState(this.attempt ? { kind: 'reconnecting', attempt: this.attempt } : { kind: 'connecting' });
    const s = new WebSocket(wsUrl(execPath(this.workspaceId, this.size())));
    s.binaryType = 'arraybuffer';
    this.sock = s;
    let exitCode: number | undefined;
    s.onopen = () => {
      if (this.attempt) this.term.write(NOTE('reconnected: this is a new shell, the previous one was hung up'));
      this.attempt = 0;
      this.everOpened = true;
      this.setState({ kind: 'open' });
      // The size may have changed while connecting.
      s.send(resizeMessage(this.size()));
      this.term.focus();
    };
    s.onmessage = (ev: MessageEvent<ArrayBuffer | string>) => {
      if (typeof ev.data !== 'string') return this.term.write(new Uint8Array(ev.data));
      const code = exitCodeOf(ev.data);
      if (code !== undefined) exitCode = code;
    };
    s.onclose = () => {
      if (this.sock !== s || this.disposed) return;
      this.sock = null;
      if (exitCode !== undefined) {
        this.term.write(NOTE(`exited with code ${exitCode}; press Enter for a new shell`));
        return this.setState({ kind: 'exited', code: exitCode });
      }
      this.retry();
    };
  }

  private retry(): void {
    this.attempt++;
    const delay = reconnectDelay(this.attempt);
    // A first connection that never opened was refused (not running, no access): no retries.
    if (delay === undefined || !this.everOpened) {
      this.term.write(NOTE('connection lost; use Reconnect to start a new shell'));
      return this.setState({ kind: 'lost' });
    }
    if (this.attempt === 1) this.term.write(NOTE('connection lost; reconnecting…'));
    this.setState({ kind: 'reconnecting', attempt: this.attempt });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Keys the browser should handle itself (false = xterm.js ignores the event). */
  private browserKey(e: KeyboardEvent): boolean {
    if (e.type !== 'keydown') return true;
    const key = e.key.toLowerCase();
    if (e.ctrlKey && !e.altKey && !e.metaKey && key === 'v') return false; // paste event → onData
    if (e.ctrlKey && !e.altKey && !e.metaKey && key === 'c' && (e.shiftKey || this.term.hasSelection())) {
      void navigator.clipboard?.writeText(this.term.getSelection()).catch(() => undefined);
      e.preventDefault();
      return false;
    }
    return true;
  }
}
