import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { networkInterfaces } from 'node:os';

/**
 * Who may talk to the UI server: a browser on this machine that was given the token. Checked on
 * every request, before routing:
 * - Host must name the server itself (127.0.0.1 / localhost / [::1] / the bind address, with its
 *   port): a DNS-rebinding page on evil.example reaches us with Host: evil.example.
 * - Origin, when sent, must be our own origin; Sec-Fetch-Site, when sent, same-origin or none (a
 *   page on another port of 127.0.0.1 is same-site, gets our cookie and sends no Origin on a GET).
 * - The token: from ?token= (then kept in an HttpOnly SameSite=Strict cookie whose Path is the
 *   server's random base path) or that cookie.
 */
/** The cookie's name carries the port: cookies are shared by every port of a host, servers are not. */
export function cookieName(port: number): string {
  return `agentfs_ui_${port}`;
}

/** Responses never run inline code, load nothing from elsewhere and cannot be framed. */
export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

export class Gate {
  readonly token: string;
  private readonly hosts: Set<string>;
  private readonly cookieName: string;

  constructor(token: string, bind: string, port: number) {
    this.token = token;
    this.cookieName = cookieName(port);
    const names = new Set(['127.0.0.1', 'localhost', '[::1]', bind]);
    // listening on every address: other machines name this one by one of its addresses (never
    // by a DNS name, which is what a rebinding page would send)
    if (bind === '0.0.0.0' || bind === '::') {
      for (const a of Object.values(networkInterfaces()).flat()) if (a) names.add(a.address);
    }
    const hosts = [...names].map((h) => (h.includes(':') && !h.startsWith('[') ? `[${h}]` : h).toLowerCase());
    this.hosts = new Set(hosts.map((h) => `${h}:${port}`));
    // a browser leaves out the default port
    if (port === 80) for (const h of hosts) this.hosts.add(h);
  }

  /** host:port names this server (Host header, or the host of an Origin). */
  allowedHost(host: string | undefined): boolean {
    return host !== undefined && this.hosts.has(host.toLowerCase());
  }

  /** Why this request is refused, or undefined when it may go on. */
  refuse(req: IncomingMessage, url: URL): string | undefined {
    // Node keeps the first of several Host headers; a proxy may have read another one
    if ((req.headersDistinct.host?.length ?? 0) > 1) return 'more than one Host';
    if (!this.allowedHost(req.headers.host)) return 'foreign Host';
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== 'null') {
      let host: string;
      try {
        const o = new URL(origin);
        if (o.protocol !== 'http:') return 'foreign Origin';
        host = o.host;
      } catch {
        return 'bad Origin';
      }
      if (!this.allowedHost(host)) return 'foreign Origin';
    } else if (origin === 'null') return 'opaque Origin';
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return `${site} request`;
    const query = url.searchParams.get('token');
    const given = query !== null ? [query] : cookiesOf(req, this.cookieName);
    if (!given.some((g) => sameSecret(g, this.token))) return 'missing or wrong token';
    return undefined;
  }

  /** Set-Cookie value that keeps the token for later requests (no JavaScript can read it). */
  cookie(path: string): string {
    return `${this.cookieName}=${this.token}; HttpOnly; SameSite=Strict; Path=${path}`;
  }
}

/**
 * Every value of the cookie: another page of this host (cookies ignore ports) may set one of the
 * same name with a longer Path, which browsers send first.
 */
function cookiesOf(req: IncomingMessage, name: string): string[] {
  const out: string[] = [];
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) out.push(part.slice(eq + 1).trim());
  }
  return out;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Headers on every response. */
export function baseHeaders(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
}
