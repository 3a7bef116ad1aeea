/**
 * What personal data a table holds: per column, the kinds found (PII_KINDS)
 * and the share of values that match, with masked examples. Detection runs in
 * DuckDB over a reservoir sample (`USING SAMPLE reservoir(N ROWS) REPEATABLE
 * (seed)`, so the same table and seed give the same answer): one aggregate
 * statement counts every column × kind, a second fetches up to 3 examples of
 * each kind found.
 *
 * Rules (the README's "Finding personal data" says the same):
 * - Text columns (VARCHAR, ENUM, JSON) are matched as text, trimmed; a value
 *   longer than 256 bytes is matched by no kind (none is that long) but counts
 *   in the share's denominator, so a 10 MB value costs one length check.
 *   Integer columns (BIGINT, HUGEINT, …) are matched as their decimal text, for
 *   cards and phones; floating-point columns are not (a card does not survive
 *   a DOUBLE). DATE and TIMESTAMP columns can be birth dates only.
 * - Shares are over the sample's non-null values of the column.
 * - email: local@domain.tld. phone: E.164 (+ and 8–15 digits, separators
 *   allowed), 00-prefixed international with separators, North American
 *   ((555) 123-4567, 555-123-4567, 555.123.4567) and national trunk-prefix
 *   forms (020 7946 0958), not a signed decimal (+10000000.25); digits alone count only in a column whose name says
 *   phone (phone, mobile, tel, cell, msisdn, fax) — otherwise they are ids.
 *   card: 13–19 digits, bare or in groups of 4 (Amex 4-6-5) separated by
 *   spaces or dashes, starting with an issuer's digit 2–6 (so not a
 *   millisecond timestamp), passing the Luhn check (computed in SQL). iban: country
 *   letters, 2 check digits, 11–30 letters or digits (spaces allowed), whose
 *   mod-97 is 1 (ISO 13616; computed digit by digit in SQL). ipv4: four
 *   octets 0–255 without leading zeros. ipv6: full and ::-compressed forms,
 *   with an IPv4 tail too, and with a zone (fe80::1%eth0).
 * - birthdate: only in a column whose name says birth (dob, birth, birthday,
 *   birthdate, born, geburtsdatum, …): the values that are dates (DATE,
 *   TIMESTAMP, or text in Y-m-d, d.m.Y, m/d/Y, d/m/Y, Y/m/d) between
 *   1900-01-01 and today. A date column without such a name is never a birth
 *   date (order dates look the same).
 * - personal_name: by the column's name alone (personalByName below).
 */

import type { SqlSession } from "../data/sql";
import { ident } from "../data/sql";
import { maskValue } from "./mask";
import {
  type ColumnScan,
  DEFAULT_SCAN_SAMPLE,
  type KindFound,
  PII_KINDS,
  type PiiKind,
  type ScanReport,
} from "./types";

/** Text longer than this many bytes is matched by no kind. */
export const SCAN_TEXT_LIMIT = 256;
/** The default seed of the sample. */
export const DEFAULT_SCAN_SEED = 42;
/** Examples fetched per kind found. */
const EXAMPLES = 3;

export class ScanError extends Error {
  override name = "ScanError";
}

/** A column as the scan needs it: name and DuckDB type. */
export interface ScanColumn {
  name: string;
  type: string;
}

export interface ScanOptions {
  /** Rows sampled at most (default DEFAULT_SCAN_SAMPLE). */
  sampleSize?: number;
  seed?: number;
  /** What the report calls the source (default: the table's name). */
  source?: string;
}

/** A column name's words, lower case: `firstName` → first, name; `date_of_birth` → date, of, birth. */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** Words that make a following "name" a person's: first_name, customer_name, user_name (not product_name, file_name). */
const PERSON_QUALIFIERS = new Set([
  "first",
  "given",
  "last",
  "family",
  "middle",
  "maiden",
  "full",
  "legal",
  "birth",
  "nick",
  "user",
  "customer",
  "client",
  "contact",
  "person",
  "personal",
  "patient",
  "employee",
  "member",
  "owner",
  "holder",
  "cardholder",
  "account",
  "sender",
  "recipient",
  "receiver",
  "buyer",
  "payer",
  "payee",
  "student",
  "driver",
  "passenger",
  "guest",
  "applicant",
  "beneficiary",
  "emergency",
  "spouse",
  "parent",
  "mother",
  "father",
]);
/** One-word personal column names (and words that make a name personal wherever they stand). */
const PERSONAL_WORDS = new Set([
  "surname",
  "surnames",
  "firstname",
  "lastname",
  "fullname",
  "forename",
  "forenames",
  "givenname",
  "familyname",
  "middlename",
  "maidenname",
  "username",
  "street",
  "streetname",
  "postcode",
  "postcodes",
  "zipcode",
  "postalcode",
  "ssn",
  "passport",
  "nino",
  "nationalid",
  "taxid",
]);
/** Words before "address" that make it a machine's, not a person's. */
const MACHINE_ADDRESS = new Set([
  "ip",
  "ipv4",
  "ipv6",
  "mac",
  "email",
  "mail",
  "e",
  "web",
  "url",
  "server",
  "host",
  "memory",
  "mem",
  "wallet",
  "contract",
  "network",
  "net",
  "hardware",
  "bluetooth",
]);

