/** The one MAVLink codec: framing (stream and datagram), CRC, v2 encoding, frame conversions and builders. */
export * from './codec.js';
export * from './messages.js';
