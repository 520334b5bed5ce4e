#!/usr/bin/env node
/**
 * The brainpilot command line. Subcommands:
 *   race          fly the built-in sim closed loop and report laps
 *   run           the daemon: fly over the transport a config file names
 *   sim serve     the built-in sim as its own process on a wire (ZeroMQ, AI Grand Prix, ROS 2)
 *   sim render    write the camera view at the start pose (or a given pose)
 *   sim tracks    list the shipped tracks
 */
import { writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { CONTROLLERS, RACE_DEFAULTS, flyRace, summaryLines, writeOutputs, type ControllerName } from './race.js';
import { renderStill } from './render.js';
import { ablationMarkdown, defaultConditions, defaultVariants, pickByName, runAblationParallel } from './ablate.js';
import { probeFc, probeLines } from './fc.js';
import { runFromConfig } from './run.js';
import { makeLogger } from '../log.js';
import { serveSim } from './serve.js';
import { listTracks, loadTrack } from '../../sim/track.js';
import { listVehicles } from '../../sim/vehicle.js';
import { CAMERA_PROFILES } from '../../sim/camera.js';

function int(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}], got "${v}"`);
    return n;
  };
}

function num(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}], got "${v}"`);
    return n;
  };
}

const program = new Command();
program.name('brainpilot').description('Fly a racing drone through gates from a camera and an IMU with a brain-like region pipeline.').showHelpAfterError();

program
  .command('race')
  .description('fly the built-in simulator closed loop and report lap times')
  .addOption(new Option('--controller <name>', 'who flies: oracle = PRIVILEGED baseline that reads true state').choices([...CONTROLLERS]).default(RACE_DEFAULTS.controller))
  .option('--track <name|file>', `track name (${'see `brainpilot sim tracks`'}) or YAML path`, RACE_DEFAULTS.track)
  .option('--vehicle <name|file>', 'vehicle parameters', RACE_DEFAULTS.vehicle)
  .option('--laps <n>', 'laps to fly', int('--laps', 1, 100), RACE_DEFAULTS.laps)
  .option('--seed <n>', 'random seed (noise, gate perturbation, drops)', int('--seed', 0, 2 ** 31 - 1), RACE_DEFAULTS.seed)
  .option('--latency-ms <ms>', 'camera latency, exposure → arrival, ms (default: the camera profile\'s, 40 ms for aigp-vq)', num('--latency-ms', 0, 1000))
  .option('--drop-rate <p>', 'camera frame drop probability (default: the camera profile\'s, 0.01 for aigp-vq)', num('--drop-rate', 0, 0.95))
  .option('--command-latency-ms <ms>', 'actuation latency: command → flight controller, ms', num('--command-latency-ms', 0, 1000), 0)
  .option('--mass-scale <x>', 'the real vehicle weighs x × the mass the controller is configured with (payload, wrong config)', num('--mass-scale', 0.5, 2), 1)
  .option('--no-map', 'do not give the controller the prior track map')
  .option('--no-perturb', 'place the real gates exactly where the map says')
  .option('--camera <profile>', `camera profile (${Object.keys(CAMERA_PROFILES).join(', ')})`, RACE_DEFAULTS.camera)
  .option('--blind', 'do not render camera frames (only for controllers that do not need them)')
  .option('--json <file>', 'write the results JSON here')
  .option('--plot <file>', 'write a plot (.svg, with a .png twin; or .png)')
  .option('--record <file>', 'write the full flight record (JSON)')
  .option('--state <file>', 'learned state: loaded if the file exists, saved at the end (pipeline)')
  .action(async (o: Record<string, unknown>) => {
    const opts = {
      ...RACE_DEFAULTS,
      controller: o['controller'] as ControllerName,
      track: String(o['track']),
      vehicle: String(o['vehicle']),
      laps: Number(o['laps']),
      seed: Number(o['seed']),
      latencyMs: o['latencyMs'] as number | undefined,
      dropRate: o['dropRate'] as number | undefined,
      map: o['map'] !== false,
      perturb: o['perturb'] !== false,
      camera: String(o['camera']),
      cameraEnabled: !o['blind'],
      progress: Boolean(process.stderr.isTTY),
      statePath: o['state'] as string | undefined,
      commandLatencyMs: Number(o['commandLatencyMs']),
      massScale: Number(o['massScale']),
    };
    const { result, record } = flyRace(opts);
    for (const l of summaryLines(result)) console.log(l);
    await writeOutputs(result, record, { json: o['json'] as string | undefined, plot: o['plot'] as string | undefined, record: o['record'] as string | undefined });
    process.exitCode = result.completed ? 0 : 1;
  });

