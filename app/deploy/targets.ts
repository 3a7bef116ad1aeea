/**
 * Deploy targets: named in the project's dagwood.json (`targets: { staging:
 * { url, kind } }`), their bearer tokens from the environment
 * (`DAGWOOD_TOKEN_<TARGET>`) or else the OS keychain — never from a file in
 * the project, which is reviewed and committed.
 */
import { execFileSync } from "node:child_process";
import type { ProjectSettings } from "../project/project";

export type TargetKind = "dagwood" | "triton";
export type TokenSource = "env" | "keychain";

export interface Target {
  name: string;
  /** Without a trailing slash. */
  url: string;
  kind: TargetKind;
  token: string | null;
  tokenSource: TokenSource | null;
}

/** What went wrong talking to a target; `code` maps to an Api status (see handlers.ts). */
export class DeployError extends Error {
  override name = "DeployError";
  constructor(
    message: string,
    /**
     * unknown-target: not in dagwood.json; unreachable: no answer; unauthorized: the target refused the
     * token; not-found: the target lacks the model; rejected: the target answered another error;
     * invalid: the request makes no sense for this target; parity: the served answers differ.
     */
    readonly code:
      | "unknown-target"
      | "unreachable"
      | "unauthorized"
      | "not-found"
      | "rejected"
      | "invalid"
      | "parity",
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** `DAGWOOD_TOKEN_<TARGET>`: the name upper-cased, every character other than a letter or digit as `_`. */
export function tokenVariable(target: string): string {
  return `DAGWOOD_TOKEN_${target.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

export interface TokenLookup {
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  /** Runs a keychain tool and returns its stdout; throws when the tool is absent or finds nothing. */
  run?: (command: string, args: string[]) => string;
}

const runTool = (command: string, args: string[]): string =>
  execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 5000 });

/**
 * The keychain entry for a target: `secret-tool store --label=dagwood
 * service dagwood target <name>` on Linux, `security add-generic-password -s
 * dagwood -a <name> -w` on macOS. Null when the tool is absent or has none.
 */
function keychainToken(target: string, platform: NodeJS.Platform, run: TokenLookup["run"]): string | null {
  const call =
    platform === "linux"
      ? (["secret-tool", ["lookup", "service", "dagwood", "target", target]] as const)
      : platform === "darwin"
        ? (["security", ["find-generic-password", "-s", "dagwood", "-a", target, "-w"]] as const)
        : undefined;
  if (!call) return null;
  try {
    const out = (run ?? runTool)(call[0], [...call[1]]).replace(/\r?\n$/, "");
    return out === "" ? null : out;
  } catch {
    return null;
  }
}

export function lookUpToken(
  target: string,
  opts: TokenLookup = {},
): { token: string; source: TokenSource } | null {
  const env = opts.env ?? process.env;
  const fromEnv = env[tokenVariable(target)];
  if (fromEnv) return { token: fromEnv, source: "env" };
  const fromKeychain = keychainToken(target, opts.platform ?? process.platform, opts.run);
  return fromKeychain === null ? null : { token: fromKeychain, source: "keychain" };
}

/** The settings' targets, tokens resolved, sorted by name. */
export function listTargets(settings: Pick<ProjectSettings, "targets">, opts: TokenLookup = {}): Target[] {
  return Object.keys(settings.targets)
    .sort()
    .map((name) => resolveTarget(settings, name, opts));
}

/** A named target with its token; a DeployError naming the known targets when there is none. */
export function resolveTarget(
  settings: Pick<ProjectSettings, "targets">,
  name: string,
  opts: TokenLookup = {},
): Target {
  const entry = Object.hasOwn(settings.targets, name) ? settings.targets[name] : undefined;
  if (!entry) {
    const known = Object.keys(settings.targets).sort();
    throw new DeployError(
      `No deploy target "${name}" in dagwood.json${known.length ? ` (its targets: ${known.join(", ")})` : ""}. Add one: "targets": { "${name}": { "url": "http://127.0.0.1:8000", "kind": "dagwood" } }.`,
      "unknown-target",
    );
  }
  const token = lookUpToken(name, opts);
  return {
    name,
    url: entry.url.replace(/\/+$/, ""),
    kind: entry.kind,
    token: token?.token ?? null,
    tokenSource: token?.source ?? null,
  };
}