/**
 * Whether a column's name says it holds personal data: a person's name
 * (`name` alone, or after a person word: first_name, user_name, customer_name;
 * firstname, surname, username as one word; not product_name, name_of_product,
 * filename, hostname), an address (address, home_address, street, postcode,
 * postal_code, zip, zip_code; not ip_address, email_address), or an
 * identifier (ssn, social_security…, passport…, national_id,
 * national_insurance…, tax_id, tax_number, driver_license).
 */
export function personalByName(column: string): boolean {
  const w = nameWords(column);
  const has = (i: number, word: string | RegExp) =>
    i >= 0 && i < w.length && (typeof word === "string" ? w[i] === word : word.test(w[i]!));
  for (let i = 0; i < w.length; i++) {
    const word = w[i]!;
    if (PERSONAL_WORDS.has(word)) return true;
    if (word === "name" && (w.length === 1 || (i > 0 && PERSON_QUALIFIERS.has(w[i - 1]!)))) return true;
    if ((word === "address" || word === "addr") && !(i > 0 && MACHINE_ADDRESS.has(w[i - 1]!))) return true;
    if (word === "zip" && (i === w.length - 1 || has(i + 1, "code"))) return true;
    if (word === "postal" && has(i + 1, "code")) return true;
    if (word === "post" && has(i + 1, "code")) return true;
    if (word === "social" && has(i + 1, "security")) return true;
    if (word === "national" && has(i + 1, /^(id|insurance|number|no)$/)) return true;
    if (word === "tax" && has(i + 1, /^(id|number|no|code)$/)) return true;
    if ((word === "driver" || word === "drivers" || word === "driving") && has(i + 1, /^licen[cs]e$/))
      return true;
  }
  return false;
}

const BIRTH_WORDS = new Set([
  "dob",
  "birth",
  "birthday",
  "birthdate",
  "born",
  "geburtsdatum",
  "geburtstag",
  "nacimiento",
  "naissance",
  "nascita",
  "geboortedatum",
]);
/** Whether a column's name says it holds birth dates (dob, date_of_birth, birthday, geburtsdatum, …). */
export function birthByName(column: string): boolean {
  return nameWords(column).some((w) => BIRTH_WORDS.has(w));
}

const PHONE_WORDS = new Set(["phone", "telephone", "tel", "mobile", "cell", "cellphone", "msisdn", "fax"]);
/** Whether a column's name says it holds phone numbers (then bare digit runs count as phones). */
export function phoneByName(column: string): boolean {
  return nameWords(column).some((w) => PHONE_WORDS.has(w));
}

// ---------------------------------------------------------------- SQL

const q = (s: string) => `'${s.replaceAll("'", "''")}'`;
const full = (t: string, re: string) => `regexp_full_match(${t}, ${q(re)})`;

const EMAIL =
  "[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\\.[A-Za-z]{2,}";
