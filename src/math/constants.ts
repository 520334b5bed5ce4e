/** Standard gravity used everywhere in brainpilot (sim and core agree on it), m/s². */
export const GRAVITY_MS2 = 9.81;
