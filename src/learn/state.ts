/**
 * Helpers for serialisable learned state: typed arrays go out as plain number arrays (JSON-safe) and
 * come back validated (type, length, finiteness), so a corrupt or mismatched snapshot fails loudly at
 * load time instead of poisoning the hot loop later.
 */
import type { LearnedState } from '../regions/region.js';

export const f64ToList = (a: Float64Array): number[] => Array.from(a);

export function checkSchema(s: LearnedState, expected: number, where: string): void {
  if (s === null || typeof s !== 'object' || typeof s.schema !== 'number') {
    throw new Error(`${where}: learned state is malformed (no numeric schema field)`);
  }
  if (s.schema !== expected) {
    throw new Error(`${where}: learned-state schema mismatch: snapshot has schema ${s.schema}, this build expects ${expected}; refusing to load`);
  }
  if (s.data === null || typeof s.data !== 'object') throw new Error(`${where}: learned state has no data object`);
}

export function readObject(data: Record<string, unknown>, key: string, where: string): Record<string, unknown> {
  const v = data[key];
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${where}: field '${key}' missing or not an object`);
  return v as Record<string, unknown>;
}

export function readNumber(data: Record<string, unknown>, key: string, where: string): number {
  const v = data[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}: field '${key}' missing or not a finite number`);
  return v;
}

export function readBool(data: Record<string, unknown>, key: string, where: string): boolean {
  const v = data[key];
  if (typeof v !== 'boolean') throw new Error(`${where}: field '${key}' missing or not a boolean`);
  return v;
}

/** Copy a saved array into `into` after checking it has exactly into.length finite numbers. */
export function readF64Into(data: Record<string, unknown>, key: string, into: Float64Array, where: string): void {
  const v = data[key];
  if (!Array.isArray(v) && !(v instanceof Float64Array)) throw new Error(`${where}: field '${key}' missing or not a numeric array`);
  if (v.length !== into.length) throw new Error(`${where}: field '${key}' has length ${v.length}, expected ${into.length} (different sizes/parameters?)`);
  for (let i = 0; i < v.length; i++) {
    const x: unknown = v[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new Error(`${where}: field '${key}'[${i}] is not a finite number`);
    into[i] = x;
  }
}

/** True when every element of a is a finite number. */
export function allFinite(a: ArrayLike<number>, n = a.length): boolean {
  for (let i = 0; i < n; i++) if (!Number.isFinite(a[i]!)) return false;
  return true;
}

/** out = W·φ for a row-major outputs × inputs weight matrix (the linear readout RLS and NLMS share). */
export function linearPredict(w: Float64Array, inputs: number, outputs: number, phi: ArrayLike<number>, out: Float64Array): Float64Array {
  for (let j = 0; j < outputs; j++) {
    let s = 0;
    const b = j * inputs;
    for (let i = 0; i < inputs; i++) s += w[b + i]! * phi[i]!;
    out[j] = s;
  }
  return out;
}
