/**
 * An ordered outgoing queue for one ZeroMQ socket. zeromq.js allows one pending send() per socket
 * (a second one while the first waits rejects with EBUSY), and the wire's order matters (the
 * samples of a step go out before its tick), so every send goes through here, one at a time.
 */
export class SendQueue<M> {
  private readonly q: M[] = [];
  private head = 0;
  private running = false;
  private waiters: (() => void)[] = [];
  sent = 0;
  failed = 0;
  lastError = '';

  constructor(private readonly sendFn: (m: M) => Promise<void>) {}

  get length(): number {
    return this.q.length - this.head;
  }

  push(m: M): void {
    this.q.push(m);
    if (!this.running) void this.pump();
  }

  /** Resolves once everything pushed so far has been handed to the socket. */
  flushed(): Promise<void> {
    if (!this.running && this.length === 0) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  /** Forget what has not been sent (the socket is closing). */
  clear(): void {
    this.q.length = 0;
    this.head = 0;
  }

  private async pump(): Promise<void> {
    this.running = true;
    while (this.head < this.q.length) {
      const m = this.q[this.head]!;
      this.head++;
      try {
        await this.sendFn(m);
        this.sent++;
      } catch (e) {
        this.failed++;
        this.lastError = e instanceof Error ? e.message : String(e);
      }
      // compact now and then instead of shift() per message
      if (this.head > 1024 && this.head * 2 > this.q.length) {
        this.q.splice(0, this.head);
        this.head = 0;
      }
    }
    this.q.length = 0;
    this.head = 0;
    this.running = false;
    for (const r of this.waiters.splice(0)) r();
  }
}
