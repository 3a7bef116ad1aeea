import type { ColumnProfile } from "../../../../app/values/profile";
import { timeOfDayText } from "../cellFormat";

const DAY_MS = 86_400_000;

/** A duration: "850 ms", "12.3 s", "4.5 min", "3.2 h", "421.9 days" (the largest unit at least 1). */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  const abs = Math.abs(ms);
  const one = (v: number, unit: string) =>
    `${v.toLocaleString("en-US", { maximumFractionDigits: 1 })} ${unit}`;
  if (abs >= DAY_MS) return one(ms / DAY_MS, ms === DAY_MS ? "day" : "days");
  if (abs >= 3_600_000) return one(ms / 3_600_000, "h");
  if (abs >= 60_000) return one(ms / 60_000, "min");
  if (abs >= 1000) return one(ms / 1000, "s");
  return one(ms, "ms");
}

/** What formatStat needs of a column. */
type StatColumn = Pick<ColumnProfile, "unit" | "type">;

/** Epoch milliseconds as "YYYY-MM-DD" (DATE, or compact) or "YYYY-MM-DD HH:MM:SS" (UTC). */
function dateText(v: number, type: string, compact: boolean): string {
  const date = new Date(v);
  if (Number.isNaN(date.getTime())) return String(v);
  const iso = date.toISOString();
  const day = iso.replace(/T.*$/, "");
  if (compact || type === "DATE") return day;
  const time = iso.replace(/^.*T/, "").replace(/\.000Z$|Z$/, "");
  return `${day} ${time}`;
}

/**
 * A statistic (min, max, mean, a quantile, a histogram edge) in the column's
 * unit: dates as YYYY-MM-DD (timestamps with the time), times of day as
 * HH:MM:SS, intervals as durations, numbers otherwise.
 */
export function formatStat(v: number | null | undefined, column: StatColumn, compact = false): string {
  if (v === null || v === undefined) return "—";
  if (column.unit === "epoch_ms") return dateText(v, column.type, compact);
  if (column.unit === "ms") {
    if (column.type.startsWith("TIME")) {
      // Statistics to the millisecond: a mean's microseconds say nothing.
      const text = timeOfDayText(Math.round(v) * 1000);
      return compact ? text.slice(0, 5) : text;
    }
    return formatDuration(v);
  }
  const abs = Math.abs(v);
  if (abs !== 0 && (abs >= 1e6 || abs < 1e-3)) return v.toExponential(2);
  return v.toLocaleString(undefined, { maximumFractionDigits: compact ? 2 : 4 });
}

/** A spread (the standard deviation): a duration for dates, times and intervals. */
export function formatSpread(v: number | null | undefined, column: StatColumn): string {
  if (v === null || v === undefined) return "—";
  if (column.unit === "epoch_ms" || column.unit === "ms") return formatDuration(v);
  return formatStat(v, column);
}

export const percent = (f: number | null | undefined) =>
  f === null || f === undefined ? "—" : `${(f * 100).toFixed(f > 0 && f < 0.001 ? 2 : 1)}%`;
