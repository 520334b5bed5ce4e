/**
 * The AI Grand Prix link over real UDP sockets on loopback (ephemeral ports): the client transport
 * against a scripted vehicle socket (what arrives in the sink, what goes out on the wire, every
 * malformed input counted), and the simulator side of the wire against a scripted client. The lap
 * flown end to end is in aigp-flight.test.ts.
 */
import { createSocket, type Socket } from 'node:dgram';
import jpeg from 'jpeg-js';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/schema.js';
import { AigpTransport, createAigpTransport } from '../src/transports/aigp/transport.js';
import { armDisarm, common, minimal } from '../src/transports/aigp/mavlink.js';
import { chunkJpeg, VideoReassembler, type ReassembledFrame } from '../src/transports/aigp/video.js';
import { AigpSimWire, parseAigpTarget } from '../sim/serve/aigp.js';
import { SimServer } from '../sim/serve/loop.js';
import { buildSim, RACE_DEFAULTS } from '../src/cli/race.js';
import { FakeVehicle, imuMsg, INTR, MOUNT, RecordingSink, silent, sleep, testJpeg, until } from './aigp-helpers.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function openLink(over: Partial<ConstructorParameters<typeof AigpTransport>[0]> = {}) {
  const t = new AigpTransport({
    mavlinkBind: { host: '127.0.0.1', port: 0 },
    videoBind: { host: '127.0.0.1', port: 0 },
    commandRateHz: 50,
    heartbeatHz: 4,
    systemId: 255,
    componentId: 190,
    maxThrustN: 40,
    maxRateRadS: [10, 10, 5],
    intrinsics: INTR,
    mount: MOUNT,
    log: silent,
    ...over,
  });
  const sink = new RecordingSink();
  await t.open(sink);
  const v = new FakeVehicle(t.ports());
  await v.open();
  cleanup.push(async () => {
    await t.close();
    await v.close();
  });
  return { t, sink, v };
}

