/** How run fields read in tables: values, durations, times, short ids. */
import type { MetricRecord } from "../../../app/api/api";
import { num } from "../panels/evaluation/format";

/** A param or tag value: numbers as metrics are, objects as compact JSON, absent as "—". */
export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") return Number.isNaN(v) ? "NaN" : num(v, 4);
  if (typeof v === "string") return v;
  if (typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

/** A metric value; NaN reads "NaN" (logged as such), absent "—". */
export function formatMetric(v: number | null | undefined): string {
  if (v === null || v === undefined) return "—";
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "−∞";
  return num(v, 4);
}

/** "850 ms", "12.3 s", "4 min 05 s", "2 h 03 min". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/** A local date and time without seconds' noise: "2026-11-26 16:57:07". */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A compact time for narrow columns: "11-26 17:05"; the full time goes in a title. */
export function formatShortTime(iso: string | null | undefined): string {
  const full = formatTime(iso);
  return /^\d{4}-/.test(full) ? full.slice(5, 16) : full;
}

/**
 * Run ids are long: `20261126T170221-a1b2c3` reads as its time and random
 * part, `170221-a1b2c3`; other ids as their last 10 characters. The full id
 * is in the title.
 */
export function shortId(id: string): string {
  const stamped = /^\d{8}T(\d{6})-(\w+)$/.exec(id);
  if (stamped) return `${stamped[1]}-${stamped[2]}`;
  return id.length > 12 ? `…${id.slice(-10)}` : id;
}

/** Sorted union of keys, for column choosers. */
export function sortedKeys(...lists: Iterable<string>[]): string[] {
  const all = new Set<string>();
  for (const l of lists) for (const k of l) all.add(k);
  return [...all].sort();
}

/** The latest value per `nodeId.metric`: the highest step, then the last logged. */
export function latestMetrics(metrics: MetricRecord[]): { key: string; value: number; steps: number }[] {
  const byKey = new Map<string, { value: number; step: number; steps: number }>();
  for (const m of metrics) {
    const key = `${m.nodeId}.${m.name}`;
    const step = m.step ?? -1;
    const prev = byKey.get(key);
    if (!prev) byKey.set(key, { value: m.value, step, steps: 1 });
    else {
      prev.steps++;
      if (step >= prev.step) Object.assign(prev, { value: m.value, step });
    }
  }
  return [...byKey.entries()]
    .map(([key, v]) => ({ key, value: v.value, steps: v.steps }))
    .sort((a, b) => a.key.localeCompare(b.key));
}

/** Metric names worth a column before the user chooses, best known first. */
const PREFERRED_METRICS = ["accuracy", "f1_macro", "f1", "roc_auc", "rmse", "r2", "mae", "log_loss"];

/** The default metric columns: well-known scores first (`eval.accuracy`), then the rest in key order. */
export function defaultMetricColumns(keys: string[], count: number): string[] {
  const rank = (k: string) => {
    const i = PREFERRED_METRICS.indexOf(k.slice(k.lastIndexOf(".") + 1));
    return i < 0 ? PREFERRED_METRICS.length : i;
  };
  return [...keys].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)).slice(0, count);
}
