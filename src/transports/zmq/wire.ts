/**
 * The brainpilot ZeroMQ wire format, shared by the client transport (src/transports/zmq/transport.ts)
 * and the simulator server (sim/serve/zmq.ts). Pure: no sockets here, so both sides and the tests use
 * the same bytes. docs/zmq.md is the user-facing specification; keep the two in step.
 *
 * Every message is three frames: [topic, header, payload].
 *   topic   ASCII: hello | imu | frame | tick | command | disarm | end
 *   header  one UTF-8 JSON object (small; field names carry units and frames, FLU body, seconds)
 *   payload raw bytes: the pixels for `frame`, the results JSON (or nothing) for `end`, empty otherwise
 *
 * JSON was chosen over a fixed binary header so a client in any language is a few lines of code; at
 * 1 kHz IMU it costs microseconds. JSON has no NaN: JavaScript writes null for it and Python's
 * json.dumps writes the bare token NaN, so both are reported as 'non-finite', not as parse errors.
 */
import type { RejectKind } from '../../daemon/transport.js';
import type { CameraFrame, CameraIntrinsics, CameraMount, FlightCommand, ImuSample, PixelEncoding } from '../../tracts/io.js';

export const PROTOCOL = 'brainpilot-zmq';
export const PROTOCOL_VERSION = 1;

export const TOPICS = ['hello', 'imu', 'frame', 'tick', 'command', 'disarm', 'end'] as const;
export type Topic = (typeof TOPICS)[number];

export type Clock = 'lockstep' | 'realtime';

export interface HelloHeader {
  protocol: string;
  version: number;
  role: 'client' | 'server';
  /** Server only: how it runs (lockstep: it sends `tick` and waits for one `command` reply). */
  clock?: Clock;
  name?: string;
}

export interface EndInfo {
  reason: string;
  /** Whether the run achieved what it was for (all laps flown); null when the server cannot tell. */
  completed: boolean | null;
}

export type WireMessage =
  | { topic: 'hello'; hello: HelloHeader }
  | { topic: 'imu'; imu: ImuSample }
  | { topic: 'frame'; frame: CameraFrame }
  | { topic: 'tick'; nowS: number }
  /** command = null: "no new command" (the lockstep reply kind "none"). tickS: the tick it answers. */
  | { topic: 'command'; command: FlightCommand | null; tickS: number | null }
  | { topic: 'disarm'; reason: string; ack: boolean }
  | { topic: 'end'; end: EndInfo; results: unknown };

export type Decoded = { ok: true; msg: WireMessage } | { ok: false; kind: RejectKind; detail: string };

/** Defaults for frames whose header carries no intrinsics or mount (from the config's camera block). */
export interface FrameDefaults {
  intrinsics?: Omit<CameraIntrinsics, 'width' | 'height'>;
  mount?: CameraMount;
}

export type Multipart = [Uint8Array, Uint8Array, Uint8Array];

const EMPTY = new Uint8Array(0);
const TOPIC_BYTES: Record<Topic, Buffer> = Object.fromEntries(TOPICS.map((t) => [t, Buffer.from(t, 'ascii')])) as Record<Topic, Buffer>;
const bytesPerPixel = (e: PixelEncoding): number => (e === 'rgb8' ? 3 : 1);
const json = (o: unknown): Buffer => Buffer.from(JSON.stringify(o), 'utf8');

// ---------------------------------------------------------------- encode

export function encodeHello(h: Omit<HelloHeader, 'protocol' | 'version'>): Multipart {
  return [TOPIC_BYTES.hello, json({ protocol: PROTOCOL, version: PROTOCOL_VERSION, ...h }), EMPTY];
}

export function encodeImu(s: ImuSample): Multipart {
  return [TOPIC_BYTES.imu, json({ stampS: s.stampS, gyroRadS: s.gyroRadS, accelMS2: s.accelMS2 }), EMPTY];
}

/**
 * The pixels go out as they are (`step` × `height` bytes). `copy` = true when the caller reuses the
 * buffer (the simulator's frame pool) and the socket may still hold it after send() resolves.
 */
