/** Reusable online, local learners (brain-mechanisms.md): expansion, readouts, temporal bases, GVFs. */
export { RandomExpansion, RandomExpansionParams, type RandomExpansionOptions, type RandomExpansionConfig } from './random-expansion.js';
export { RlsReadout, RlsParams, type RlsOptions, type RlsConfig } from './rls.js';
export { NlmsReadout, NlmsParams, type NlmsOptions, type NlmsConfig } from './nlms.js';
export { AlphaFilterBank, AlphaFilterBankParams, DelayLine, logSpacedTaus, type AlphaFilterBankOptions, type AlphaFilterBankConfig } from './filters.js';
export { TdGvf, TdGvfParams, timeToEventGamma, discountedToSeconds, type TdGvfOptions, type TdGvfConfig } from './td-gvf.js';
export { parseParams } from './params.js';
export { checkSchema, allFinite, f64ToList } from './state.js';
