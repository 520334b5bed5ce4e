/**
 * Link URIs: one string names the byte pipe to a flight controller.
 *
 *   serial:/dev/ttyTHS1:921600    serial port; baud after the LAST ':' (optional, default 115200)
 *   serial:/dev/ttyACM0           path only (a path that itself contains ':' must give the baud)
 *   tcp:127.0.0.1:5761            TCP client (Betaflight SITL UART1, ArduCopter SERIAL0 on 5760)
 *   udp:127.0.0.1:14580           UDP: send to host:port, bind 127.0.0.1 on an ephemeral local port
 *   udp:127.0.0.1:14580?local=14540
 *                                 ... bind local port 14540 instead
 *   udp:?local=14540              no remote: listen on 14540 and answer the first peer that talks (PX4 style)
 *   ...?bind=0.0.0.0              UDP only: bind another address (default 127.0.0.1; never 0.0.0.0 unless asked)
 *
 * Hosts may be bracketed IPv6 literals: tcp:[::1]:5761. Pure: no I/O here.
 */

export const DEFAULT_BAUD = 115200;
export const DEFAULT_BIND_HOST = '127.0.0.1';

export interface SerialLinkSpec {
  kind: 'serial';
  path: string;
  baudRate: number;
}

export interface TcpLinkSpec {
  kind: 'tcp';
  host: string;
  port: number;
}

export interface UdpLinkSpec {
  kind: 'udp';
  /** Remote to send to; absent = answer the first peer that sends to us. */
  remote?: { host: string; port: number };
  /** Local bind address (default 127.0.0.1). */
  bindHost: string;
  /** Local bind port; 0 = ephemeral. */
  localPort: number;
}

export type LinkSpec = SerialLinkSpec | TcpLinkSpec | UdpLinkSpec;

function fail(uri: string, what: string): never {
  throw new Error(`invalid link URI "${uri}": ${what}`);
}

function parsePort(uri: string, text: string, label: string, allowZero: boolean): number {
  if (text === '') fail(uri, `missing ${label}`);
  if (!/^\d+$/.test(text)) fail(uri, `${label} "${text}" is not a number`);
  const n = Number(text);
  const min = allowZero ? 0 : 1;
  if (n < min || n > 65535) fail(uri, `${label} ${n} is out of range ${min}..65535`);
  return n;
}

/** Split "host:port" on the last ':'; strips [] around IPv6 literals. */
function parseHostPort(uri: string, text: string): { host: string; port: number } {
  const i = text.lastIndexOf(':');
  if (i < 0) fail(uri, `missing port (expected host:port, got "${text}")`);
  let host = text.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === '') fail(uri, 'missing host');
  return { host, port: parsePort(uri, text.slice(i + 1), 'port', false) };
}

export function parseLinkUri(uri: string): LinkSpec {
  const colon = uri.indexOf(':');
  if (colon < 0) fail(uri, 'missing scheme (expected serial:, tcp: or udp:)');
  const scheme = uri.slice(0, colon).toLowerCase();
  const rest = uri.slice(colon + 1);

  switch (scheme) {
    case 'serial': {
      if (rest === '') fail(uri, 'missing serial device path');
      const i = rest.lastIndexOf(':');
      let path = rest;
      let baudRate = DEFAULT_BAUD;
      if (i >= 0) {
        // The LAST ':' separates the baud, so a path containing ':' needs an explicit baud.
        const tail = rest.slice(i + 1);
        path = rest.slice(0, i);
        if (!/^\d+$/.test(tail) || Number(tail) <= 0 || !Number.isSafeInteger(Number(tail))) {
          fail(
            uri,
            `baud "${tail}" is not a positive integer (the text after the last ':' is the baud; ` +
              `a path containing ':' needs an explicit baud, e.g. serial:${rest}:${DEFAULT_BAUD})`,
          );
        }
        baudRate = Number(tail);
      }
      if (path === '') fail(uri, 'missing serial device path');
      return { kind: 'serial', path, baudRate };
    }
    case 'tcp': {
      if (rest.includes('?')) fail(uri, 'tcp links take no options');
      return { kind: 'tcp', ...parseHostPort(uri, rest) };
    }
    case 'udp': {
      const q = rest.indexOf('?');
      const target = q < 0 ? rest : rest.slice(0, q);
      let localPort: number | undefined;
      let bindHost = DEFAULT_BIND_HOST;
      if (q >= 0) {
        for (const [key, value] of new URLSearchParams(rest.slice(q + 1))) {
          if (key === 'local') localPort = parsePort(uri, value, 'local port', true);
          else if (key === 'bind') {
            if (value === '') fail(uri, 'empty bind address');
            bindHost = value;
          } else fail(uri, `unknown option "${key}" (expected local or bind)`);
        }
      }
      if (target === '') {
        if (localPort === undefined || localPort === 0) {
          fail(uri, 'missing remote host:port (a listen-only UDP link needs ?local=PORT)');
        }
        return { kind: 'udp', bindHost, localPort };
      }
      return { kind: 'udp', remote: parseHostPort(uri, target), bindHost, localPort: localPort ?? 0 };
    }
    default:
      fail(uri, `unknown scheme "${scheme}" (expected serial:, tcp: or udp:)`);
  }
}

/** The canonical URI of a spec (for logs and error messages). */
export function formatLinkSpec(spec: LinkSpec): string {
  const hp = (h: string, p: number) => `${h.includes(':') ? `[${h}]` : h}:${p}`;
  switch (spec.kind) {
    case 'serial':
      return `serial:${spec.path}:${spec.baudRate}`;
    case 'tcp':
      return `tcp:${hp(spec.host, spec.port)}`;
    case 'udp': {
      const opts: string[] = [];
      if (spec.localPort !== 0) opts.push(`local=${spec.localPort}`);
      if (spec.bindHost !== DEFAULT_BIND_HOST) opts.push(`bind=${spec.bindHost}`);
      return `udp:${spec.remote ? hp(spec.remote.host, spec.remote.port) : ''}${opts.length ? `?${opts.join('&')}` : ''}`;
    }
    default: {
      const never: never = spec;
      throw new Error(`unknown link kind ${JSON.stringify(never)}`);
    }
  }
}
