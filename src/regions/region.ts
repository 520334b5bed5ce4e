/**
 * What every region is: a typed input tract, a typed output tract, a pure-ish `step()` per tick
 * (all side effects are on the region's own state), and explicit, serialisable learned state with
 * a schema version. Innate regions have no learned state (they return null).
 */
export interface LearnedState {
  /** Bumped whenever the layout of `data` changes; loading a different version is refused. */
  schema: number;
  data: Record<string, unknown>;
}

export interface Region<I, O> {
  readonly name: string;
  /**
   * One tick. dtS is the time since the previous tick, already clamped by the caller. Regions the
   * pipeline steps with a measured dt (colliculus, cortex, cerebellum) also read it from their input
   * tract's `dtS` when the argument is left out: on the hot path a double passed to a call TurboFan
   * does not inline is boxed on the heap (16 B a call), a double field of a reused tract is not.
   */
  step(input: I, dtS: number): O;
  /** Snapshot of what was learned (null for innate regions). */
  saveState(): LearnedState | null;
  /** Restore a snapshot; throws with a clear message on a schema mismatch or malformed data. */
  loadState(s: LearnedState): void;
  /** Forget everything learned (back to tick 0). */
  reset(): void;
}

/** Clamp a tick's dt like PX4 does: guard the learners against zero, negative or huge steps. */
export const clampDt = (dtS: number): number => (Number.isFinite(dtS) ? Math.min(0.05, Math.max(0.000125, dtS)) : 0.004);

/** What an innate region's loadState does: there is nothing learned to load, so any snapshot is refused. */
export function refuseLearnedState(region: string, s: LearnedState | null | undefined): never {
  throw new Error(`${region} is innate and has no learned state (got schema ${String((s as { schema?: unknown } | null | undefined)?.schema)})`);
}
