import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openLink, parseLinkUri, formatLinkSpec, type Link, type LinkEvents, UdpLink } from '../firmware-bridge/link/index.js';

const FAST = { backoffMinMs: 10, backoffMaxMs: 40 };
const opened: Link[] = [];
const servers: net.Server[] = [];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((l) => l.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

function track<L extends Link>(link: L): L {
  opened.push(link);
  return link;
}

function next<K extends keyof LinkEvents>(link: Link, event: K, timeoutMs = 2000): Promise<LinkEvents[K]> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for '${event}'`)), timeoutMs);
    const emitter = link as unknown as { once(e: K, l: (...args: LinkEvents[K]) => void): void };
    emitter.once(event, (...args) => {
      clearTimeout(t);
      resolve(args);
    });
  });
}

/** Collect 'data' until `want` bytes arrived (TCP chunks are not messages). */
function receive(link: Link, want: number, timeoutMs = 2000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    const t = setTimeout(() => {
      link.off('data', onData);
      reject(new Error(`timed out: got ${n} of ${want} bytes`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      parts.push(chunk);
      n += chunk.length;
      if (n >= want) {
        clearTimeout(t);
        link.off('data', onData);
        resolve(Buffer.concat(parts));
      }
    };
    link.on('data', onData);
  });
}

async function echoServer(): Promise<{ server: net.Server; port: number; sockets: Set<net.Socket>; accepted: () => number }> {
  const sockets = new Set<net.Socket>();
  let count = 0;
  const server = net.createServer((sock) => {
    count++;
    sockets.add(sock);
    sock.on('data', (d) => sock.write(d));
    sock.on('error', () => {});
    sock.on('close', () => sockets.delete(sock));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as net.AddressInfo).port, sockets, accepted: () => count };
}

/** A loopback port with nothing listening on it. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('parseLinkUri', () => {
  it.each([
    ['serial:/dev/ttyTHS1:921600', { kind: 'serial', path: '/dev/ttyTHS1', baudRate: 921600 }],
    ['serial:/dev/ttyACM0', { kind: 'serial', path: '/dev/ttyACM0', baudRate: 115200 }],
    ['serial:/dev/serial/by-path/pci-0000:00:14.0-usb-0:1:1.0:57600',
      { kind: 'serial', path: '/dev/serial/by-path/pci-0000:00:14.0-usb-0:1:1.0', baudRate: 57600 }],
    ['tcp:127.0.0.1:5761', { kind: 'tcp', host: '127.0.0.1', port: 5761 }],
    ['tcp:[::1]:5760', { kind: 'tcp', host: '::1', port: 5760 }],
    ['udp:127.0.0.1:14580', { kind: 'udp', remote: { host: '127.0.0.1', port: 14580 }, bindHost: '127.0.0.1', localPort: 0 }],
    ['udp:127.0.0.1:14580?local=14540',
      { kind: 'udp', remote: { host: '127.0.0.1', port: 14580 }, bindHost: '127.0.0.1', localPort: 14540 }],
    ['udp:?local=14540', { kind: 'udp', bindHost: '127.0.0.1', localPort: 14540 }],
    ['udp:?local=14540&bind=0.0.0.0', { kind: 'udp', bindHost: '0.0.0.0', localPort: 14540 }],
  ])('%s', (uri, spec) => {
    expect(parseLinkUri(uri)).toEqual(spec);
    expect(parseLinkUri(formatLinkSpec(parseLinkUri(uri)))).toEqual(spec); // format round-trips
  });

  it.each([
    ['ws://127.0.0.1:8765', /"ws:\/\/127\.0\.0\.1:8765".*unknown scheme "ws"/],
    ['127.0.0.1:5761', /unknown scheme "127\.0\.0\.1"/],
    ['/dev/ttyUSB0', /missing scheme/],
    ['tcp:127.0.0.1', /"tcp:127\.0\.0\.1".*missing port/],
    ['tcp:127.0.0.1:', /missing port/],
    ['tcp::5761', /missing host/],
    ['tcp:127.0.0.1:70000', /port 70000 is out of range 1\.\.65535/],
    ['tcp:127.0.0.1:0', /port 0 is out of range/],
    ['tcp:127.0.0.1:http', /port "http" is not a number/],
    ['udp:127.0.0.1', /missing port/],
    ['udp:127.0.0.1:14580?local=99999', /local port 99999 is out of range/],
    ['udp:127.0.0.1:14580?lcoal=1', /unknown option "lcoal"/],
    ['udp:', /missing remote host:port/],
    ['serial:', /missing serial device path/],
    ['serial:/dev/ttyUSB0:0', /baud "0" is not a positive integer/],
    ['serial:/dev/ttyUSB0:-9600', /baud "-9600" is not a positive integer/],
    ['serial:/dev/ttyUSB0:115200.5', /baud "115200\.5" is not a positive integer/],
    ['serial:/dev/ttyUSB0:fast', /baud "fast" is not a positive integer/],
    ['serial::115200', /missing serial device path/],
  ])('rejects %s', (uri, message) => {
    expect(() => parseLinkUri(uri)).toThrow(message);
  });
});

describe('TCP link', () => {
  it('round-trips data, reconnects after the peer drops it, drops writes while down', async () => {
    const { port, sockets, accepted } = await echoServer();
    const link = track(openLink(`tcp:127.0.0.1:${port}`, FAST));
    expect(link.connected).toBe(false);
    expect(link.write(Buffer.from('early'))).toBe(false); // not connected yet: dropped, no throw
    expect(link.stats.dropped).toBe(1);

    await next(link, 'open');
    expect(link.connected).toBe(true);
    const echoed = receive(link, 4);
    expect(link.write(Buffer.from('ping'))).toBe(true);
    expect((await echoed).toString()).toBe('ping');

    // The server drops the connection.
    const closed = next(link, 'close');
    for (const s of sockets) s.destroy();
    await closed;
    expect(link.connected).toBe(false);
    expect(link.write(Buffer.from('lost'))).toBe(false);
    expect(link.stats.dropped).toBe(2);

    await next(link, 'open');
    expect(link.stats.reconnects).toBeGreaterThanOrEqual(1);
    expect(accepted()).toBe(2);
    const again = receive(link, 5);
    expect(link.write(Uint8Array.from([1, 2, 3, 4, 5]))).toBe(true);
    expect([...(await again)]).toEqual([1, 2, 3, 4, 5]);
    expect(link.stats.bytesOut).toBe(9);
    expect(link.stats.bytesIn).toBe(9);

    const done = next(link, 'close');
    await link.close();
    await done;
    expect(link.connected).toBe(false);
    expect(link.write(Buffer.from('x'))).toBe(false);
    await sleep(100); // several backoff periods
    expect(accepted()).toBe(2); // close() stopped reconnecting
  });

  it('retries a refused connect with backoff, reports errors, and stops on close()', async () => {
    const port = await deadPort();
    const link = track(openLink(`tcp:127.0.0.1:${port}`, FAST));
    const errors: Error[] = [];
    link.on('error', (e) => errors.push(e));
    await vi.waitFor(() => expect(errors.length).toBeGreaterThanOrEqual(3), { timeout: 2000, interval: 10 });
    expect(errors[0]?.message).toContain(`tcp:127.0.0.1:${port}`);
    expect(errors[0]?.message).toMatch(/ECONNREFUSED/);
    expect(link.stats.errors).toBe(errors.length);
    expect(link.connected).toBe(false);
    await link.close();
    const n = link.stats.errors;
    await sleep(120);
    expect(link.stats.errors).toBe(n);
  });

  it('connects once the peer appears (connect-before-listen) and never throws without an error listener', async () => {
    const port = await deadPort();
    const link = track(openLink(`tcp:127.0.0.1:${port}`, FAST)); // no 'error' listener on purpose
    await vi.waitFor(() => expect(link.stats.errors).toBeGreaterThanOrEqual(1), { timeout: 2000, interval: 10 });
    const server = net.createServer((s) => s.on('data', (d) => s.write(d)));
    servers.push(server);
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    await next(link, 'open');
    expect(link.stats.reconnects).toBe(0); // first successful open is not a reconnect
    const echoed = receive(link, 2);
    link.write(Buffer.from('hi'));
    expect((await echoed).toString()).toBe('hi');
  });
});

describe('UDP link', () => {
  it('two links on loopback round-trip; the listener answers the first peer that talks', async () => {
    const a = track(openLink({ kind: 'udp', bindHost: '127.0.0.1', localPort: 0 }, FAST)) as UdpLink;
    const aAddr = await a.localAddress();
    expect(aAddr.address).toBe('127.0.0.1');
    expect(aAddr.port).toBeGreaterThan(0);
    expect(a.connected).toBe(false); // no remote known yet
    expect(a.write(Buffer.from('nobody'))).toBe(false);
    expect(a.stats.dropped).toBe(1);

    const b = track(openLink(`udp:127.0.0.1:${aAddr.port}`, FAST)) as UdpLink;
    await next(b, 'open');
    const bAddr = await b.localAddress();
    expect(bAddr.address).toBe('127.0.0.1');

    const atA = receive(a, 5);
    const aOpen = next(a, 'open');
    expect(b.write(Buffer.from('hello'))).toBe(true);
    expect((await atA).toString()).toBe('hello');
    await aOpen;
    expect(a.remote).toEqual({ host: '127.0.0.1', port: bAddr.port });

    const atB = receive(b, 5);
    expect(a.write(Buffer.from('world'))).toBe(true);
    expect((await atB).toString()).toBe('world');
    expect(a.stats).toMatchObject({ bytesIn: 5, bytesOut: 5, dropped: 1, errors: 0 });
    expect(b.stats).toMatchObject({ bytesIn: 5, bytesOut: 5, dropped: 0, errors: 0 });
  });
});

describe('serial link', () => {
  it('reports a missing device with path and baud, keeps retrying, and stops on close()', async () => {
    const path = `/dev/brainpilot-no-such-tty-${process.pid}`;
    const link = track(openLink(`serial:${path}:921600`, FAST));
    const errors: Error[] = [];
    link.on('error', (e) => errors.push(e));
    await vi.waitFor(() => expect(errors.length).toBeGreaterThanOrEqual(2), { timeout: 3000, interval: 10 });
    expect(errors[0]?.message).toContain(path);
    expect(errors[0]?.message).toContain('921600');
    expect(link.connected).toBe(false);
    expect(link.write(Buffer.from([0x24]))).toBe(false);
    await link.close();
    const n = link.stats.errors;
    await sleep(120);
    expect(link.stats.errors).toBe(n);
  });
});