export function encodeFrame(f: CameraFrame, copy = false): Multipart {
  const n = f.step * f.height;
  if (f.data.length < n) throw new Error(`encodeFrame: ${f.data.length} bytes for ${f.height} rows of ${f.step}`);
  const view = f.data.subarray(0, n);
  const k = f.intrinsics;
  const header = {
    stampS: f.stampS,
    arrivalS: f.arrivalS,
    seq: f.seq,
    encoding: f.encoding,
    width: f.width,
    height: f.height,
    step: f.step,
    intrinsics: { fx: k.fx, fy: k.fy, cx: k.cx, cy: k.cy },
    mount: { tiltUpRad: f.mount.tiltUpRad, posFluM: f.mount.posFluM },
  };
  return [TOPIC_BYTES.frame, json(header), copy ? Uint8Array.prototype.slice.call(view) : view];
}

export function encodeTick(nowS: number): Multipart {
  return [TOPIC_BYTES.tick, json({ nowS }), EMPTY];
}

/** A command, or null = "none" (lockstep: step on with the last command). tickS: the tick answered. */
export function encodeCommand(cmd: FlightCommand | null, tickS: number | null = null): Multipart {
  const t = tickS === null ? {} : { tickS };
  let h: Record<string, unknown>;
  if (cmd === null) h = { kind: 'none', ...t };
  else if (cmd.kind === 'ctbr') h = { kind: 'ctbr', stampS: cmd.stampS, thrustN: cmd.thrustN, rateRadS: cmd.rateRadS, ...t };
  else if (cmd.kind === 'motors') h = { kind: 'motors', stampS: cmd.stampS, motors: cmd.motors, ...t };
  else h = { kind: 'rc', stampS: cmd.stampS, channelsUs: cmd.channelsUs, ...t };
  return [TOPIC_BYTES.command, json(h), EMPTY];
}

export function encodeDisarm(reason: string, ack = false): Multipart {
  return [TOPIC_BYTES.disarm, json(ack ? { reason, ack: true } : { reason }), EMPTY];
}

/** results: any JSON the server wants to hand back (the simulator sends its race result). */
export function encodeEnd(end: EndInfo, results?: unknown): Multipart {
  return [TOPIC_BYTES.end, json(end), results === undefined ? EMPTY : json(results)];
}

// ---------------------------------------------------------------- decode