program
  .command('ablate')
  .description('fly the full pipeline, each learned region switched off, and the pid baseline under the stress each region exists for')
  .option('--track <name|file>', 'track', RACE_DEFAULTS.track)
  .option('--seeds <n>', 'seeds per cell (1..n)', int('--seeds', 1, 100), 5)
  .option('--laps <n>', 'laps per run', int('--laps', 1, 20), 3)
  .option('--json <file>', 'write the full report as JSON')
  .option('--md <file>', 'write the table as Markdown')
  .option('--jobs <n>', 'races flown side by side (worker threads; the table does not depend on it)', int('--jobs', 1, 64), 1)
  .option('--conditions <names>', `only these conditions, comma-separated (${defaultConditions().map((c) => c.name).join(', ')})`)
  .option('--variants <names>', `only these variants, comma-separated ('-' may stand for '−': "full pipeline,- cortex")`)
  .action(async (o: Record<string, unknown>) => {
    const conditions = o['conditions'] ? pickByName(defaultConditions(), String(o['conditions']), 'condition') : undefined;
    const variants = o['variants'] ? pickByName(defaultVariants(), String(o['variants']), 'variant') : undefined;
    const command = ['npx brainpilot ablate', `--track ${String(o['track'])}`, `--seeds ${Number(o['seeds'])}`, `--laps ${Number(o['laps'])}`]
      .concat(o['conditions'] ? [`--conditions '${String(o['conditions'])}'`] : [], o['variants'] ? [`--variants '${String(o['variants'])}'`] : [])
      .concat(o['json'] ? [`--json ${String(o['json'])}`] : [], o['md'] ? [`--md ${String(o['md'])}`] : [])
      .join(' ');
    const report = await runAblationParallel({
      ...(conditions ? { conditions } : {}),
      ...(variants ? { variants } : {}),
      jobs: Number(o['jobs']),
      track: String(o['track']),
      seeds: Number(o['seeds']),
      laps: Number(o['laps']),
      command,
      onRun: (done, total, label) => process.stderr.write(`[${done}/${total}] ${label}\n`),
    });
    const md = ablationMarkdown(report);
    if (o['json']) writeFileSync(String(o['json']), JSON.stringify(report, null, 2) + '\n');
    if (o['md']) writeFileSync(String(o['md']), md);
    console.log(md);
  });

program
  .command('run')
  .description('run the daemon: fly over the transport the config names (config/*.yaml), until the far side ends or SIGINT/SIGTERM (which disarm first)')
  .requiredOption('--config <file>', 'YAML configuration (see config/default.yaml)')
  .option('--log-level <level>', 'override log.level')
  .action(async (o: Record<string, unknown>) => {
    process.exitCode = await runFromConfig(String(o['config']), o['logLevel'] ? { logLevel: String(o['logLevel']) } : {});
  });

const fc = program.command('fc').description('flight controllers');

fc.command('probe')
  .description('print a flight controller\'s identity, armed state, arming flags by name and preflight findings')
  .requiredOption('--link <uri>', 'serial:/dev/ttyTHS1:115200, tcp:127.0.0.1:5761 (Betaflight SITL), tcp:127.0.0.1:5760 (ArduPilot SITL) or udp:127.0.0.1:14580 (PX4 SITL)')
  .option('--timeout-ms <ms>', 'give up after this long without a connection', int('--timeout-ms', 100, 60_000), 3000)
  .addOption(new Option('--protocol <p>', 'msp, mavlink, or auto (MAVLink on UDP; on TCP/serial MAVLink if a frame arrives unasked within 1.5 s, else MSP)').choices(['auto', 'msp', 'mavlink']).default('auto'))
  .option('--json', 'print the report as JSON')
  .action(async (o: Record<string, unknown>) => {
    const r = await probeFc(String(o['link']), Number(o['timeoutMs']), o['protocol'] as 'auto' | 'msp' | 'mavlink');
    if (o['json']) console.log(JSON.stringify(r, null, 2));
    else for (const l of probeLines(r)) console.log(l);
  });

const sim = program.command('sim').description('the built-in simulator');

