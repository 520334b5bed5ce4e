/**
 * A UART on loopback: a TCP proxy that passes bytes each way no faster than a serial line at `baud`
 * (8N1: 10 bits per byte), so a Betaflight-over-MSP loop can be measured at the AI Grand Prix drone's
 * 115200 baud without the hardware. Each direction has its own wire (full duplex), as a UART does.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export class UartProxy {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  bytesUp = 0;
  bytesDown = 0;

  constructor(
    private readonly target: { host: string; port: number },
    readonly baud: number,
  ) {}

  get bytesPerS(): number {
    return this.baud / 10;
  }

  async start(): Promise<string> {
    this.server = net.createServer((client) => {
      const up = net.connect(this.target.port, this.target.host);
      // a UART has no Nagle: small writes leave at once
      client.setNoDelay(true);
      up.setNoDelay(true);
      this.sockets.add(client).add(up);
      this.pipe(client, up, (n) => (this.bytesUp += n));
      this.pipe(up, client, (n) => (this.bytesDown += n));
      const close = (): void => {
        client.destroy();
        up.destroy();
      };
      client.on('close', close).on('error', close);
      up.on('close', close).on('error', close);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return `tcp:127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Bytes leave at most bytesPerS, in order; a byte can start only when the previous one has left. */
  private pipe(from: net.Socket, to: net.Socket, count: (n: number) => void): void {
    const queue: Buffer[] = [];
    let queued = 0;
    let wireFreeAtMs = performance.now();
    let timer: NodeJS.Timeout | null = null;
    const pump = (): void => {
      timer = null;
      const now = performance.now();
      if (wireFreeAtMs < now - 2) wireFreeAtMs = now - 2; // an idle line does not bank credit
      let n = Math.floor(((now - wireFreeAtMs) * this.bytesPerS) / 1000);
      if (n > queued) n = queued;
      if (n > 0) {
        const out = Buffer.allocUnsafe(n);
        let k = 0;
        while (k < n) {
          const head = queue[0]!;
          const take = Math.min(head.length, n - k);
          head.copy(out, k, 0, take);
          k += take;
          if (take === head.length) queue.shift();
          else queue[0] = head.subarray(take);
        }
        queued -= n;
        wireFreeAtMs += (n * 1000) / this.bytesPerS;
        count(n);
        if (!to.destroyed) to.write(out);
      }
      if (queued > 0) timer = setTimeout(pump, 1);
    };
    from.on('data', (d: Buffer) => {
      queue.push(d);
      queued += d.length;
      if (!timer) timer = setTimeout(pump, 0);
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
