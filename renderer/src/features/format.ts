/** How the Features view reads the feature store: freshness, lookups' keys and answers, history charts. */
import type {
  FeatureEntitySummary,
  FeatureMaterialization,
  FeaturesOverview,
  FeatureValueType,
  FeatureViewSummary,
  OnlineFeaturesAnswer,
} from "../../../app/values/features";

/** Where the README walks through the feature store (the empty state points there). */
export const README_SECTION = "README.md → Feature store";

/** A view's freshness in one word, with why. */
export interface Freshness {
  state: "fresh" | "stale" | "never" | "empty" | "unknown";
  /** What a person reads on the badge. */
  label: string;
  /** The longer sentence for a title. */
  detail: string;
}

/**
 * Fresh: the last materialisation's window ends at or after the newest event
 * in the source. Stale: the source has events newer than that end (they are
 * not online yet). Never: the source has rows, none materialised. Empty: the
 * source has no row. Unknown: the source could not be read, or (nothing
 * materialised known) the online store `storeError` cannot be reached.
 */
export function freshnessOf(view: FeatureViewSummary, storeError: string | null = null): Freshness {
  const { lastMaterialized: last, newestEvent, rows, sourceError } = view.freshness;
  if (!view.online)
    return { state: "unknown", label: "offline only", detail: "online: false — never materialised" };
  if (sourceError) return { state: "unknown", label: "source unreadable", detail: sourceError };
  if (rows === 0 || (newestEvent === null && rows !== null))
    return { state: "empty", label: "no rows", detail: "The source has no row yet." };
  // With the online store away its history cannot be read: what was materialised is not known.
  if (!last && storeError)
    return {
      state: "unknown",
      label: "store unreachable",
      detail: "The online store cannot be reached, so what of this view is in it is not known.",
    };
  if (!last)
    return {
      state: "never",
      label: "not materialised",
      detail: "Nothing of this view is in the online store yet: Materialize it.",
    };
  if (newestEvent !== null && Date.parse(newestEvent) > Date.parse(last.end))
    return {
      state: "stale",
      label: "stale",
      detail: `The source has events up to ${utcShort(newestEvent)} UTC, after the last materialised end ${utcShort(last.end)}: materialise again to bring them online.`,
    };
  return {
    state: "fresh",
    label: "fresh",
    detail: `The last materialisation (up to ${utcShort(last.end)} UTC) covers the newest event${newestEvent ? ` (${utcShort(newestEvent)})` : ""}.`,
  };
}

const FEAST_TYPES: Record<FeatureValueType, string> = {
  int32: "Int32",
  int64: "Int64",
  float32: "Float32",
  float64: "Float64",
  string: "String",
  bool: "Bool",
  bytes: "Bytes",
  unix_timestamp: "UnixTimestamp",
};

/** A value type as Feast (and features/*.json) spells it: "float64" → "Float64". */
export function feastType(t: FeatureValueType): string {
  return FEAST_TYPES[t] ?? t;
}

/** The join keys a lookup on a view or service needs, each with the entity's value type when declared. */
export function lookupKeys(
  overview: FeaturesOverview,
  target: { view: string } | { service: string },
): { key: string; type: FeatureValueType | null }[] {
  const byKey = new Map<string, FeatureValueType | null>();
  const entityOf = new Map<string, FeatureEntitySummary>(overview.entities.map((e) => [e.name, e]));
  const views =
    "view" in target
      ? overview.views.filter((v) => v.name === target.view)
      : (() => {
          const service = overview.services.find((s) => s.name === target.service);
          const names = new Set(service?.features.map((f) => f.view) ?? []);
          return overview.views.filter((v) => names.has(v.name));
        })();
  for (const v of views) {
    for (const key of v.joinKeys) {
      if (byKey.has(key)) continue;
      const entity = v.entities.map((e) => entityOf.get(e)).find((e) => e?.joinKeys.includes(key));
      byKey.set(key, entity?.valueType ?? null);
    }
  }
  return [...byKey].map(([key, type]) => ({ key, type }));
}

const NUMERIC = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

/**
 * A typed key value to what the online store keys on: the entity's declared
 * type decides (Int64 ids beyond 2^53 stay strings, as the store keeps them);
 * with no declared type a number-looking value is a number. Quotes force a
 * string ("007"). Null with a message when the value cannot be of the type.
 */
export function parseKeyValue(
  text: string,
  type: FeatureValueType | null,
): { value: string | number | boolean } | { error: string } {
  const raw = text.trim();
  if (!raw) return { error: "type a value" };
  const quoted = /^"(.*)"$/.exec(raw) ?? /^'(.*)'$/.exec(raw);
  if (quoted) return { value: quoted[1]! };
  switch (type) {
    case "string":
    case "bytes":
      return { value: raw };
    case "bool":
      if (raw === "true" || raw === "false") return { value: raw === "true" };
      return { error: "true or false" };
    case "int32":
    case "int64":
    case "unix_timestamp": {
      if (!/^-?\d+$/.test(raw)) return { error: "a whole number" };
      const n = Number(raw);
      return { value: Number.isSafeInteger(n) ? n : raw };
    }
    case "float32":
    case "float64":
      return NUMERIC.test(raw) ? { value: Number(raw) } : { error: "a number" };
    default:
      if (NUMERIC.test(raw)) {
        const n = Number(raw);
        return { value: Number.isSafeInteger(n) || !/^-?\d+$/.test(raw) ? n : raw };
      }
      return { value: raw };
  }
}

