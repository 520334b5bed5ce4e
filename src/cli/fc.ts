/**
 * `brainpilot fc probe --link <uri>`: connect to a flight controller and say who it is, whether it
 * is armed, what stops it from arming (by name) and what the preflight check finds. Betaflight over
 * MSP today; MAVLink (PX4, ArduPilot) joins when those bridges land.
 */
import { openLink, type Link } from '../../firmware-bridge/link/index.js';
import { BetaflightBridge } from '../../firmware-bridge/betaflight/index.js';

export interface ProbeReport {
  link: string;
  protocol: 'msp';
  identity: { apiVersion: string; variant: string; version: string; board: string };
  armed: boolean;
  armingDisableFlags: string[];
  preflight: string[];
  /** Would the FC fail safe on its own if brainpilot died? [] = yes (see BetaflightBridge.fcFailsafeProblems). */
  failsafe: string[];
}

function waitOpen(link: Link, timeoutMs: number, uri: string): Promise<void> {
  if (link.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      link.off('open', onOpen);
      reject(new Error(`no connection on ${uri} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onOpen = (): void => {
      clearTimeout(t);
      resolve();
    };
    link.once('open', onOpen);
  });
}

export async function probeFc(uri: string, timeoutMs = 3000): Promise<ProbeReport> {
  const link = openLink(uri);
  link.on('error', () => {}); // counted in link.stats; the probe reports its own timeout
  const bridge = new BetaflightBridge(link, { requestTimeoutMs: 300, retries: 2 });
  try {
    await waitOpen(link, timeoutMs, uri);
    const identity = await bridge.identify();
    const status = await bridge.status();
    const preflight = await bridge.preflight();
    const failsafe = await bridge
      .fcFailsafeProblems({ mspOverrideFailsafe: false })
      .catch((e: unknown) => [`could not read the receiver / failsafe configuration: ${e instanceof Error ? e.message : String(e)}`]);
    return { link: uri, protocol: 'msp', identity, armed: status.armed, armingDisableFlags: status.armingDisableFlags, preflight, failsafe };
  } finally {
    await link.close();
  }
}

export function probeLines(r: ProbeReport): string[] {
  const id = r.identity;
  return [
    `${r.link} · MSP · ${id.variant} ${id.version} (API ${id.apiVersion}) on ${id.board}`,
    `  armed: ${r.armed ? 'yes' : 'no'}`,
    `  arming disabled by: ${r.armingDisableFlags.length ? r.armingDisableFlags.join(', ') : 'nothing (ready to arm)'}`,
    ...(r.preflight.length ? ['  preflight:', ...r.preflight.map((p) => `    - ${p}`)] : ['  preflight: ok']),
    ...(r.failsafe.length ? ['  if brainpilot dies:', ...r.failsafe.map((p) => `    - ${p}`)] : ['  if brainpilot dies: the FC fails safe on its own (MSP is its receiver)']),
  ];
}
