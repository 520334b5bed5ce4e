/**
 * Structural rules that keep the core honest: the controller core never imports the simulator,
 * the firmware bridges or any transport. Only the CLI glue may wire them together.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

const importsOf = (file: string): string[] =>
  [...readFileSync(file, 'utf8').matchAll(/(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => (m[1] ?? m[2])!);

describe('architecture', () => {
  const core = tsFiles(join(root, 'src')).filter((f) => !relative(root, f).startsWith(join('src', 'cli')));

  it('has core files to check', () => {
    expect(core.length).toBeGreaterThan(3);
  });

  it('no file under src/ except src/cli/ imports the simulator or the firmware bridges', () => {
    const offenders: string[] = [];
    for (const f of core) {
      for (const spec of importsOf(f)) {
        if (/(^|\/)(sim|firmware-bridge)\//.test(spec)) offenders.push(`${relative(root, f)} imports ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('the core (pipeline, regions, daemon) imports no transport, socket or native link library', () => {
    // transports are adapters at the edge: only src/transports/ and src/cli/ may reach for them
    const inner = core.filter((f) => !relative(root, f).startsWith(join('src', 'transports')));
    const banned = /^(zeromq|rclnodejs|node-mavlink|mavlink-mappings|serialport|@serialport\/.*|node:dgram|node:net|dgram|net)$|(^|\/)transports\//;
    const offenders: string[] = [];
    for (const f of inner) for (const spec of importsOf(f)) if (banned.test(spec)) offenders.push(`${relative(root, f)} imports ${spec}`);
    expect(offenders).toEqual([]);
  });

  it('the rule detects a violation (self-check on a synthetic source)', () => {
    const fake = "import { Sim } from '../../sim/world.js';";
    expect([...fake.matchAll(/from\s*['"]([^'"]+)['"]/g)].map((m) => m[1]).some((s) => /(^|\/)(sim|firmware-bridge)\//.test(s!))).toBe(true);
  });
});
