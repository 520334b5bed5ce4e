/**
 * Vehicle parameter files: YAML under sim/vehicles/<name>.yaml, validated against one zod schema
 * (strict objects, so a misspelt key is an error rather than a silently ignored default).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { packageRoot } from '../src/paths.js';
import type { VehicleParams } from './types.js';

const finite = () => z.number().finite();
const positive = () => finite().positive();
const nonNegative = () => finite().nonnegative();
const vec3Of = (item: z.ZodNumber) => z.tuple([item, item, item]);

/** Schema of a vehicle file; its output type is exactly VehicleParams. */
export const vehicleParamsSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string(),
  massKg: positive(),
  inertiaKgM2: vec3Of(positive()),
  armXM: positive(),
  armYM: positive(),
  motorMaxThrustN: positive(),
  yawTorquePerThrustM: positive(),
  // Below ~1 ms the first-order model is meaningless; above 0.2 s no racer flies.
  motorTauS: finite().min(0.001).max(0.2),
  motorIdle: finite().min(0).max(0.3),
  dragLinear: vec3Of(nonNegative()),
  dragQuadratic: vec3Of(nonNegative()),
  maxRateRadS: vec3Of(positive()),
  radiusM: positive(),
  rateGains: z.strictObject({
    p: vec3Of(nonNegative()),
    i: vec3Of(nonNegative()),
    d: vec3Of(nonNegative()),
  }),
  rcRates: z.strictObject({
    centerDegS: vec3Of(nonNegative()),
    maxDegS: vec3Of(nonNegative()),
    // expo must stay in [0, 1] for the actual-rates curve to be monotonic (invertible).
    expo: vec3Of(finite().min(0).max(1)),
  }),
});

// Compile-time check that the schema and the shared type cannot drift apart.
type SchemaOut = z.infer<typeof vehicleParamsSchema>;
const _sameShape: [SchemaOut extends VehicleParams ? true : false, VehicleParams extends SchemaOut ? true : false] = [
  true,
  true,
];
void _sameShape;

export function vehiclesDir(): string {
  return join(packageRoot(), 'sim', 'vehicles');
}

/** Names of the shipped vehicles (file stems in sim/vehicles), sorted. */
export function listVehicles(): string[] {
  const dir = vehiclesDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

const looksLikePath = (s: string): boolean =>
  s.includes('/') || s.includes('\\') || s.endsWith('.yaml') || s.endsWith('.yml');

/**
 * Load and validate a vehicle by name (sim/vehicles/<name>.yaml) or by file path.
 * Throws an Error naming the file, the field path and the problem.
 */
export function loadVehicle(nameOrPath: string): VehicleParams {
  let file: string;
  if (looksLikePath(nameOrPath)) {
    file = resolve(nameOrPath);
    if (!existsSync(file)) throw new Error(`vehicle file not found: ${file}`);
  } else {
    file = join(vehiclesDir(), `${nameOrPath}.yaml`);
    if (!existsSync(file)) {
      const names = listVehicles();
      throw new Error(
        `unknown vehicle '${nameOrPath}'; available: ${names.length > 0 ? names.join(', ') : '(none)'}`,
      );
    }
  }
  return parseVehicleYaml(readFileSync(file, 'utf8'), file);
}

/** Parse and validate vehicle YAML text; `source` names the file in error messages. */
export function parseVehicleYaml(text: string, source = '<string>'): VehicleParams {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new Error(`${source}: YAML parse error: ${(err as Error).message}`);
  }
  const res = vehicleParamsSchema.safeParse(raw);
  if (!res.success) {
    const lines = res.error.issues.map((iss) => {
      const where = iss.path.length > 0 ? formatPath(iss.path) : '(root)';
      if (iss.code === 'unrecognized_keys') {
        const keys = iss.keys.map((k) => (where === '(root)' ? k : `${where}.${k}`));
        return `${keys.join(', ')}: unknown key`;
      }
      return `${where}: ${iss.message}`;
    });
    throw new Error(`${source}: invalid vehicle:\n  ${lines.join('\n  ')}`);
  }
  return res.data;
}

/** ['rateGains', 'p', 1] → 'rateGains.p[1]'. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : `${out ? '.' : ''}${String(k)}`;
  return out;
}
