/**
 * Masked forms of personal values, for scan examples, exports, held-out rows
 * and the app's data preview: enough left to recognise the shape, not the
 * person. `maskValue(v, kind)` masks by the kind the scan found:
 *
 *   email          jane@example.com          → j***@e***.com
 *   card           4242 4242 4242 4242       → **** **** **** 4242
 *   phone          +44 20 7946 0958          → +** ** **** **58   (the last 2 digits)
 *   iban           DE89 3704 0044 0532 0130 00 → DE** **** 3000   (country, last 4)
 *   ipv4           192.168.1.20              → 192.168.*.*
 *   ipv6           2001:db8::1               → 2001:*:*:*:*:*:*:*   (::1 → ::*)
 *   birthdate      1984-03-07 (text or Date) → 1984-**-**
 *   personal_name  Jane                      → J***
 *
 * Without a kind (a tagged column whose kind nobody found) nothing of the
 * value is shown: text becomes `***` ("" stays ""), numbers, bigints, dates
 * and booleans become null. A sensitive column's categories and flags are the
 * secret itself, so a first letter (female → f***) or a boolean (a diagnosis
 * flag) would show it. A value that does not have its kind's shape (an
 * "e-mail" without @) gets the kind-less form, so nothing is ever shown in
 * clear.
 */
import type { PiiKind } from "./types";

/** The first character (a whole code point, so an emoji or CJK character is not cut in half). */
const first = (s: string) => String.fromCodePoint(s.codePointAt(0) ?? 42);

/** Text of no known kind: nothing of it shown (its length neither). */
function maskUnknown(s: string): string {
  return s === "" ? "" : "***";
}

/** A person's name keeps its first character (J***), as initials are commonly shown. */
function maskText(s: string): string {
  const t = s.trim();
  if (t.length === 0) return s === "" ? "" : "*";
  return [...t].length <= 1 ? "*" : `${first(t)}***`;
}

function maskEmail(s: string): string | null {
  const at = s.lastIndexOf("@");
  if (at <= 0 || at === s.length - 1) return null;
  const domain = s.slice(at + 1);
  const dot = domain.lastIndexOf(".");
  const tld = dot > 0 ? domain.slice(dot) : "";
  return `${first(s)}***@${first(domain)}***${tld}`;
}

function maskCard(s: string): string | null {
  const digits = s.replace(/\D/g, "");
  return digits.length >= 12 ? `**** **** **** ${digits.slice(-4)}` : null;
}

/** Every digit but the last 2 starred; separators and a leading + kept, letters starred too. */
function maskPhone(s: string): string | null {
  const digits = s.replace(/\D/g, "").length;
  if (digits < 4) return null;
  let seen = 0;
  return s.trim().replace(/[0-9A-Za-z]/g, (c) => (/\d/.test(c) && ++seen > digits - 2 ? c : "*"));
}

function maskIban(s: string): string | null {
  const compact = s.replace(/\s/g, "").toUpperCase();
  return /^[A-Z]{2}[0-9]{2}[A-Z0-9]{4,}$/.test(compact)
    ? `${compact.slice(0, 2)}** **** ${compact.slice(-4)}`
    : null;
}

function maskIpv4(s: string): string | null {
  const parts = s.trim().split(".");
  return parts.length === 4 ? `${parts[0]}.${parts[1]}.*.*` : null;
}

function maskIpv6(s: string): string | null {
  const t = s.trim();
  if (!t.includes(":")) return null;
  // A leading :: has no first group to keep (::1, ::ffff:192.0.2.1).
  return t.startsWith("::") ? "::*" : `${t.split(":")[0]}:*:*:*:*:*:*:*`;
}

function maskBirthdate(v: unknown): string | null {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : `${v.toISOString().slice(0, 4)}-**-**`;
  if (typeof v !== "string") return null;
  const year = /(?:^|\D)((?:19|20)\d\d)(?:\D|$)/.exec(v)?.[1];
  return year ? `${year}-**-**` : null;
}

const BY_KIND: Record<PiiKind, (s: string) => string | null> = {
  email: maskEmail,
  phone: maskPhone,
  card: maskCard,
  iban: maskIban,
  ipv4: maskIpv4,
  ipv6: maskIpv6,
  birthdate: maskBirthdate,
  personal_name: maskText,
};

export function maskValue(value: unknown, kind?: PiiKind): unknown {
  if (value === null || value === undefined) return value;
  if (kind === "birthdate" && value instanceof Date) return maskBirthdate(value);
  // Cards and phones may be stored as integers (BIGINT): masked as their digits.
  if ((kind === "card" || kind === "phone") && (typeof value === "number" || typeof value === "bigint"))
    return Number.isInteger(value) || typeof value === "bigint"
      ? (BY_KIND[kind](String(value)) ?? null)
      : null;
  if (typeof value !== "string") return null;
  if (kind === undefined) return maskUnknown(value);
  return BY_KIND[kind](value) ?? maskUnknown(value);
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
