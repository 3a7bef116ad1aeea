/**
 * Masked forms of personal values, for scan examples, exports, held-out rows
 * and the app's data preview: enough left to recognise the shape, not the
 * person. `maskValue(v, kind)` masks by the kind the scan found; without a
 * kind, text keeps its first character and its length class, numbers and
 * dates become null.
 *
 *   maskValue("jane@example.com", "email")      // "j***@e***.com"
 *   maskValue("4242424242424242", "card")       // "**** **** **** 4242"
 *
 * (The scan helper owns this file and may refine each kind's form; the
 * signatures stay.)
 */
import type { PiiKind } from "./types";

export function maskValue(value: unknown, kind?: PiiKind): unknown {
  if (value === null || value === undefined) return value;
  if (typeof value !== "string") return kind === undefined && typeof value === "boolean" ? value : null;
  if (kind === "email") {
    const at = value.lastIndexOf("@");
    if (at > 0) {
      const domain = value.slice(at + 1);
      const dot = domain.lastIndexOf(".");
      const tld = dot > 0 ? domain.slice(dot) : "";
      return `${value[0]}***@${domain[0] ?? ""}***${tld}`;
    }
  }
  if (kind === "card") {
    const digits = value.replace(/\D/g, "");
    return `**** **** **** ${digits.slice(-4)}`;
  }
  return value.length <= 1 ? "*" : `${value[0]}***`;
}

/** Rows with the named columns masked (a copy; other columns as they were). */
export function maskRows<R extends Record<string, unknown>>(
  rows: readonly R[],
  columns: ReadonlyMap<string, PiiKind | undefined> | ReadonlySet<string>,
): R[] {
  const kinds =
    columns instanceof Map
      ? columns
      : new Map([...(columns as ReadonlySet<string>)].map((c) => [c, undefined]));
  if (kinds.size === 0) return rows.slice();
  return rows.map((row) => {
    const out: Record<string, unknown> = { ...row };
    for (const [column, kind] of kinds) if (column in out) out[column] = maskValue(out[column], kind);
    return out as R;
  });
}