sim
  .command('render')
  .description('write the camera view at the start pose (or --pose) as PNG or JPEG')
  .option('--track <name|file>', 'track', RACE_DEFAULTS.track)
  .option('--camera <profile>', 'camera profile', RACE_DEFAULTS.camera)
  .option('--pose <x,y,z,yawDeg>', 'camera body pose (ENU m, yaw deg); default: the start pose, lifted to gate height')
  .option('--seed <n>', 'seed for pixel noise', int('--seed', 0, 2 ** 31 - 1), 1)
  .option('--perturb', 'perturb gates from the map as a race would', false)
  .requiredOption('--out <file>', 'output image (.png or .jpg)')
  .action((o: Record<string, unknown>) => {
    const out = String(o['out']);
    const bytes = renderStill({
      track: String(o['track']),
      camera: String(o['camera']),
      pose: o['pose'] as string | undefined,
      seed: Number(o['seed']),
      perturb: Boolean(o['perturb']),
      format: out.toLowerCase().match(/\.jpe?g$/) ? 'jpeg' : 'png',
    });
    writeFileSync(out, bytes);
    console.log(`wrote ${out}`);
  });

sim
  .command('serve')
  .description('run the built-in simulator as a server on a wire protocol, until the laps are flown or the drone crashes')
  .option('--zmq <endpoint>', 'ZeroMQ: bind here (e.g. tcp://127.0.0.1:5555)')
  .option('--aigp [host]', 'AI Grand Prix VQ wire: MAVLink v2 to <host>:14550 and chunked JPEG to <host>:5600 (default 127.0.0.1; other ports: host:mavlinkPort:videoPort)')
  .option('--ros2', 'a ROS 2 node publishing Image + Imu and taking commands (needs a sourced ROS 2)')
  .option('--msp [port]', 'the sim FC as a Betaflight MSP flight controller on tcp:127.0.0.1:<port> (default 5761)')
  .option('--betaflight-sitl [host]', 'physics for a Betaflight SITL binary: UDP 9001-9004 on <host> (default 127.0.0.1)')
  .option('--track <name|file>', 'track', RACE_DEFAULTS.track)
  .option('--vehicle <name|file>', 'vehicle', RACE_DEFAULTS.vehicle)
  .option('--laps <n>', 'laps', int('--laps', 1, 100), RACE_DEFAULTS.laps)
  .option('--seed <n>', 'seed', int('--seed', 0, 2 ** 31 - 1), RACE_DEFAULTS.seed)
  .option('--latency-ms <ms>', 'camera latency, ms', num('--latency-ms', 0, 1000))
  .option('--drop-rate <p>', 'camera frame drop probability', num('--drop-rate', 0, 0.95))
  .option('--realtime <factor>', 'pace the sim: sim seconds per wall second (0 = lockstep: ZeroMQ; ROS 2 with the node\'s clock: lockstep)', num('--realtime', 0, 100))
  .option('--json <file>', 'write the results JSON here')
  .action(async (o: Record<string, unknown>) => {
    const wires = (['zmq', 'aigp', 'ros2', 'msp', 'betaflightSitl'] as const).filter((w) => o[w] !== undefined && o[w] !== false);
    if (wires.length !== 1) throw new InvalidArgumentError('sim serve: choose exactly one of --zmq <endpoint>, --aigp [host], --ros2, --msp [port], --betaflight-sitl [host]');
    const wire = wires[0]!;
    const log = makeLogger(process.env['BRAINPILOT_LOG'] ?? 'info', Boolean(process.stderr.isTTY));
    const result = await serveSim({
      wire,
      ...(typeof o[wire] === 'string' ? { endpoint: String(o[wire]) } : {}),
      track: String(o['track']),
      vehicle: String(o['vehicle']),
      seed: Number(o['seed']),
      laps: Number(o['laps']),
      ...(o['latencyMs'] !== undefined ? { latencyMs: Number(o['latencyMs']) } : {}),
      ...(o['dropRate'] !== undefined ? { dropRate: Number(o['dropRate']) } : {}),
      realtimeFactor: o['realtime'] !== undefined ? Number(o['realtime']) : wire === 'zmq' ? 0 : 1,
      log,
    });
    for (const l of summaryLines(result)) console.log(l);
    if (o['json']) writeFileSync(String(o['json']), JSON.stringify(result, null, 2) + '\n');
    process.exitCode = result.completed ? 0 : 1;
  });

sim
  .command('tracks')
  .description('list the shipped tracks')
  .action(() => {
    for (const name of listTracks()) {
      const t = loadTrack(name);
      console.log(`${name.padEnd(16)} ${String(t.gates.length).padStart(2)} gates  ${t.description}`);
    }
  });

sim
  .command('vehicles')
  .description('list the shipped vehicles')
  .action(() => {
    for (const name of listVehicles()) console.log(name);
  });

// ROS 2 arguments (remaps, params files) are rcl's, read by the ROS 2 transport: not ours to parse
const rosArgsAt = process.argv.indexOf('--ros-args');
program.parseAsync(rosArgsAt < 0 ? process.argv : process.argv.slice(0, rosArgsAt)).catch((err: unknown) => {
  console.error(`brainpilot: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 2;
});