/** One feature of a lookup's single entity row. */
export interface LookupRow {
  name: string;
  value: number | string | boolean | null;
  status: "PRESENT" | "NOT_FOUND" | "OUTSIDE_MAX_AGE";
  /** ISO; null when the store has no row (Feast answers the epoch then). */
  eventTime: string | null;
  /** A join key echoed back, not a feature. */
  key: boolean;
}

/** Feast's column-wise answer for one entity row as rows: name, value, status, event time. */
export function lookupRows(answer: OnlineFeaturesAnswer, keys: readonly string[]): LookupRow[] {
  const keySet = new Set(keys);
  return answer.metadata.feature_names.map((name, i) => {
    const r = answer.results[i];
    const status = r?.statuses[0] ?? "NOT_FOUND";
    const ts = r?.event_timestamps[0] ?? null;
    return {
      name,
      value: r?.values[0] ?? null,
      status,
      eventTime: ts && status !== "NOT_FOUND" && !ts.startsWith("1970-01-01T00:00:00") ? ts : null,
      key: keySet.has(name) && i < keys.length,
    };
  });
}

/** A value as the lookup table shows it. */
export function formatFeatureValue(v: number | string | boolean | null): string {
  if (v === null) return "null";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  return String(v);
}

/** "1d" → "1 day", "12h" → "12 hours", "0" → "no limit". */
export function ttlWords(ttl: string): string {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/.exec(ttl.trim());
  if (ttl.trim() === "0") return "no limit";
  if (!m) return ttl;
  const n = Number(m[1]);
  const unit = { s: "second", m: "minute", h: "hour", d: "day", w: "week" }[
    m[2] as "s" | "m" | "h" | "d" | "w"
  ];
  return `${m[1]} ${unit}${n === 1 ? "" : "s"}`;
}

/** The event-time window of a materialisation, compactly: "12-01 00:00 → 12-03 00:00" (UTC). */
export function windowWords(m: Pick<FeatureMaterialization, "start" | "end">): string {
  return `${utcShort(m.start)} → ${utcShort(m.end)}`;
}

/** "2026-12-01T00:00:00.000Z" → "2026-12-01 00:00 UTC"-like "2026-12-01 00:00" (UTC). */
export function utcShort(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().slice(0, 16).replace("T", " ");
}

/** The materialisations of a chart, oldest first (the overview lists them newest first). */
export function historyBars(
  records: readonly FeatureMaterialization[],
  view?: string,
): { label: string; rows: number; view: string; at: string; window: string; ms: number }[] {
  const shown = records
    .filter((r) => view === undefined || r.view === view)
    .slice()
    .sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  // Runs within one minute (a materialisation of several views) are told apart by their seconds.
  const minutes = shown.map((r) => utcShort(r.at).slice(5));
  const clash = new Set(minutes).size < minutes.length;
  return shown.map((r, i) => ({
    label: clash ? new Date(r.at).toISOString().slice(11, 19) : minutes[i]!,
    rows: r.rows,
    view: r.view,
    at: r.at,
    window: windowWords(r),
    ms: r.ms,
  }));
}

/** A `<input type="datetime-local">` value (local time) as an ISO instant with its offset; null when empty or bad. */
export function localInputToIso(value: string): string | null {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** What the materialisation toast says: per view, the rows written and the window. */
export function materializedWords(records: readonly FeatureMaterialization[]): string {
  if (!records.length) return "Nothing to materialise: no view is online.";
  const total = records.reduce((s, r) => s + r.rows, 0);
  const parts = records.map((r) => `${r.view} ${r.rows.toLocaleString("en-US")} rows (${windowWords(r)})`);
  return `Materialised ${total.toLocaleString("en-US")} row${total === 1 ? "" : "s"}: ${parts.join("; ")}`;
}

/** How long ago an instant was, roughly: "just now", "5 min ago", "3 h ago", "2 d ago" ("in 2 h" ahead). */
export function ago(iso: string, now = Date.now()): string {
  const ms = now - Date.parse(iso);
  if (Number.isNaN(ms)) return "";
  const abs = Math.abs(ms);
  const words =
    abs < 60_000
      ? null
      : abs < 3_600_000
        ? `${Math.round(abs / 60_000)} min`
        : abs < 2 * 86_400_000
          ? `${Math.round(abs / 3_600_000)} h`
          : `${Math.round(abs / 86_400_000)} d`;
  if (!words) return "just now";
  return ms >= 0 ? `${words} ago` : `in ${words}`;
}