class Bad extends Error {
  constructor(
    readonly kind: RejectKind,
    detail: string,
  ) {
    super(detail);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const NON_FINITE_TOKEN = /(^|[^A-Za-z"])(NaN|-?Infinity)\b/;
const show = (s: string, max = 40): string => JSON.stringify(s.length > max ? s.slice(0, max) + '…' : s);

/** A number field: missing or a string is malformed; null (JSON for NaN) or non-finite is non-finite. */
function num(o: Record<string, unknown>, key: string, where: string): number {
  const v = o[key];
  if (v === null) throw new Bad('non-finite', `${where}.${key} is null (NaN on the sender's side)`);
  if (typeof v !== 'number') throw new Bad('malformed', `${where}.${key} ${v === undefined ? 'is missing' : `is ${typeof v}, expected a number`}`);
  if (!Number.isFinite(v)) throw new Bad('non-finite', `${where}.${key} = ${v}`);
  return v;
}

function optNum(o: Record<string, unknown>, key: string, where: string, dflt: number): number {
  return o[key] === undefined ? dflt : num(o, key, where);
}

function vec(o: Record<string, unknown>, key: string, where: string, len: number): number[] {
  const v = o[key];
  if (!Array.isArray(v) || v.length !== len) throw new Bad('malformed', `${where}.${key} must be an array of ${len} numbers`);
  const out = new Array<number>(len);
  for (let i = 0; i < len; i++) out[i] = num(v as unknown as Record<string, unknown>, String(i), `${where}.${key}`);
  return out;
}

function obj(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Bad('malformed', `${where} must be a JSON object`);
  return v as Record<string, unknown>;
}

function str(o: Record<string, unknown>, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new Bad('malformed', `${where}.${key} ${v === undefined ? 'is missing' : 'must be a string'}`);
  return v;
}

function posInt(o: Record<string, unknown>, key: string, where: string): number {
  const v = num(o, key, where);
  if (!Number.isInteger(v) || v <= 0) throw new Bad('encoding', `${where}.${key} = ${v}, expected a positive integer`);
  return v;
}

function parseHeader(bytes: Uint8Array, topic: string): Record<string, unknown> {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new Bad('malformed', `${topic} header is not UTF-8`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    if (NON_FINITE_TOKEN.test(text)) throw new Bad('non-finite', `${topic} header has NaN/Infinity: ${show(text, 60)}`);
    throw new Bad('malformed', `${topic} header is not JSON (${e instanceof Error ? e.message : String(e)}): ${show(text, 60)}`);
  }
  return obj(v, `${topic} header`);
}

function emptyPayload(p: Uint8Array, topic: string): void {
  if (p.length !== 0) throw new Bad('decode', `${topic} payload must be empty, got ${p.length} bytes`);
}

function decodeCommand(h: Record<string, unknown>): FlightCommand | null {
  const kind = h['kind'];
  const w = 'command';
  switch (kind) {
    case 'none':
      return null;
    case 'ctbr': {
      const thrustN = num(h, 'thrustN', w);
      if (thrustN < 0) throw new Bad('malformed', `command.thrustN = ${thrustN}, must be ≥ 0`);
      return { kind: 'ctbr', stampS: num(h, 'stampS', w), thrustN, rateRadS: vec(h, 'rateRadS', w, 3) as [number, number, number] };
    }
    case 'motors': {
      const m = vec(h, 'motors', w, 4);
      if (m.some((x) => x < 0 || x > 1)) throw new Bad('malformed', `command.motors [${m.join(', ')}] must lie in [0, 1]`);
      return { kind: 'motors', stampS: num(h, 'stampS', w), motors: m as [number, number, number, number] };
    }
    case 'rc': {
      const c = h['channelsUs'];
      if (!Array.isArray(c) || c.length < 4 || c.length > 18) throw new Bad('malformed', 'command.channelsUs must be an array of 4..18 numbers');
      const ch = vec(h, 'channelsUs', w, c.length);
      if (ch.some((x) => x < 800 || x > 2200)) throw new Bad('malformed', `command.channelsUs must lie in [800, 2200] µs`);
      return { kind: 'rc', stampS: num(h, 'stampS', w), channelsUs: ch };
    }
    default:
      throw new Bad('malformed', `command.kind ${JSON.stringify(kind)}; expected "ctbr", "motors", "rc" or "none"`);
  }
}

function decodeFrame(h: Record<string, unknown>, payload: Uint8Array, d: FrameDefaults): CameraFrame {
  const w = 'frame';
  const stampS = num(h, 'stampS', w);
  const arrivalS = optNum(h, 'arrivalS', w, stampS);
  const seq = optNum(h, 'seq', w, 0);
  const encoding = str(h, 'encoding', w);
  if (encoding !== 'mono8' && encoding !== 'rgb8') throw new Bad('encoding', `frame.encoding ${show(encoding)}; takes "mono8" or "rgb8"`);
  const width = posInt(h, 'width', w);
  const height = posInt(h, 'height', w);
  const bpp = bytesPerPixel(encoding);
  const step = optNum(h, 'step', w, width * bpp);
  if (!Number.isInteger(step) || step < width * bpp) throw new Bad('decode', `frame.step ${step} < width ${width} × ${bpp} bytes`);
  if (payload.length !== step * height) throw new Bad('decode', `frame payload has ${payload.length} bytes; step ${step} × height ${height} = ${step * height}`);
  let intr: Omit<CameraIntrinsics, 'width' | 'height'>;
  if (h['intrinsics'] !== undefined) {
    const k = obj(h['intrinsics'], 'frame.intrinsics');
    const wk = 'frame.intrinsics';
    intr = { fx: num(k, 'fx', wk), fy: num(k, 'fy', wk), cx: num(k, 'cx', wk), cy: num(k, 'cy', wk) };
    if (!(intr.fx > 0 && intr.fy > 0)) throw new Bad('malformed', `frame.intrinsics fx ${intr.fx}, fy ${intr.fy} must be > 0`);
  } else if (d.intrinsics) intr = d.intrinsics;
  else throw new Bad('malformed', 'frame.intrinsics is missing and no default camera is configured');
  let mount: CameraMount;
  if (h['mount'] !== undefined) {
    const m = obj(h['mount'], 'frame.mount');
    mount = { tiltUpRad: num(m, 'tiltUpRad', 'frame.mount'), posFluM: vec(m, 'posFluM', 'frame.mount', 3) as [number, number, number] };
  } else if (d.mount) mount = d.mount;
  else throw new Bad('malformed', 'frame.mount is missing and no default camera is configured');
  return {
    stampS,
    arrivalS,
    seq,
    encoding,
    width,
    height,
    step,
    data: payload,
    intrinsics: { width, height, fx: intr.fx, fy: intr.fy, cx: intr.cx, cy: intr.cy },
    mount,
  };
}

/**
 * Decode one multipart message. Never throws: anything wrong comes back as { ok: false, kind,
 * detail } for sink.reject (or the server's counter).
 */
export function decode(parts: readonly Uint8Array[], defaults: FrameDefaults = {}): Decoded {
  try {
    if (parts.length !== 3) throw new Bad('malformed', `expected 3 parts [topic, header, payload], got ${parts.length}`);
    const [tb, hb, payload] = parts as Multipart;
    const topicText = tb.length <= 16 ? Buffer.from(tb.buffer, tb.byteOffset, tb.length).toString('latin1') : '';
    if (!(TOPICS as readonly string[]).includes(topicText)) throw new Bad('malformed', `unknown topic ${tb.length <= 16 ? show(topicText) : `(${tb.length} bytes)`}`);
    const topic = topicText as Topic;
    const h = parseHeader(hb, topic);
    switch (topic) {
      case 'hello': {
        emptyPayload(payload, topic);
        const clock = h['clock'];
        if (clock !== undefined && clock !== 'lockstep' && clock !== 'realtime') throw new Bad('malformed', `hello.clock ${JSON.stringify(clock)}; expected "lockstep" or "realtime"`);
        const role = h['role'];
        if (role !== 'client' && role !== 'server') throw new Bad('malformed', `hello.role ${JSON.stringify(role)}; expected "client" or "server"`);
        const hello: HelloHeader = { protocol: str(h, 'protocol', 'hello'), version: num(h, 'version', 'hello'), role };
        if (clock !== undefined) hello.clock = clock;
        if (typeof h['name'] === 'string') hello.name = h['name'];
        return { ok: true, msg: { topic, hello } };
      }
      case 'imu': {
        emptyPayload(payload, topic);
        const imu: ImuSample = { stampS: num(h, 'stampS', topic), gyroRadS: vec(h, 'gyroRadS', topic, 3) as [number, number, number], accelMS2: vec(h, 'accelMS2', topic, 3) as [number, number, number] };
        return { ok: true, msg: { topic, imu } };
      }
      case 'frame':
        return { ok: true, msg: { topic, frame: decodeFrame(h, payload, defaults) } };
      case 'tick':
        emptyPayload(payload, topic);
        return { ok: true, msg: { topic, nowS: num(h, 'nowS', topic) } };
      case 'command': {
        emptyPayload(payload, topic);
        const tickS = h['tickS'] === undefined ? null : num(h, 'tickS', topic);
        return { ok: true, msg: { topic, command: decodeCommand(h), tickS } };
      }
      case 'disarm':
        emptyPayload(payload, topic);
        return { ok: true, msg: { topic, reason: typeof h['reason'] === 'string' ? h['reason'] : '', ack: h['ack'] === true } };
      case 'end': {
        const c = h['completed'];
        const end: EndInfo = { reason: typeof h['reason'] === 'string' ? h['reason'] : 'ended', completed: typeof c === 'boolean' ? c : null };
        let results: unknown = null;
        if (payload.length > 0) {
          try {
            results = JSON.parse(utf8.decode(payload));
          } catch {
            throw new Bad('decode', `end payload (${payload.length} bytes) is not UTF-8 JSON`);
          }
        }
        return { ok: true, msg: { topic, end, results } };
      }
      default: {
        const never: never = topic;
        throw new Error(`unhandled topic ${String(never)}`);
      }
    }
  } catch (e) {
    if (e instanceof Bad) return { ok: false, kind: e.kind, detail: e.message };
    return { ok: false, kind: 'malformed', detail: `undecodable message: ${e instanceof Error ? e.message : String(e)}` };
  }
}
