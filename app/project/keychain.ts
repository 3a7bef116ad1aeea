/**
 * Secrets in the OS keychain, for what must never live in a project file: a deploy target's
 * token (app/deploy/targets.ts) and the team store's password (app/store/open.ts).
 */
import { execFileSync } from "node:child_process";

/** Runs a keychain tool and returns its stdout; throws when the tool is absent or finds nothing. */
export type KeychainRun = (command: string, args: string[]) => string;

const runTool: KeychainRun = (command, args) =>
  execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 5000 });

/**
 * A secret of service dagwood in the OS keychain: `secret-tool lookup service dagwood <attribute>
 * <name>` on Linux; on macOS the generic password of service dagwood and account `<name>` (a target)
 * or `<attribute>:<name>` (anything else, e.g. `store:postgres://…`). Null when the tool is absent or has none.
 */
export function keychainSecret(
  attribute: string,
  name: string,
  platform: NodeJS.Platform = process.platform,
  run: KeychainRun = runTool,
): string | null {
  const account = attribute === "target" ? name : `${attribute}:${name}`;
  const call =
    platform === "linux"
      ? (["secret-tool", ["lookup", "service", "dagwood", attribute, name]] as const)
      : platform === "darwin"
        ? (["security", ["find-generic-password", "-s", "dagwood", "-a", account, "-w"]] as const)
        : undefined;
  if (!call) return null;
  try {
    const out = run(call[0], [...call[1]]).replace(/\r?\n$/, "");
    return out === "" ? null : out;
  } catch {
    return null;
  }
}
