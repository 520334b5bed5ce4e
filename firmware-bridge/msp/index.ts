/** MSP (MultiWii Serial Protocol, Betaflight dialect): ids, framing, typed payloads, stream stages. */
export * from './codes.js';
export * from './codec.js';
export * from './messages.js';
