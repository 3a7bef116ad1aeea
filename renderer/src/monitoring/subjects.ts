/** The deployed models the Monitoring view can show: those dagwood.json's monitors watch, and those the targets serve. */
import type { TargetStatus } from "../../../app/api/api";
import type { MonitorSummary } from "./api";

export interface Subject {
  /** target:deployed-name */
  key: string;
  target: string;
  /** The model's name on the target. */
  model: string;
  /** The registered model and the version or alias its report compares against. */
  registered: string;
  ref: string | number;
  /** The window width of its first monitor, else 1h. */
  window: string;
  minRows: number | null;
  metric: string | null;
  tolerance: number | null;
  monitors: MonitorSummary[];
  /** The version the target serves (null: not served there now, or the target did not answer). */
  serving: number | null;
}

export function subjectsOf(monitors: MonitorSummary[], targets: TargetStatus[]): Subject[] {
  const byKey = new Map<string, Subject>();
  for (const m of monitors) {
    const name = m.model;
    const ref = /^\d+$/.test(m.ref) ? Number(m.ref) : m.ref;
    const model = m.deployedModel ?? name;
    const key = `${m.target}:${model}`;
    const had = byKey.get(key);
    if (had) {
      had.monitors.push(m);
      continue;
    }
    byKey.set(key, {
      key,
      target: m.target,
      model,
      registered: name,
      ref,
      // The first monitor's settings grade the report, as its checks do.
      window: m.window,
      minRows: m.minRows,
      metric: m.metric,
      tolerance: m.tolerance,
      monitors: [m],
      serving: null,
    });
  }
  for (const t of targets) {
    if (t.kind !== "dagwood") continue;
    for (const s of t.models) {
      const key = `${t.name}:${s.name}`;
      const had = byKey.get(key);
      if (had) {
        had.serving = s.serving;
        continue;
      }
      byKey.set(key, {
        key,
        target: t.name,
        model: s.name,
        registered: s.name,
        // Without a monitor, the version the target serves is the reference.
        ref: s.serving ?? "champion",
        window: "1h",
        minRows: null,
        metric: null,
        tolerance: null,
        monitors: [],
        serving: s.serving,
      });
    }
  }
  // Watched models first, then by name.
  return [...byKey.values()].sort(
    (a, b) => Number(!a.monitors.length) - Number(!b.monitors.length) || a.key.localeCompare(b.key),
  );
}