describe('aigp transport against a scripted vehicle', () => {
  it('brings IMU (FRD → FLU) and a chunked JPEG frame (rgb8, sim-time stamp, intrinsics) in', async () => {
    const { sink, v } = await openLink();
    v.heartbeat();
    v.msg(imuMsg(1.0, [0.5, 0.25, 9.8], [0.1, 0.2, 0.3]));
    await until(() => sink.imus.length === 1, 2000, 'the IMU sample');
    const s = sink.imus[0]!;
    expect(s.stampS).toBe(1);
    expect(s.accelMS2.map((x) => Math.round(x * 1e4) / 1e4)).toEqual([0.5, 0.25, 9.8]);
    expect(s.gyroRadS.map((x) => Math.round(x * 1e4) / 1e4)).toEqual([0.1, 0.2, 0.3]);
    expect(sink.links).toEqual([true]);

    for (const c of chunkJpeg(77, testJpeg(), 1_020_000_000n, 1400)) v.video(c);
    await until(() => sink.frames.length === 1, 3000, 'the frame');
    const f = sink.frames[0]!;
    expect(f).toMatchObject({ stampS: 1.02, seq: 77, encoding: 'rgb8', width: 640, height: 360, step: 1920, intrinsics: INTR, mount: MOUNT });
    expect(f.arrivalS).toBeGreaterThanOrEqual(1.02);
    // centre of the orange square, and the grey border, survive JPEG
    const px = (x: number, y: number) => Array.from(f.data.subarray((y * 640 + x) * 3, (y * 640 + x) * 3 + 3));
    expect(px(320, 180)[0]).toBeGreaterThan(230);
    expect(px(320, 180)[2]).toBeLessThan(50);
    expect(Math.abs(px(20, 20)[1]! - 90)).toBeLessThan(6);
    expect(sink.rejects).toEqual([]);
  });

  it('sends SET_ATTITUDE_TARGET to the vehicle it heard, no faster than commandRateHz, and HEARTBEAT ≥ 2 Hz', async () => {
    const { t, v } = await openLink({ commandRateHz: 50 });
    const tFirst = performance.now(); // nothing can have been sent before this
    t.send({ kind: 'ctbr', stampS: 0, thrustN: 20, rateRadS: [1, 1, 1] });
    v.heartbeat();
    await until(() => v.of(minimal.Heartbeat).length >= 1, 2000, 'our first heartbeat');
    const t0 = performance.now();
    // 200 commands in a burst over ~1 s: at 50 Hz about 50 go out, the newest at each slot
    for (let i = 0; i < 200; i++) {
      t.send({ kind: 'ctbr', stampS: i * 0.005, thrustN: 20, rateRadS: [1, -0.5, 2] });
      await sleep(5);
    }
    const wallS = (performance.now() - t0) / 1000;
    await sleep(50);
    const sat = v.of(common.SetAttitudeTarget);
    expect(sat.length).toBeGreaterThan(10);
    // n sends at ≥ 20 ms spacing need ≥ (n − 1) · 20 ms: over everything since the first send
    const sinceFirstS = (performance.now() - tFirst) / 1000;
    expect(sat.length).toBeLessThanOrEqual(Math.floor(50 * sinceFirstS) + 1);
    const m = sat.at(-1)!;
    expect(m.typeMask).toBe(128);
    expect(m.thrust).toBe(0.5);
    expect([m.bodyRollRate, m.bodyPitchRate, m.bodyYawRate]).toEqual([1, 0.5, -2]);
    expect([m.targetSystem, m.targetComponent]).toEqual([1, 1]);
    const hb = v.of(minimal.Heartbeat).length;
    expect(hb / wallS).toBeGreaterThanOrEqual(2);
    expect(v.bad).toEqual([]);
    // a non-CTBR or non-finite command is never put on the wire
    const before = v.of(common.SetAttitudeTarget).length;
    t.send({ kind: 'motors', stampS: 0, motors: [0.5, 0.5, 0.5, 0.5] });
    await sleep(30);
    t.send({ kind: 'ctbr', stampS: 0, thrustN: NaN, rateRadS: [0, 0, 0] });
    await sleep(50);
    expect(v.of(common.SetAttitudeTarget).length).toBe(before);
    expect(t.counters().commandsRefused).toBe(2);
  });

  it('disarm: thrust 0, then COMPONENT_ARM_DISARM param1 0 until acknowledged; no command after it', async () => {
    const { t, v } = await openLink();
    v.heartbeat();
    await until(() => t.counters().vehicleHeartbeats === 1, 2000, 'the vehicle heartbeat');
    v.sock.on('message', () => {
      const cmd = v.of(common.CommandLong).at(-1);
      if (cmd && v.of(common.CommandAck).length === 0) {
        const ack = new common.CommandAck();
        ack.command = cmd.command;
        ack.result = common.MavResult.ACCEPTED;
        v.msg(ack);
      }
    });
    const t0 = performance.now();
    await t.disarm('test');
    expect(performance.now() - t0).toBeLessThan(500);
    await sleep(150);
    // the acknowledgement ends the retries (without it they go on for the whole 0.5 s, every 100 ms)
    const cl = v.of(common.CommandLong);
    expect(cl.length).toBeGreaterThanOrEqual(1);
    expect(cl.length).toBeLessThanOrEqual(2);
    expect(cl[0]!.command).toBe(common.MavCmd.COMPONENT_ARM_DISARM);
    expect(cl[0]!._param1).toBe(0);
    const firstCmd = v.got.findIndex((p) => p.message instanceof common.CommandLong);
    const stop = v.got.slice(0, firstCmd).map((p) => p.message).filter((m) => m instanceof common.SetAttitudeTarget).at(-1) as common.SetAttitudeTarget;
    expect(stop.thrust).toBe(0);
    const n = v.of(common.SetAttitudeTarget).length;
    t.send({ kind: 'ctbr', stampS: 9, thrustN: 30, rateRadS: [0, 0, 0] });
    await sleep(60);
    expect(v.of(common.SetAttitudeTarget).length).toBe(n);
  });

  it('answers TIMESYNC requests, measures the round trip, and ends the session on a POWEROFF heartbeat', async () => {
    const { t, v } = await openLink();
    v.heartbeat();
    const req = new common.TimeSync();
    req.tc1 = 0n;
    req.ts1 = 123_456_789n;
    v.msg(req);
    await until(() => v.of(common.TimeSync).some((m) => m.ts1 === 123_456_789n), 2000, 'the TIMESYNC reply');
    expect(v.of(common.TimeSync).find((m) => m.ts1 === 123_456_789n)!.tc1).toBeGreaterThan(0n);
    // our own request goes out once a second; answer it as a simulator would
    await until(() => v.of(common.TimeSync).some((m) => m.tc1 === 0n), 2500, 'our TIMESYNC request');
    const ours = v.of(common.TimeSync).find((m) => m.tc1 === 0n)!;
    const rep = new common.TimeSync();
    rep.tc1 = 5_000_000_000n;
    rep.ts1 = ours.ts1;
    v.msg(rep);
    await until(() => Number.isFinite(t.counters().timesyncRttMs), 2000, 'the round trip');
    expect(t.counters().timesyncRttMs).toBeGreaterThan(0);
    v.heartbeat(false, minimal.MavState.POWEROFF);
    await expect(t.ended).resolves.toMatch(/POWEROFF/);
  });

  it('counts and drops every kind of malformed input, and keeps taking good input after it', async () => {
    const { sink, v } = await openLink();
    v.heartbeat();
    v.msg(imuMsg(2.0));
    await until(() => sink.imus.length === 1, 2000, 'the first IMU sample');

    const good = v.enc.encode(imuMsg(2.001));
    const crc = Buffer.from(good);
    crc[15]! ^= 0x40;
    v.mav(crc); // bad CRC
    v.mav(good.subarray(0, 30)); // truncated
    v.msg(imuMsg(2.002, [NaN, 0, 9.8])); // NaN
    v.msg(imuMsg(1.5)); // older than the newest
    const j = testJpeg();
    const c = chunkJpeg(10, j, 2_000_000_000n, 1400);
    v.video(c[0]!.subarray(0, 100)); // truncated chunk
    v.video(Buffer.concat([c[0]!, Buffer.alloc(8)])); // oversized chunk
    const lie = Buffer.from(c[1]!);
    lie.writeUInt32LE(j.length + 1, 8); // jpeg_size disagrees with chunk 0
    v.video(c[0]!);
    v.video(lie);
    // not a JPEG, stamped far ahead: once it fails it must not stand as the bar later frames have to clear
    for (const x of chunkJpeg(11, new Uint8Array(4000).fill(7), 10n ** 15n, 1400)) v.video(x);
    await sleep(100);
    const small = new Uint8Array(jpeg.encode({ data: new Uint8Array(320 * 180 * 4).fill(200), width: 320, height: 180 }, 80).data);
    for (const x of chunkJpeg(15, small, 2_015_000_000n, 1400)) v.video(x); // decodes, but not the configured 640×360
    const inc = chunkJpeg(12, j, 2_020_000_000n, 1400);
    v.video(inc[0]!); // the rest never comes
    await sleep(400); // > the 250 ms partial-frame limit
    // good input still flows, and a frame older than the last delivered one is refused
    v.msg(imuMsg(2.003));
    for (const x of chunkJpeg(13, j, 2_030_000_000n, 1400)) v.video(x);
    await until(() => sink.frames.length === 1 && sink.imus.length === 2, 3000, 'good input after the garbage');
    for (const x of chunkJpeg(14, j, 2_025_000_000n, 1400)) v.video(x);
    await until(() => sink.rejects.length >= 11, 2000, 'the stale frame reject');

    const byKind = (k: string) => sink.rejects.filter((r) => r.kind === k).map((r) => r.detail);
    expect(byKind('malformed')).toEqual([
      expect.stringMatching(/CRC mismatch on message 105/),
      expect.stringMatching(/truncated MAVLink packet/),
      expect.stringMatching(/payload_size 1400 but 76 bytes follow the header \(truncated\)/),
      expect.stringMatching(/payload_size 1400 but 1408 bytes follow the header \(oversized\)/),
      expect.stringMatching(/video frame 10: chunk 1 says total_chunks \d+, jpeg_size \d+/),
    ]);
    expect(byKind('non-finite')).toEqual([expect.stringMatching(/HIGHRES_IMU at 2\.002000 s: \[NaN/)]);
    expect(byKind('time')).toEqual([expect.stringMatching(/time_usec 1500000 not after the previous 2000000/), expect.stringMatching(/video frame 14: sim_time_ns 2025000000 not after the previous 2030000000/)]);
    expect(byKind('decode')).toEqual([expect.stringMatching(/video frame 11: JPEG does not decode/)]);
    expect(byKind('encoding')).toEqual(['video frame 15: JPEG is 320×180, the camera config says 640×360']);
    expect(byKind('incomplete')).toEqual([expect.stringMatching(/video frame 12: 1\/\d+ chunks/)]);
    expect(sink.imus.map((s) => s.stampS)).toEqual([2, 2.003]);
    expect(sink.frames.map((f) => f.seq)).toEqual([13]);
  });

  it('refuses a bad configuration with the key named', () => {
    const cfg = parseConfig({ transport: { kind: 'aigp', mavlinkBind: '127.0.0.1:0' } });
    expect(() => createAigpTransport({ ...cfg.transport, videoBind: 'localhost' } as never, { log: silent, vehicle: { maxThrustN: 30, maxRateRadS: [1, 1, 1] }, intrinsics: INTR, mount: MOUNT })).toThrow(
      /transport.videoBind: expected "host:port"/,
    );
    expect(() => parseConfig({ transport: { kind: 'aigp', heartbeatHz: 1 } })).toThrow(/transport.heartbeatHz: got 1/);
  });

  it('reports the link down when the vehicle HEARTBEAT stops, and up again when it returns', async () => {
    const { sink, v } = await openLink({ linkTimeoutS: 0.3 });
    v.heartbeat();
    await until(() => sink.links.length === 1, 2000, 'link up');
    await until(() => sink.links.length === 2, 2000, 'link down');
    v.heartbeat();
    await until(() => sink.links.length === 3, 2000, 'link up again');
    expect(sink.links).toEqual([true, false, true]);
  });

  it('a port already taken is a clear error naming the socket and the address', async () => {
    const { t } = await openLink();
    const taken = t.ports().mavlink;
    const t2 = new AigpTransport({ ...t.o, mavlinkBind: { host: '127.0.0.1', port: taken } });
    await expect(t2.open(new RecordingSink())).rejects.toThrow(`aigp: cannot bind the MAVLink socket to 127.0.0.1:${taken}`);
    await t2.close();
  });

  it('sim serve --aigp reads host[:mavlinkPort[:videoPort]] and refuses anything else', () => {
    expect(parseAigpTarget(undefined)).toEqual({ host: '127.0.0.1', mavlinkPort: 14550, videoPort: 5600 });
    expect(parseAigpTarget('10.0.0.2')).toEqual({ host: '10.0.0.2', mavlinkPort: 14550, videoPort: 5600 });
    expect(parseAigpTarget('127.0.0.1:24550:25600')).toEqual({ host: '127.0.0.1', mavlinkPort: 24550, videoPort: 25600 });
    expect(() => parseAigpTarget('127.0.0.1:0')).toThrow(/expected host\[:mavlinkPort\[:videoPort\]\].*got "127.0.0.1:0"/);
    expect(() => parseAigpTarget('udp://x')).toThrow(/--aigp/);
  });
});

describe('sim serve --aigp wire (the simulator side)', () => {
  it('streams HEARTBEAT, HIGHRES_IMU (FLU → FRD) and chunked JPEG frames; takes rates + thrust, disarm and TIMESYNC', async () => {
    const sim = buildSim({ ...RACE_DEFAULTS, track: 'warmup', laps: 1 });
    const client = new FakeVehicle({ mavlink: 0, video: 0 });
    await client.open();
    const video = createSocket('udp4');
    const chunks: Buffer[] = [];
    video.on('message', (m) => chunks.push(m));
    await new Promise<void>((r) => video.bind(0, '127.0.0.1', r));
    const maxThrustN = 4 * sim.opts.vehicle.motorMaxThrustN;
    const wire = new AigpSimWire(sim, { host: '127.0.0.1', mavlinkPort: client.sock.address().port, videoPort: video.address().port, maxThrustN });
    const server = new SimServer(sim, wire, { laps: 1, seed: 1, realtimeFactor: 1 });
    cleanup.push(async () => {
      await wire.stop();
      await client.close();
      await new Promise<void>((r) => video.close(() => r()));
    });
    sim.arm(); // SimServer.run() arms; this test drives the wire without running the loop
    await wire.start(server);
    await until(() => client.of(minimal.Heartbeat).length >= 1, 2000, 'the simulator heartbeat');
    expect(client.of(minimal.Heartbeat)[0]!.baseMode & 128).toBe(128); // armed

    wire.imu({ stampS: 0.25, gyroRadS: [0.1, 0.2, 0.3], accelMS2: [0, 0, 9.81] });
    const f = sim.renderFrame();
    wire.frame({ ...f, stampS: 0.25 });
    await until(() => client.of(common.HighresImu).length >= 1, 2000, 'HIGHRES_IMU');
    const m = client.of(common.HighresImu)[0]!;
    expect(m.timeUsec).toBe(250_000n);
    expect([m.xgyro, m.ygyro, m.zgyro].map((v) => Math.round(v * 1e4) / 1e4)).toEqual([0.1, -0.2, -0.3]);
    expect(Math.round(m.zacc * 100) / 100).toBe(-9.81);
    expect(client.of(common.Attitude)).toHaveLength(1);

    // the frame: reassembles to a 640×360 JPEG stamped with the frame's sim time
    const frames: ReassembledFrame[] = [];
    const r = new VideoReassembler((x) => frames.push(x), (k, d) => {
      throw new Error(`${k}: ${d}`);
    });
    await until(() => {
      for (const c of chunks.splice(0)) r.push(c);
      return frames.length === 1;
    }, 3000, 'the chunked frame');
    expect(frames[0]!.simTimeNs).toBe(250_000_000n);
    const img = jpeg.decode(frames[0]!.jpeg, { useTArray: true });
    expect([img.width, img.height]).toEqual([640, 360]);

    // commands in: rates FRD → FLU, thrust × maxThrustN; an attitude target is refused
    const cmd = new common.SetAttitudeTarget();
    cmd.typeMask = 128 as common.AttitudeTargetTypemask;
    cmd.q = [1, 0, 0, 0];
    cmd.thrust = 0.5;
    cmd.bodyRollRate = 1;
    cmd.bodyPitchRate = 0.5;
    cmd.bodyYawRate = -2;
    cmd.thrustBody = [0, 0, 0];
    client.sock.send(client.enc.encode(cmd), wireAddress(wire), '127.0.0.1');
    await until(() => server.commandsReceived === 1, 2000, 'the command');
    sim.step(); // the flight controller takes it on the next physics step
    expect(sim.fc.commandMode).toBe('rate');
    expect(sim.fc.thrustSetpointN).toBeCloseTo(0.5 * maxThrustN, 6);
    expect([...sim.fc.rateSetpointRadS]).toEqual([1, -0.5, 2]);
    cmd.typeMask = 0 as common.AttitudeTargetTypemask;
    client.sock.send(client.enc.encode(cmd), wireAddress(wire), '127.0.0.1');
    await until(() => wire.counters.commandsRejected === 1, 2000, 'the refusal');
    expect(server.commandsReceived).toBe(1);

    // TIMESYNC: answered with the sim clock; disarm: acknowledged and handed to the server
    const ts = new common.TimeSync();
    ts.tc1 = 0n;
    ts.ts1 = 42n;
    client.sock.send(client.enc.encode(ts), wireAddress(wire), '127.0.0.1');
    client.sock.send(client.enc.encode(armDisarm(false, 1, 1)), wireAddress(wire), '127.0.0.1');
    await until(() => client.of(common.CommandAck).length === 1 && client.of(common.TimeSync).length === 1, 2000, 'the replies');
    expect(client.of(common.TimeSync)[0]!.ts1).toBe(42n);
    expect(client.of(common.CommandAck)[0]!).toMatchObject({ command: common.MavCmd.COMPONENT_ARM_DISARM, result: common.MavResult.ACCEPTED });
    expect(server.clientDisarmed).toBe(true);
    expect(sim.fc.armed).toBe(false);

    // the end of the run: POWEROFF heartbeats
    await wire.stop();
    expect(client.of(minimal.Heartbeat).at(-1)!.systemStatus).toBe(minimal.MavState.POWEROFF);
  });
});

/** The simulator wire's own MAVLink port (it sends from an ephemeral one; clients answer it). */
function wireAddress(w: AigpSimWire): number {
  return (w as unknown as { mav: Socket }).mav.address().port;
}
