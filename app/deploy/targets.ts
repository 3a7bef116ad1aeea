/**
 * Deploy targets: named in the project's dagwood.json (`targets: { staging:
 * { url, kind } }`), their bearer tokens from the environment
 * (`DAGWOOD_TOKEN_<TARGET>`) or else the OS keychain — never from a file in
 * the project, which is reviewed and committed.
 *
 * In the app there is one more: the built-in `local` target, the app's own
 * in-process `dagwood serve` (embedded.ts), listed when dagwood.json defines
 * no target named `local` (a configured one wins). Its token is the app's
 * (`tokenSource: "app"`).
 */
import { keychainSecret } from "../project/keychain";
import type { ProjectSettings } from "../project/project";

export type TargetKind = "dagwood" | "triton";
/** "app": the built-in target's token, held by the app (embedded.ts). */
export type TokenSource = "env" | "keychain" | "app";

/** The name of the app's built-in target. */
export const BUILTIN_TARGET = "local";

export interface Target {
  name: string;
  /** Without a trailing slash. */
  url: string;
  kind: TargetKind;
  token: string | null;
  tokenSource: TokenSource | null;
  /**
   * Set (and `token` null) when the target's credentials cannot be sent (a token an HTTP header
   * cannot carry, or a user name or password in its URL): why, without their values.
   */
  tokenError?: string;
  /** The app's built-in `local` target (its in-process server). */
  builtin?: true;
  /** Built-in target only: whether its server runs now (`url` is empty when it does not). */
  running?: boolean;
}

/** The app's built-in target as the target functions see it: its server's URL and token when it runs. */
export interface BuiltinTarget {
  url: string | null;
  token: string | null;
}

