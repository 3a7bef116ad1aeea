/**
 * A run's owner as tables show it (the app's runs table, `dagwood runs list`): `user@machine`,
 * the machine cut to its first DNS label (ws-1.lab.example → ws-1) so the column stays narrow;
 * the full names are in the record (`--json`, the app's tooltip).
 */

/** A dotted IPv4 address, or anything with a colon (IPv6): shown whole, as its parts mean nothing apart. */
const IP_ADDRESS = /^(\d{1,3}\.){3}\d{1,3}$|:/;

/** The machine's short name: its first DNS label, unless it is an IP address. */
export function shortHost(host: string): string {
  if (IP_ADDRESS.test(host)) return host;
  return host.split(".")[0] || host;
}

/** "ana@ws-1", "ana" (machine not recorded), "@ws-1" (user unknown), "—" (neither). */
export function ownerLabel(owner: { user: string | null; host: string | null }): string {
  const { user, host } = owner;
  if (!user && !host) return "—";
  return `${user ?? ""}${host ? `@${shortHost(host)}` : ""}`;
}
