import { describe, expect, it } from "vitest";
import type { FeaturesOverview, FeatureViewSummary } from "../../../app/values/features";
import {
  ago,
  feastType,
  freshnessOf,
  historyBars,
  lookupKeys,
  lookupRows,
  materializedWords,
  parseKeyValue,
  ttlWords,
  windowWords,
} from "./format";

const view = (over: Partial<FeatureViewSummary> = {}, fresh: Partial<FeatureViewSummary["freshness"]> = {}) =>
  ({
    name: "driver_stats",
    file: "features/drivers.json",
    entities: ["driver"],
    joinKeys: ["driver_id"],
    features: [{ name: "conv_rate", type: "float64" }],
    ttl: "1d",
    online: true,
    owner: null,
    description: "",
    tags: {},
    source: { kind: "file", path: "data/d.csv", timestampField: "ts", createdTimestampColumn: null },
    version: 1,
    changedSinceApply: false,
    freshness: {
      lastMaterialized: null,
      newestEvent: "2026-12-02T10:00:00.000Z",
      rows: 10,
      sourceError: null,
      ...fresh,
    },
    ...over,
  }) as FeatureViewSummary;

const run = (end: string) => ({
  view: "driver_stats",
  version: 1,
  start: "2026-12-01T00:00:00.000Z",
  end,
  rows: 3,
  at: "2026-12-03T00:00:00.000Z",
  ms: 12,
});

describe("freshnessOf", () => {
  it("is stale when the source has an event after the last materialised end", () => {
    const f = freshnessOf(view({}, { lastMaterialized: run("2026-12-02T09:59:59.000Z") }));
    expect(f.state).toBe("stale");
    expect(f.detail).toContain(
      "up to 2026-12-02 10:00 UTC, after the last materialised end 2026-12-02 09:59",
    );
  });
  it("is fresh when the end reaches the newest event (equal counts: the window's end is inclusive of it)", () => {
    expect(freshnessOf(view({}, { lastMaterialized: run("2026-12-02T10:00:00.000Z") })).state).toBe("fresh");
    expect(freshnessOf(view({}, { lastMaterialized: run("2026-12-05T00:00:00.000Z") })).state).toBe("fresh");
  });
  it("says never materialised, an empty source, an unreadable source and an offline view apart", () => {
    expect(freshnessOf(view()).state).toBe("never");
    expect(freshnessOf(view({}, { rows: 0, newestEvent: null })).state).toBe("empty");
    const gone = freshnessOf(
      view({}, { rows: null, newestEvent: null, sourceError: "data/d.csv: no such file" }),
    );
    expect(gone).toMatchObject({ state: "unknown", detail: "data/d.csv: no such file" });
    expect(freshnessOf(view({ online: false })).label).toBe("offline only");
  });
  it("does not say never materialised when the online store cannot be reached to tell", () => {
    const away = "The Redis online store at redis://127.0.0.1:1 did not answer";
    expect(freshnessOf(view(), away)).toMatchObject({ state: "unknown", label: "store unreachable" });
    // A materialisation the overview still knows of is shown as such.
    const known = freshnessOf(view({}, { lastMaterialized: run("2026-12-05T00:00:00.000Z") }), away);
    expect(known.state).toBe("fresh");
  });
});

describe("parseKeyValue", () => {
  it("follows the entity's declared type", () => {
    expect(parseKeyValue("1001", "int64")).toEqual({ value: 1001 });
    expect(parseKeyValue("1001", "string")).toEqual({ value: "1001" });
    expect(parseKeyValue("1.5", "int64")).toEqual({ error: "a whole number" });
    expect(parseKeyValue("x", "float64")).toEqual({ error: "a number" });
    expect(parseKeyValue("true", "bool")).toEqual({ value: true });
    expect(parseKeyValue("yes", "bool")).toEqual({ error: "true or false" });
  });
  it("keeps an Int64 beyond 2^53 as its decimal string (as the online store keys it)", () => {
    expect(parseKeyValue("9007199254740993", "int64")).toEqual({ value: "9007199254740993" });
    expect(parseKeyValue("9007199254740993", null)).toEqual({ value: "9007199254740993" });
  });
  it("guesses without a type, and quotes force a string", () => {
    expect(parseKeyValue(" 42 ", null)).toEqual({ value: 42 });
    expect(parseKeyValue("0.25", null)).toEqual({ value: 0.25 });
    expect(parseKeyValue("abc", null)).toEqual({ value: "abc" });
    expect(parseKeyValue('"007"', null)).toEqual({ value: "007" });
    expect(parseKeyValue("  ", null)).toEqual({ error: "type a value" });
  });
});

