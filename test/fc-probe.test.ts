/**
 * `brainpilot fc probe` against the loopback Betaflight emulator over real TCP: identity, armed
 * state, arming-disable flags by name, preflight findings; and a clear error when nothing answers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BetaflightEmulator } from '../firmware-bridge/betaflight/index.js';
import { probeFc, probeLines } from '../src/cli/fc.js';

let emu: BetaflightEmulator | null = null;
afterEach(async () => {
  await emu?.close();
  emu = null;
});

describe('fc probe', () => {
  it('reports identity, armed state, arming flags by name and preflight findings', async () => {
    emu = new BetaflightEmulator({ armingDisableFlags: (1 << 2) | (1 << 9) });
    const port = await emu.start();
    const r = await probeFc(`tcp:127.0.0.1:${port}`);
    expect(r.protocol).toBe('msp'); // a silent TCP FC: auto picks MSP
    if (r.protocol !== 'msp') return;
    expect(r.identity).toMatchObject({ variant: 'BTFL', apiVersion: '1.49', board: 'SITL' });
    expect(r.armed).toBe(false);
    expect(r.armingDisableFlags).toEqual(expect.arrayContaining(['RXLOSS', 'BOOTGRACE']));
    expect(r.preflight.join('\n')).toMatch(/RXLOSS/);
    const text = probeLines(r).join('\n');
    expect(text).toContain('BTFL');
    expect(text).toContain('arming disabled by: ');
    // a receiver + MSP override without msp_override_failsafe: the fly-away hazard is named
    expect(r.failsafe.join('\n')).toMatch(/would not fail safe if brainpilot died/);
    expect(text).toContain('if brainpilot dies:');
  });

  it('says clearly when nothing answers on the link', async () => {
    await expect(probeFc('tcp:127.0.0.1:9', 400)).rejects.toThrow(/no connection on tcp:127.0.0.1:9 within 400 ms/);
  });
});
