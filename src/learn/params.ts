/**
 * Parameters as a schema (style.md §5): each learner and region declares its parameters once, as a
 * zod object with defaults, ranges and a description (units in the description). Construction
 * validates the caller's partial options against it and throws one clear error naming the region
 * and every bad field. Derived values are computed once in the constructor, never in the hot loop.
 */
import { z } from 'zod';

export function parseParams<S extends z.ZodType>(schema: S, input: unknown, where: string): z.output<S> {
  const r = schema.safeParse(input ?? {});
  if (!r.success) throw new Error(`${where}: invalid parameters:\n${z.prettifyError(r.error)}`);
  return r.data;
}