describe("lookupKeys", () => {
  const overview = {
    problems: [],
    online: { kind: "sqlite", location: ".dagwood/online.sqlite", error: null },
    entities: [
      {
        name: "driver",
        joinKeys: ["driver_id"],
        valueType: "int64",
        description: "",
        owner: null,
        tags: {},
        file: "f",
      },
      {
        name: "city",
        joinKeys: ["city"],
        valueType: null,
        description: "",
        owner: null,
        tags: {},
        file: "f",
      },
    ],
    views: [view(), view({ name: "trips", entities: ["driver", "city"], joinKeys: ["driver_id", "city"] })],
    services: [
      {
        name: "ranker",
        file: "f",
        description: "",
        owner: null,
        tags: {},
        features: [
          { view: "driver_stats", features: ["conv_rate"] },
          { view: "trips", features: ["conv_rate"] },
        ],
        models: [],
      },
    ],
    materializations: [],
  } as FeaturesOverview;
  it("gives a view's join keys with their entity's type, and a service's keys once each", () => {
    expect(lookupKeys(overview, { view: "driver_stats" })).toEqual([{ key: "driver_id", type: "int64" }]);
    expect(lookupKeys(overview, { service: "ranker" })).toEqual([
      { key: "driver_id", type: "int64" },
      { key: "city", type: null },
    ]);
    expect(lookupKeys(overview, { service: "nope" })).toEqual([]);
  });
});

describe("lookupRows", () => {
  it("reads Feast's column-wise answer for one row: the key first, epoch times of missing rows blank", () => {
    const rows = lookupRows(
      {
        metadata: { feature_names: ["driver_id", "conv_rate", "trips"] },
        results: [
          { values: [1001], statuses: ["PRESENT"], event_timestamps: ["1970-01-01T00:00:00Z"] },
          { values: [0.58], statuses: ["PRESENT"], event_timestamps: ["2026-12-02T10:00:00Z"] },
          { values: [null], statuses: ["NOT_FOUND"], event_timestamps: ["1970-01-01T00:00:00Z"] },
        ],
      },
      ["driver_id"],
    );
    expect(rows).toEqual([
      { name: "driver_id", value: 1001, status: "PRESENT", eventTime: null, key: true },
      { name: "conv_rate", value: 0.58, status: "PRESENT", eventTime: "2026-12-02T10:00:00Z", key: false },
      { name: "trips", value: null, status: "NOT_FOUND", eventTime: null, key: false },
    ]);
  });
});

describe("words", () => {
  it("spells types as Feast does", () => {
    expect(feastType("float64")).toBe("Float64");
    expect(feastType("unix_timestamp")).toBe("UnixTimestamp");
  });
  it("reads TTLs, windows and what a materialisation wrote", () => {
    expect(ttlWords("1d")).toBe("1 day");
    expect(ttlWords("12h")).toBe("12 hours");
    expect(ttlWords("0")).toBe("no limit");
    expect(windowWords(run("2026-12-03T00:00:00.000Z"))).toBe("2026-12-01 00:00 → 2026-12-03 00:00");
    expect(
      materializedWords([
        run("2026-12-03T00:00:00.000Z"),
        { ...run("2026-12-03T00:00:00.000Z"), view: "trips", rows: 1200 },
      ]),
    ).toBe(
      "Materialised 1,203 rows: driver_stats 3 rows (2026-12-01 00:00 → 2026-12-03 00:00); trips 1,200 rows (2026-12-01 00:00 → 2026-12-03 00:00)",
    );
    expect(materializedWords([])).toBe("Nothing to materialise: no view is online.");
  });
  it("orders the history oldest first, per view when asked", () => {
    const a = { ...run("2026-12-03T00:00:00.000Z"), at: "2026-12-03T02:00:00.000Z", rows: 5 };
    const b = { ...run("2026-12-03T00:00:00.000Z"), at: "2026-12-03T01:00:00.000Z", view: "trips" };
    expect(historyBars([a, b]).map((x) => x.rows)).toEqual([3, 5]);
    expect(historyBars([a, b], "trips").map((x) => x.view)).toEqual(["trips"]);
    expect(historyBars([a, b]).map((x) => x.label)).toEqual(["12-03 01:00", "12-03 02:00"]);
    // Two runs in the same minute are told apart by their seconds.
    const c = { ...a, at: "2026-12-03T02:00:30.000Z" };
    expect(historyBars([a, c]).map((x) => x.label)).toEqual(["02:00:00", "02:00:30"]);
  });
  it("says how long ago", () => {
    const now = Date.parse("2026-12-03T12:00:00Z");
    expect(ago("2026-12-03T11:59:40Z", now)).toBe("just now");
    expect(ago("2026-12-03T11:55:00Z", now)).toBe("5 min ago");
    expect(ago("2026-12-03T09:00:00Z", now)).toBe("3 h ago");
    expect(ago("2026-11-30T12:00:00Z", now)).toBe("3 d ago");
    expect(ago("2026-12-03T14:00:00Z", now)).toBe("in 2 h");
  });
});