const PHONE_FORMATTED = [
  // E.164 and international with separators: +44 20 7946 0958, +1 (555) 123-4567, +15551234567
  "\\+[1-9][0-9]{0,3}(?:[ .-]?\\([0-9]{1,4}\\))?(?:[ .-]?[0-9]{1,8}){1,6}",
  // 00-prefixed international, with separators (a bare 00… run is an id): 0044 20 7946 0958
  "00[1-9][0-9]{0,3}(?:[ .-]\\(?[0-9]{1,8}\\)?){2,6}",
  // North American: (555) 123-4567, 555-123-4567, 555.123.4567, 1-555-123-4567
  "(?:1[ .-]?)?(?:\\([2-9][0-9]{2}\\)[ .-]?|[2-9][0-9]{2}[ .-])[0-9]{3}[ .-][0-9]{4}",
  // National with a trunk 0: 020 7946 0958, (030) 1234 5678, 0612-345678
  "(?:\\(0[1-9][0-9]{1,4}\\)[ -]?|0[1-9][0-9]{1,4}[ -])[0-9]{2,4}[ -]?[0-9]{3,4}",
].join("|");
// The first digit is a payment card issuer's (ISO/IEC 7812-1 major industry identifier 2 to 6: Mastercard's
// 2-series, Amex/JCB/Diners 3, Visa 4, Mastercard 5, Discover/UnionPay/Maestro 6), so millisecond timestamps
// and 19-digit ids (a tenth of which pass Luhn) are not cards.
/** A number with one decimal point and maybe a sign: never a phone. */
const SIGNED_DECIMAL = "[+-]?[0-9]+[.][0-9]+";
const CARD =
  "[2-6][0-9]{12,18}|[2-6][0-9]{3}(?:[ -][0-9]{4}){2,3}(?:[ -][0-9]{1,3})?|[2-6][0-9]{3}[ -][0-9]{6}[ -][0-9]{4,5}";
const IBAN = "[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]){11,30}";
const OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";
const IPV4 = `${OCTET}(?:\\.${OCTET}){3}`;
const H = "[0-9A-Fa-f]{1,4}";
const IPV6 = [
  `(?:${H}:){7}${H}`,
  `(?:${H}:){1,7}:`,
  `(?:${H}:){1,6}:${H}`,
  `(?:${H}:){1,5}(?::${H}){1,2}`,
  `(?:${H}:){1,4}(?::${H}){1,3}`,
  `(?:${H}:){1,3}(?::${H}){1,4}`,
  `(?:${H}:){1,2}(?::${H}){1,5}`,
  `${H}:(?::${H}){1,6}`,
  `:(?:(?::${H}){1,7}|:)`,
  // The last 32 bits as a dotted quad: ::ffff:192.0.2.1, 64:ff9b::192.0.2.1, 1:2:3:4:5:6:192.0.2.1
  `(?:${H}:){6}${IPV4}`,
  `::(?:${H}:){0,5}${IPV4}`,
  ...[1, 2, 3, 4, 5].map((k) => `(?:${H}:){${k}}:(?:${H}:){0,${5 - k}}${IPV4}`),
].join("|");
/** An IPv6 address, with a zone as link-local ones are written (fe80::1%eth0; RFC 4007 section 11: any text without % or /). */
const IPV6_ZONED = `(?:${IPV6})(?:%[^%/]+)?`;
const DATE_FORMATS = [
  "%Y-%m-%d",
  "%d.%m.%Y",
  "%m/%d/%Y",
  "%d/%m/%Y",
  "%Y/%m/%d",
  "%Y-%m-%d %H:%M:%S",
  "%Y-%m-%dT%H:%M:%S",
];

const digitsOf = (t: string) => `regexp_replace(${t}, '[^0-9]', '', 'g')`;

/** Luhn over a string of digits (ISO/IEC 7812-1 annex B): from the right, every second digit doubled (less 9 above 9); the sum ends in 0. */
export function luhnSql(digits: string): string {
  const d = "CAST(c AS INTEGER)";
  return `(list_sum(list_transform(string_split(reverse(${digits}), ''), (c, i) -> CASE WHEN i % 2 = 0 THEN (CASE WHEN ${d} * 2 > 9 THEN ${d} * 2 - 9 ELSE ${d} * 2 END) ELSE ${d} END)) % 10 = 0)`;
}

/**
 * The IBAN check (ISO 13616-1, ISO 7064 MOD 97-10) over an upper-case IBAN
 * without spaces: the first 4 characters moved to the end, letters as 10..35,
 * the number mod 97 must be 1. DuckDB has no integers that long, so the
 * remainder is carried character by character: (r * 10 + digit) or
 * (r * 100 + letter value), mod 97 each step.
 */
export function mod97Sql(iban: string): string {
  const moved = `(substr(${iban}, 5) || left(${iban}, 4))`;
  return `(list_reduce(list_transform(string_split(${moved}, ''), c -> CASE WHEN c BETWEEN '0' AND '9' THEN ascii(c) - 48 ELSE ascii(c) - 55 END), (r, x) -> (r * CASE WHEN x >= 10 THEN 100 ELSE 10 END + x) % 97) = 1)`;
}

