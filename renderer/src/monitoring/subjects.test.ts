import { describe, expect, it } from "vitest";
import type { TargetStatus } from "../../../app/api/api";
import type { MonitorSummary } from "./api";
import { subjectsOf } from "./subjects";

const monitor = (over: Partial<MonitorSummary>): MonitorSummary => ({
  name: "penguins-drift",
  model: "penguins",
  ref: "champion",
  target: "local",
  deployedModel: null,
  window: "15m",
  minRows: 30,
  metric: null,
  tolerance: null,
  action: "alert",
  schedule: null,
  nextRunAt: null,
  lastCheck: null,
  lastError: null,
  openAlerts: 0,
  ...over,
});

const target = (
  name: string,
  kind: "dagwood" | "triton",
  models: [string, number | null][],
): TargetStatus => ({
  name,
  url: "http://127.0.0.1:1",
  kind,
  tokenSource: null,
  health: { live: true, ready: true },
  models: models.map(([n, v]) => ({ name: n, serving: v, versions: v ? [v] : [], deployments: [] })),
  traffic: [],
});

describe("subjectsOf", () => {
  it("joins monitors with what the targets serve, watched models first", () => {
    const s = subjectsOf(
      [
        monitor({}),
        monitor({ name: "penguins-perf", window: "1h" }),
        monitor({ name: "w", model: "weather", ref: "3", deployedModel: "weather-live", target: "staging" }),
      ],
      [
        target("local", "dagwood", [
          ["penguins", 2],
          ["cars", 1],
        ]),
        target("tri", "triton", [["x", 1]]),
      ],
    );
    expect(s.map((x) => [x.key, x.registered, x.ref, x.window, x.monitors.length, x.serving])).toEqual([
      ["local:penguins", "penguins", "champion", "15m", 2, 2],
      ["staging:weather-live", "weather", 3, "15m", 1, null],
      ["local:cars", "cars", 1, "1h", 0, 1],
    ]);
  });

  it("grades a watched model's report with its first monitor's minRows, metric and tolerance", () => {
    const [watched, unwatched] = subjectsOf(
      [
        monitor({ minRows: 50, metric: "f1", tolerance: 0.02 }),
        monitor({ name: "second", minRows: 10, metric: "accuracy", tolerance: 0.1 }),
      ],
      [target("local", "dagwood", [["cars", 1]])],
    );
    expect([watched!.minRows, watched!.metric, watched!.tolerance]).toEqual([50, "f1", 0.02]);
    // Without a monitor the report's own defaults apply.
    expect([unwatched!.minRows, unwatched!.metric, unwatched!.tolerance]).toEqual([null, null, null]);
  });

  it("leaves out Triton targets, which keep no log", () => {
    expect(subjectsOf([], [target("tri", "triton", [["x", 1]])])).toEqual([]);
  });
});
