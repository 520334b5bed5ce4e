/** Byte links to a flight controller (serial / TCP / UDP) with reconnect. See link.ts and uri.ts. */
export { parseLinkUri, formatLinkSpec, DEFAULT_BAUD, DEFAULT_BIND_HOST } from './uri.js';
export type { LinkSpec, SerialLinkSpec, TcpLinkSpec, UdpLinkSpec } from './uri.js';
export { openLink, Link, TcpLink, UdpLink, SerialLink } from './link.js';
export type { LinkEvents, LinkOptions, LinkStats } from './link.js';