/** How a column of this type is looked at: as text (and digits), as integers' text, as dates, or not at all. */
function classOf(type: string): "text" | "integer" | "date" | null {
  const t = type.toUpperCase();
  // Lists and arrays (VARCHAR[], INTEGER[3]) hold many values: not looked at.
  if (/\[\d*\]$/.test(t)) return null;
  if (/^(VARCHAR|TEXT|STRING|JSON|ENUM\b|ENUM\()/.test(t)) return "text";
  if (/^U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)$/.test(t)) return "integer";
  if (/^(DATE|TIMESTAMP.*)$/.test(t)) return "date";
  return null;
}

/** The SQL condition for a kind on a column's sampled text `t` (or date `d`). */
function condition(
  kind: PiiKind,
  t: string,
  col: ScanColumn,
  cls: "text" | "integer" | "date",
): string | null {
  const birth = birthByName(col.name);
  if (cls === "date")
    return kind === "birthdate" && birth ? `${t} BETWEEN DATE '1900-01-01' AND current_date` : null;
  switch (kind) {
    case "email":
      return cls === "text" ? full(t, EMAIL) : null;
    case "phone": {
      const bare = phoneByName(col.name) ? "|[0-9]{8,15}" : "";
      if (cls === "integer" && !bare) return null;
      const digits = digitsOf(`regexp_replace(${t}, '^00', '')`);
      // Nested CASEs, not AND: DuckDB evaluates both sides of an AND on every row, and counting digits costs.
      // A signed decimal (+10000000.25) is an amount, though E.164 allows dots between groups.
      return `CASE WHEN ${full(t, SIGNED_DECIMAL)} THEN false WHEN ${full(t, PHONE_FORMATTED + bare)} THEN length(${digits}) BETWEEN 8 AND 15 ELSE false END`;
    }
    case "card":
      return `CASE WHEN ${full(t, CARD)} THEN (CASE WHEN length(${digitsOf(t)}) BETWEEN 13 AND 19 THEN ${luhnSql(digitsOf(t))} ELSE false END) ELSE false END`;
    case "iban":
      return cls === "text"
        ? `CASE WHEN ${full(t, IBAN)} THEN ${mod97Sql(`upper(replace(${t}, ' ', ''))`)} ELSE false END`
        : null;
    case "ipv4":
      return cls === "text" ? full(t, IPV4) : null;
    case "ipv6":
      return cls === "text" ? full(t, IPV6_ZONED) : null;
    case "birthdate":
      return cls === "text" && birth
        ? `CAST(try_strptime(${t}, [${DATE_FORMATS.map(q).join(", ")}]) AS DATE) BETWEEN DATE '1900-01-01' AND current_date`
        : null;
    case "personal_name":
      return null;
  }
}

interface Probe {
  key: string;
  column: number;
  kind: PiiKind;
  sql: string;
}

/**
 * Scans a table (or view) of `sql`'s database: see the file comment. `rows` is
 * the table's row count when the caller knows it (else counted).
 */
