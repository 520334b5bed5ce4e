/**
 * An in-memory ROS 2 bus with rclnodejs' API shape (Node, Context, QoS, Parameter...) and DDS's
 * matching rules: a subscription hears a publisher only with the same type, and a reliable reader
 * does not hear a best-effort writer; transient-local writers replay their last message to late
 * readers; delivery is asynchronous (setImmediate, FIFO) and copies the message. Used to test the
 * ROS 2 node and `sim serve --ros2` without ROS 2.
 */
import type { Rcl } from '../../src/transports/ros2/node.js';

export const KEEP_LAST = 1, RELIABLE = 1, BEST_EFFORT = 2, VOLATILE = 2, TRANSIENT_LOCAL = 1;
export class FakeQoS {
  static HistoryPolicy = { RMW_QOS_POLICY_HISTORY_KEEP_LAST: KEEP_LAST };
  static ReliabilityPolicy = { RMW_QOS_POLICY_RELIABILITY_RELIABLE: RELIABLE, RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT: BEST_EFFORT };
  static DurabilityPolicy = { RMW_QOS_POLICY_DURABILITY_VOLATILE: VOLATILE, RMW_QOS_POLICY_DURABILITY_TRANSIENT_LOCAL: TRANSIENT_LOCAL };
  constructor(
    readonly history: number,
    readonly depth: number,
    readonly reliability: number,
    readonly durability: number,
  ) {}
}

interface Endpoint {
  node: string;
  topic: string;
  type: string;
  qos: FakeQoS;
}

export class FakeBus {
  readonly subs: (Endpoint & { cb: (m: unknown) => void })[] = [];
  readonly pubs: Endpoint[] = [];
  readonly published: { topic: string; type: string; msg: unknown }[] = [];
  readonly latched = new Map<string, unknown>();
  mismatches: string[] = [];
  record = (topic: string) => topic !== '/imu/data' && topic !== '/camera/image_raw' && topic !== '/camera/camera_info';

  private matches(p: Endpoint, s: Endpoint): boolean {
    if (p.type !== s.type) {
      this.mismatches.push(`${p.topic}: ${p.type} vs ${s.type}`);
      return false;
    }
    // DDS: a reliable reader does not match a best-effort writer
    return !(s.qos.reliability === RELIABLE && p.qos.reliability === BEST_EFFORT);
  }

  publish(p: Endpoint, msg: unknown): void {
    if (this.record(p.topic)) this.published.push({ topic: p.topic, type: p.type, msg });
    if (p.qos.durability === TRANSIENT_LOCAL) this.latched.set(p.topic, msg);
    for (const s of this.subs) if (s.topic === p.topic && this.matches(p, s)) setImmediate(() => s.cb(structuredClone(msg)));
  }

  subscribe(s: Endpoint & { cb: (m: unknown) => void }): void {
    this.subs.push(s);
    const last = this.latched.get(s.topic);
    if (last !== undefined && s.qos.durability === TRANSIENT_LOCAL) setImmediate(() => s.cb(structuredClone(last)));
  }

  of(topic: string): unknown[] {
    return this.published.filter((p) => p.topic === topic).map((p) => p.msg);
  }
}

export const PT = { PARAMETER_NOT_SET: 0, PARAMETER_BOOL: 1, PARAMETER_INTEGER: 2, PARAMETER_DOUBLE: 3, PARAMETER_STRING: 4, PARAMETER_INTEGER_ARRAY: 7 };

export function fakeRcl(bus: FakeBus, overrides: Record<string, unknown> = {}, missingPackages: string[] = []): Rcl & { nodes: FakeNode[]; shutdowns: () => number } {
  class Parameter {
    constructor(
      readonly name: string,
      readonly type: number,
      public value?: unknown,
    ) {}
  }
  class ParameterDescriptor {
    constructor(
      readonly name: string,
      readonly type: number,
      readonly description = '',
      readonly readOnly = false,
    ) {}
  }
  const nodes: FakeNode[] = [];
  class Node implements FakeNode {
    readonly params = new Map<string, { p: Parameter; d: ParameterDescriptor }>();
    private readonly setCbs: ((ps: Parameter[]) => { successful: boolean; reason: string })[] = [];
    spinning = false;
    destroyed = false;
    constructor(
      private readonly nodeName: string,
      private readonly ns = '',
    ) {
      nodes.push(this);
    }
    name = () => this.nodeName;
    namespace = () => this.ns || '/';
    private check(type: string): void {
      // what rclnodejs does for a package it generated no classes for
      if (missingPackages.includes(type.split('/')[0]!)) throw new Error(`Cannot find module '/x/rclnodejs/generated/${type.split('/')[0]}/${type.replace(/\//g, '__')}.js'\n    at Module._resolveFilename (node:internal)`);
    }
    createSubscription(type: string, topic: string, options: { qos: FakeQoS }, cb: (m: unknown) => void): unknown {
      this.check(type);
      bus.subscribe({ node: this.nodeName, topic, type, qos: options.qos, cb: (m) => !this.destroyed && this.spinning && cb(m) });
      return {};
    }
    createPublisher(type: string, topic: string, options: { qos: FakeQoS }) {
      this.check(type);
      const ep = { node: this.nodeName, topic, type, qos: options.qos };
      bus.pubs.push(ep);
      return { publish: (msg: unknown) => bus.publish(ep, msg) };
    }
    declareParameter(p: Parameter, d: ParameterDescriptor): Parameter {
      const o = overrides[p.name];
      const q = o === undefined ? p : new Parameter(p.name, p.type, o);
      this.params.set(p.name, { p: q, d });
      return q;
    }
    getParameter(name: string) {
      return this.params.get(name)!.p;
    }
    /** As rclnodejs' setParameters: read-only refused, then the callbacks decide. */
    setParameter(p: Parameter): { successful: boolean; reason: string } {
      const have = this.params.get(p.name);
      if (!have) return { successful: false, reason: 'undeclared' };
      if (have.d.readOnly) return { successful: false, reason: 'read-only' };
      for (const cb of this.setCbs) {
        const r = cb([p]);
        if (!r.successful) return r;
      }
      have.p = p;
      return { successful: true, reason: '' };
    }
    addOnSetParametersCallback(cb: (ps: Parameter[]) => { successful: boolean; reason: string }): void {
      this.setCbs.push(cb);
    }
    now = () => ({ nanoseconds: BigInt(Math.round(performance.now() * 1e6)) });
    spin(): void {
      this.spinning = true;
    }
    stop(): void {
      this.spinning = false;
    }
    destroy(): void {
      this.destroyed = true;
    }
  }
  let shutdowns = 0;
  return {
    nodes,
    shutdowns: () => shutdowns,
    init: async () => {},
    shutdown: () => void shutdowns++,
    Context: class {},
    Node: Node as unknown as Rcl['Node'],
    Parameter: Parameter as unknown as Rcl['Parameter'],
    ParameterDescriptor: ParameterDescriptor as unknown as Rcl['ParameterDescriptor'],
    ParameterType: PT,
    QoS: FakeQoS,
  };
}

export interface FakeNode {
  params: Map<string, { p: { name: string; type: number; value?: unknown }; d: { readOnly: boolean } }>;
  setParameter(p: { name: string; type: number; value?: unknown }): { successful: boolean; reason: string };
  spinning: boolean;
  destroyed: boolean;
}

