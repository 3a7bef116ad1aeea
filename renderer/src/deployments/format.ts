/**
 * The Deployments view's and the Deploy dialog's pure parts: parity figures
 * read from a deployment's audit entry, where a target's token comes from,
 * the versions a model can roll back to, and the chart rows of a model's
 * traffic.
 */
import type { AuditEntry, ServedModelStatus, TargetInfo, VersionTraffic } from "../../../app/api/api";

export interface Parity {
  passed: boolean;
  /** Null when the figure was not finite (JSON carries Infinity as null). */
  maxAbsDiff: number | null;
  rows: number;
  source: string;
  tolerance: number | null;
  labelMismatches: number;
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** The parity check recorded in a deployment's audit details (null when none ran). */
export function parityOf(details: Record<string, unknown> | undefined): Parity | null {
  const p = details?.parity as Record<string, unknown> | null | undefined;
  if (!p || typeof p !== "object") return null;
  return {
    passed: p.passed === true,
    maxAbsDiff: num(p.maxAbsDiff),
    rows: num(p.rows) ?? 0,
    source: typeof p.source === "string" ? p.source : "",
    tolerance: num(p.tolerance),
    labelMismatches: num(p.labelMismatches) ?? 0,
  };
}

/** 3.1e-8, 0, 0.25: small differences in exponent form. */
export function formatDiff(v: number | null): string {
  if (v === null) return "∞";
  if (v === 0) return "0";
  return Math.abs(v) < 1e-3 ? v.toExponential(1) : String(Number(v.toPrecision(3)));
}

/** "parity passed: max |served − registry| 3.0e-8 on 86 held-out rows". */
export function parityText(p: Parity): string {
  const kind = p.source === "heldout" ? " held-out" : p.source === "probe" ? " probe" : "";
  const rows = `${p.rows}${kind} rows`;
  const labels = p.labelMismatches ? `, ${p.labelMismatches} label(s) differ` : "";
  return `parity ${p.passed ? "passed" : "failed"}: max |served − registry| ${formatDiff(p.maxAbsDiff)} on ${rows}${labels}`;
}

/** `DAGWOOD_TOKEN_<TARGET>`, as app/deploy/targets.ts names it (the renderer sees only Api types). */
export function tokenVariable(target: string): string {
  return `DAGWOOD_TOKEN_${target.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/** Where a target's token comes from, or how to give it one. */
export function tokenSourceText(target: Pick<TargetInfo, "name" | "tokenSource" | "builtin">): string {
  if (target.builtin) return "token held by the app (.dagwood/serve-token)";
  if (target.tokenSource === "app") return "token held by the app";
  if (target.tokenSource === "env") return `token from ${tokenVariable(target.name)}`;
  if (target.tokenSource === "keychain") return "token from the OS keychain";
  return `no token: set ${tokenVariable(target.name)} or store one in the OS keychain (service dagwood, target ${target.name})`;
}

/**
 * The versions a model can roll back to on a target (or send a canary or
 * shadow share to): those it served before (deployed or rolled back to)
 * and those still loaded, newest first, without the one serving now.
 */
export function rollbackChoices(model: ServedModelStatus): number[] {
  const served = model.deployments
    .filter((d) => d.action !== "deployment.failed")
    .map((d) => d.version)
    .filter((v): v is number => typeof v === "number");
  const all = new Set([...served, ...model.versions]);
  all.delete(model.serving ?? -1);
  return [...all].sort((a, b) => b - a);
}

export interface TrafficRow {
  version: string;
  requests: number;
  errors: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

/** A model's figures per version, in version order, for the charts. */
export function trafficRows(traffic: VersionTraffic[], model: string): TrafficRow[] {
  return traffic
    .filter((t) => t.model === model)
    .sort((a, b) => Number(a.version) - Number(b.version))
    .map((t) => ({
      version: `v${t.version}`,
      requests: t.requests,
      errors: t.errors,
      p50Ms: t.p50Ms,
      p99Ms: t.p99Ms,
    }));
}

/** "v2 (canary 10 % → v3, shadow v4)": what a model serves and how its traffic is split. */
export function servingText(model: ServedModelStatus): string {
  if (model.serving === null) return "not loaded";
  const parts: string[] = [];
  const { canary, shadow } = model.policy ?? {};
  if (canary && canary.percent > 0) parts.push(`canary ${canary.percent} % → v${canary.version}`);
  if (shadow) parts.push(`shadow v${shadow.version}`);
  return `v${model.serving}${parts.length ? ` (${parts.join(", ")})` : ""}`;
}

/** A deployment entry's figures after its sentence: parity, the version restored, the time taken. */
export function deploymentFacts(entry: AuditEntry): string[] {
  const d = entry.details ?? {};
  const facts: string[] = [];
  const parity = parityOf(d);
  if (parity) facts.push(parityText(parity));
  if (entry.action === "deployment.failed" && "restored" in d) {
    facts.push(d.restored === null ? "model unloaded" : `rolled back to v${String(d.restored)}`);
  }
  if (typeof d.previous === "number") facts.push(`before: v${d.previous}`);
  if (typeof d.ms === "number") facts.push(`${(d.ms / 1000).toFixed(1)} s`);
  return facts;
}

/** How a target is named in the app: the built-in one says so. */
export function targetLabel(target: Pick<TargetInfo, "name" | "builtin">): string {
  return target.builtin ? `${target.name} (built in)` : target.name;
}

/** Text inside single quotes in a POSIX shell: each ' closes the quote, is escaped, and reopens it. */
function shellQuote(text: string): string {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

/**
 * A curl call of V2 infer on a served model with this request body (the
 * inferExample's: one held-out row), ready to paste into a POSIX shell.
 * `tokenVariable`: an environment variable holding the bearer token, for a
 * target that guards infer (`--infer-token`); the built-in server's infer
 * needs none.
 */
export function inferCurl(url: string, model: string, body: unknown, tokenVariable?: string): string {
  return [
    `curl -s -X POST ${url}/v2/models/${encodeURIComponent(model)}/infer \\`,
    "  -H 'content-type: application/json' \\",
    ...(tokenVariable ? [`  -H "authorization: Bearer $${tokenVariable}" \\`] : []),
    `  -d ${shellQuote(JSON.stringify(body))}`,
  ].join("\n");
}
