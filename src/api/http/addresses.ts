import { isIPv6 } from "node:net";

/** Strip the IPv4-mapped prefix (`::ffff:127.0.0.1` → `127.0.0.1`). */
export function normalizeIp(address: string | undefined): string {
  if (address === undefined) return "unknown";
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}

/** 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopbackAddress(address: string | undefined): boolean {
  const ip = normalizeIp(address);
  return ip === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip);
}

/** `ip:port`, IPv6 as `[addr]:port` (api.md §5.1 clientAddress). */
export function formatAddress(ip: string, port: number | undefined): string {
  const host = isIPv6(ip) ? `[${ip}]` : ip;
  return port === undefined ? host : `${host}:${port}`;
}
