/**
 * The addresses TCP sockets listen on for a port, read from the kernel (/proc/net/tcp, tcp6): a
 * check of "bound to 127.0.0.1 only" that does not depend on the machine having another address
 * to try a connection on, and sees a 0.0.0.0 or [::] bind even when nothing could reach it.
 */
import { readFileSync } from 'node:fs';

const LISTEN = '0A';

/** `0100007F` (a little-endian 32-bit word per 4 bytes) → `127.0.0.1`; 128-bit → `::`-style hex. */
function decodeAddress(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => [w.slice(6, 8), w.slice(4, 6), w.slice(2, 4), w.slice(0, 2)].map((b) => parseInt(b, 16)));
  if (bytes.length === 4) return bytes.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  const v6 = groups.join(':');
  // IPv4-mapped (::ffff:a.b.c.d) reads as its IPv4 address.
  if (/^0:0:0:0:0:ffff:/.test(v6)) return bytes.slice(12).join('.');
  return v6 === '0:0:0:0:0:0:0:1' ? '::1' : v6 === '0:0:0:0:0:0:0:0' ? '::' : v6;
}

/** Every local address a socket is LISTENing on `port` with, in this network namespace. */
export function listeningAddresses(port: number): string[] {
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // no IPv6 in this kernel
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4 || cols[3] !== LISTEN) continue;
      const [addr, portHex] = cols[1]!.split(':');
      if (parseInt(portHex!, 16) === port) out.push(decodeAddress(addr!));
    }
  }
  return out;
}

/** True for 127.0.0.0/8 and ::1. */
export const isLoopback = (address: string): boolean => address === '::1' || /^127\./.test(address);