/** What went wrong talking to a target; `code` maps to an Api status (see handlers.ts). */
export class DeployError extends Error {
  override name = "DeployError";
  constructor(
    message: string,
    /**
     * unknown-target: not in dagwood.json; unreachable: no answer; unauthorized: the target refused the
     * token; not-found: the target lacks the model; rejected: the target answered another error;
     * invalid: the request makes no sense for this target (or its token cannot be sent); parity: the served
     * answers differ; conflict: the target holds that version number with other bytes.
     */
    readonly code:
      | "unknown-target"
      | "unreachable"
      | "unauthorized"
      | "not-found"
      | "rejected"
      | "invalid"
      | "parity"
      | "conflict",
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/**
 * A URL's user name and password (`scheme://user:password@host`), up to the
 * last `@` before the path. A backslash ends the authority too, as WHATWG URL
 * parsing treats it as `/` in http(s) URLs.
 */
const URL_USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)[^/?#\\]*@/i;
const URL_USERINFO_IN_TEXT = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#\\]*@/gi;

/** Whether a URL carries a user name or password. */
export function hasUrlCredentials(url: string): boolean {
  return URL_USERINFO.test(url);
}

/**
 * A target URL as it is printed, recorded and returned: without user name
 * and password, and without a trailing slash.
 */
export function targetUrl(url: string): string {
  return url.replace(URL_USERINFO, "$1").replace(/\/+$/, "");
}

/** Text with the user name and password of every URL in it masked (`http://***@host/...`). */
export function maskUrlCredentials(text: string): string {
  return text.replace(URL_USERINFO_IN_TEXT, "$1***@");
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
  /**
   * The app's built-in `local` target (set by the app only): listed and
   * resolved when dagwood.json defines no `local`.
   */
  builtin?: BuiltinTarget;
}

/** Whether the built-in target applies: the app offers it and dagwood.json has no `local` of its own. */
export function builtinApplies(settings: Pick<ProjectSettings, "targets">, opts: TokenLookup = {}): boolean {
  return opts.builtin !== undefined && !Object.hasOwn(settings.targets, BUILTIN_TARGET);
}

function builtinTarget(builtin: BuiltinTarget): Target {
  return {
    name: BUILTIN_TARGET,
    url: builtin.url === null ? "" : targetUrl(builtin.url),
    kind: "dagwood",
    token: builtin.url ? builtin.token : null,
    tokenSource: builtin.url && builtin.token ? "app" : null,
    builtin: true,
    running: builtin.url !== null,
  };
}

/**
 * The keychain entry for a target: `secret-tool store --label=dagwood
 * service dagwood target <name>` on Linux, `security add-generic-password -s
 * dagwood -a <name> -w` on macOS. Null when the tool is absent or has none.
 */
function keychainToken(target: string, platform: NodeJS.Platform, run: TokenLookup["run"]): string | null {
  return keychainSecret("target", target, platform, run);
}

/**
 * Why a token cannot go in an `Authorization: Bearer` header (null: it can).
 * Never says what the token is: only which kind of character is wrong.
 */
export function tokenProblem(token: string): string | null {
  if (/[\r\n]/.test(token)) return "contains a line break (CR or LF), e.g. a trailing newline";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is checked
  if (/[\x00-\x1f\x7f]/.test(token)) return "contains a control character";
  if (/\s/.test(token)) return "contains a space or other whitespace";
  if (/[^\x21-\x7e]/.test(token)) return "contains a character outside printable ASCII";
  return null;
}

/** Where to put a target's token, as a message says it. */
export function whereTokensGo(target: string): string {
  return `${tokenVariable(target)} or the keychain entry (service dagwood, target ${target})`;
}

/** Where a target's token came from, as a message names it. */
export function tokenOrigin(target: string, source: TokenSource): string {
  if (source === "app") return "the app (the built-in local server's token)";
  return source === "env"
    ? `the environment variable ${tokenVariable(target)}`
    : `the keychain (service dagwood, target ${target})`;
}

/**
 * The token for a target: `DAGWOOD_TOKEN_<TARGET>`, else the keychain. A
 * token an HTTP header cannot carry is a DeployError ("invalid") naming
 * where it came from, never its value.
 */
export function lookUpToken(
  target: string,
  opts: TokenLookup = {},
): { token: string; source: TokenSource } | null {
  const env = opts.env ?? process.env;
  const fromEnv = env[tokenVariable(target)];
  const found: { token: string; source: TokenSource } | null = fromEnv
    ? { token: fromEnv, source: "env" }
    : (() => {
        const fromKeychain = keychainToken(target, opts.platform ?? process.platform, opts.run);
        return fromKeychain === null ? null : { token: fromKeychain, source: "keychain" as const };
      })();
  if (found) {
    const problem = tokenProblem(found.token);
    if (problem) {
      throw new DeployError(
        `The token for target "${target}" from ${tokenOrigin(target, found.source)} ${problem}, which an HTTP header cannot carry. Store it again without that character.`,
        "invalid",
        { target, tokenSource: found.source },
      );
    }
  }
  return found;
}

/**
 * The settings' targets, tokens resolved, sorted by name. A target whose
 * token cannot be sent is listed without it, `tokenError` saying why (one
 * bad token does not hide the other targets). With `opts.builtin` and no
 * `local` in the settings, the built-in `local` target too.
 */
export function listTargets(settings: Pick<ProjectSettings, "targets">, opts: TokenLookup = {}): Target[] {
  const names = Object.keys(settings.targets);
  if (builtinApplies(settings, opts)) names.push(BUILTIN_TARGET);
  return names.sort().map((name) => {
    if (!Object.hasOwn(settings.targets, name)) return builtinTarget(opts.builtin!);
    try {
      return resolveTarget(settings, name, opts);
    } catch (e) {
      if (!(e instanceof DeployError) || e.code !== "invalid") throw e;
      const entry = settings.targets[name]!;
      return {
        name,
        url: targetUrl(entry.url),
        kind: entry.kind,
        token: null,
        tokenSource: (e.details.tokenSource as TokenSource | undefined) ?? null,
        tokenError: e.message,
      };
    }
  });
}

/** A named target with its token; a DeployError naming the known targets when there is none. */
export function resolveTarget(
  settings: Pick<ProjectSettings, "targets">,
  name: string,
  opts: TokenLookup = {},
): Target {
  const entry = Object.hasOwn(settings.targets, name) ? settings.targets[name] : undefined;
  if (!entry && name === BUILTIN_TARGET && opts.builtin) {
    if (!opts.builtin.url) {
      throw new DeployError(
        "The built-in local server is not running: start it from the Deployments view (or deploy to it, which starts it).",
        "unreachable",
      );
    }
    return builtinTarget(opts.builtin);
  }
  if (!entry) {
    const known = Object.keys(settings.targets).sort();
    throw new DeployError(
      `No deploy target "${name}" in dagwood.json${known.length ? ` (its targets: ${known.join(", ")})` : ""}. Add one: "targets": { "${name}": { "url": "http://127.0.0.1:8000", "kind": "dagwood" } }.`,
      "unknown-target",
    );
  }
  if (hasUrlCredentials(entry.url)) {
    throw new DeployError(
      `The URL of target "${name}" in dagwood.json has a user name or password in it (${maskUrlCredentials(entry.url)}). dagwood.json is shared and committed, so credentials do not go there: remove them from the URL and set the target's token in ${whereTokensGo(name)}.`,
      "invalid",
      { target: name, url: targetUrl(entry.url) },
    );
  }
  const token = lookUpToken(name, opts);
  return {
    name,
    url: targetUrl(entry.url),
    kind: entry.kind,
    token: token?.token ?? null,
    tokenSource: token?.source ?? null,
  };
}
