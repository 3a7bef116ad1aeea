import type { ColumnProfile } from "../../../../app/values/profile";

/** A statistic in the column's unit: dates for epoch_ms, durations for ms, numbers otherwise. */
export function formatStat(
  v: number | null | undefined,
  unit: ColumnProfile["unit"],
  compact = false,
): string {
  if (v === null || v === undefined) return "—";
  if (unit === "epoch_ms") {
    const iso = new Date(v).toISOString();
    return compact ? iso.slice(0, 10) : iso.replace("T", " ").replace(/\.000Z$|Z$/, "");
  }
  if (unit === "ms") return `${(v / 1000).toLocaleString(undefined, { maximumFractionDigits: 1 })} s`;
  const abs = Math.abs(v);
  if (abs !== 0 && (abs >= 1e6 || abs < 1e-3)) return v.toExponential(2);
  return v.toLocaleString(undefined, { maximumFractionDigits: compact ? 2 : 4 });
}

export const percent = (f: number | null | undefined) =>
  f === null || f === undefined ? "—" : `${(f * 100).toFixed(f > 0 && f < 0.001 ? 2 : 1)}%`;
