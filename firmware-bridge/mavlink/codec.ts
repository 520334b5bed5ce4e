/** The bridges' MAVLink framing is the shared codec in src/transports/mavlink (one codec for every link). */
export * from '../../src/transports/mavlink/codec.js';