export async function scanTable(
  sql: SqlSession,
  table: { name: string; columns: readonly ScanColumn[]; rows?: number },
  opts: ScanOptions = {},
): Promise<ScanReport> {
  const sampleSize = opts.sampleSize ?? DEFAULT_SCAN_SAMPLE;
  const seed = opts.seed ?? DEFAULT_SCAN_SEED;
  if (!Number.isInteger(sampleSize) || sampleSize < 1)
    throw new ScanError(`The scan's sample size must be a whole number of rows ≥ 1, got ${sampleSize}`);
  if (!Number.isInteger(seed) || seed < 0)
    throw new ScanError(`The scan's seed must be a whole number ≥ 0, got ${seed}`);
  const rows = table.rows ?? Number((await sql.one(`SELECT count(*) AS n FROM ${ident(table.name)}`)).n);
  const classes = table.columns.map((c) => classOf(c.type));
  const probes: Probe[] = [];
  table.columns.forEach((col, i) => {
    const cls = classes[i];
    if (!cls) return;
    const t = cls === "date" ? `d${i}` : `t${i}`;
    for (const kind of PII_KINDS) {
      const cond = condition(kind, t, col, cls);
      if (cond) probes.push({ key: `m${i}_${kind}`, column: i, kind, sql: cond });
    }
  });
  const named = table.columns.map((c) => personalByName(c.name));

  // The sample: each looked-at column as capped, trimmed text (or a date), and whether it was null.
  const projected: string[] = [];
  table.columns.forEach((col, i) => {
    const cls = classes[i];
    if (!cls && !named[i]) return;
    const c = ident(col.name);
    projected.push(`${c} IS NOT NULL AS p${i}`);
    if (cls === "date") projected.push(`CAST(${c} AS DATE) AS d${i}`);
    else if (cls || named[i])
      projected.push(
        `CASE WHEN strlen(CAST(${c} AS VARCHAR)) <= ${SCAN_TEXT_LIMIT} THEN trim(CAST(${c} AS VARCHAR)) END AS t${i}`,
      );
  });
  const sample = `privacy_scan_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  let sampled = Math.min(rows, sampleSize);
  const counts: Record<string, number> = {};
  const examples = new Map<string, string[]>();
  if (projected.length && rows > 0) {
    await sql.run(
      `CREATE TEMP TABLE ${ident(sample)} AS SELECT ${projected.join(", ")} FROM ${ident(table.name)} USING SAMPLE reservoir(${sampleSize} ROWS) REPEATABLE (${seed})`,
    );
    try {
      const aggregates = [
        "count(*) AS n",
        ...table.columns.flatMap((_, i) => (classes[i] || named[i] ? [`count_if(p${i}) AS n${i}`] : [])),
        ...probes.map((p) => `count_if(${p.sql}) AS ${p.key}`),
      ];
      const agg = await sql.one(`SELECT ${aggregates.join(", ")} FROM ${ident(sample)}`);
      sampled = Number(agg.n);
      for (const [k, v] of Object.entries(agg)) counts[k] = Number(v);
      // Up to 3 distinct examples per kind found (and per column found by name), first seen first.
      const wanted = [
        ...probes.filter((p) => counts[p.key]! > 0),
        ...table.columns.flatMap((_, i): Probe[] =>
          named[i] && classes[i] !== "date" && counts[`n${i}`]! > 0
            ? [{ key: `name${i}`, column: i, kind: "personal_name", sql: `t${i} IS NOT NULL` }]
            : [],
        ),
      ];
      if (wanted.length) {
        const parts = wanted.map((p) => {
          const v = classes[p.column] === "date" ? `CAST(d${p.column} AS VARCHAR)` : `t${p.column}`;
          return `(SELECT ${q(p.key)} AS k, v, r FROM (SELECT ${v} AS v, min(rowid) AS r FROM ${ident(sample)} WHERE ${p.sql} GROUP BY ALL ORDER BY r LIMIT ${EXAMPLES}))`;
        });
        const found = await sql.all<{ k: string; v: string; r: number }>(parts.join(" UNION ALL "));
        found.sort((a, b) => a.r - b.r);
        for (const { k, v } of found) {
          const list = examples.get(k) ?? [];
          list.push(v);
          examples.set(k, list);
        }
      }
    } finally {
      await sql.run(`DROP TABLE IF EXISTS ${ident(sample)}`).catch(() => {});
    }
  } else if (rows === 0) sampled = 0;

  // Distinct values can mask alike (Jane, John → J***): each masked form once.
  const masked = (values: string[] | undefined, kind: PiiKind) => [
    ...new Set((values ?? []).map((v) => String(maskValue(v, kind)))),
  ];
  const columns: ColumnScan[] = table.columns.map((col, i) => {
    const kinds: KindFound[] = [];
    const nonNull = counts[`n${i}`] ?? 0;
    for (const p of probes) {
      if (p.column !== i) continue;
      const m = counts[p.key] ?? 0;
      if (m > 0 && nonNull > 0)
        kinds.push({
          kind: p.kind,
          share: m / nonNull,
          examples: masked(examples.get(p.key), p.kind),
          by: "values",
        });
    }
    if (named[i])
      kinds.push({
        kind: "personal_name",
        share: 1,
        examples: masked(examples.get(`name${i}`), "personal_name"),
        by: "name",
      });
    return { column: col.name, kinds };
  });
  return { source: opts.source ?? table.name, rows, sampled, sampleSize, seed, columns };
}

/** "scanned 10,000 of 3,000,000 rows (reservoir sample, seed 42)" */
export function sampleLine(r: Pick<ScanReport, "rows" | "sampled" | "seed">): string {
  const n = (x: number) => x.toLocaleString("en-US");
  return r.sampled < r.rows
    ? `scanned ${n(r.sampled)} of ${n(r.rows)} rows (reservoir sample, seed ${r.seed})`
    : `scanned all ${n(r.rows)} row${r.rows === 1 ? "" : "s"}`;
}
