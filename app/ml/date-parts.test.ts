import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { type DatePart, datePartColumns, datePartsOf, TIMESTAMP_PARTS } from "./date-parts";

const DAY = 86_400_000;

/** Instants that test the calendar: leap days, century rules, the epoch's edges, far past and future. */
const EDGES = [
  Date.UTC(1970, 0, 1),
  -1, // 1969-12-31T23:59:59.999Z
  0,
  Date.UTC(1969, 11, 31, 12),
  Date.UTC(2000, 1, 29, 23, 59, 59, 999), // 2000 is a leap year (divisible by 400)
  Date.UTC(2000, 2, 1),
  Date.UTC(1900, 1, 28, 5), // 1900 is not (divisible by 100)
  Date.UTC(1900, 2, 1, 6),
  Date.UTC(1600, 1, 29, 1),
  Date.UTC(1904, 1, 29),
  Date.UTC(1960, 1, 29, 18, 30),
  Date.UTC(2024, 1, 29, 23),
  Date.UTC(2100, 1, 28, 22),
  Date.UTC(2100, 2, 1, 22),
  Date.UTC(2012, 11, 31, 23, 59, 59),
  Date.UTC(2013, 0, 1),
  Date.UTC(1901, 0, 1) - 3000 * 365.2425 * DAY, // a proleptic date in year −1099
  Date.UTC(9999, 11, 31, 23),
  -62135596800000, // 0001-01-01T00:00:00Z
];

/** A seeded spread of instants from year 1600 to 2400. */
function spread(n: number): number[] {
  let s = 12345;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const span = Date.UTC(2400, 0, 1) - Date.UTC(1600, 0, 1);
    out.push(Date.UTC(1600, 0, 1) + Math.floor((s / 2 ** 31) * span));
  }
  return out;
}

function parts(ms: number, which: readonly DatePart[] = TIMESTAMP_PARTS): number[] {
  const out = new Float64Array(which.length);
  datePartsOf(ms, which, out);
  return Array.from(out);
}

describe("datePartsOf", () => {
  it("matches JavaScript's Date UTC getters (ISO weekday: Monday 1 … Sunday 7)", () => {
    for (const ms of [...EDGES, ...spread(5000)]) {
      const d = new Date(ms);
      const want = [
        d.getUTCFullYear(),
        d.getUTCMonth() + 1,
        d.getUTCDate(),
        d.getUTCDay() === 0 ? 7 : d.getUTCDay(),
        d.getUTCHours(),
      ];
      expect(parts(ms), new Date(ms).toISOString()).toEqual(want);
    }
  });

  it("matches Python's datetime (isoweekday) on dates before 1970, leap days and far dates", () => {
    const instants = [...EDGES.filter((ms) => ms >= -62135596800000), ...spread(300)];
    const script = `
import sys, json, datetime
epoch = datetime.datetime(1970, 1, 1)
out = []
for ms in json.load(sys.stdin):
    d = epoch + datetime.timedelta(milliseconds=ms)
    out.append([d.year, d.month, d.day, d.isoweekday(), d.hour])
print(json.dumps(out))`;
    const python = JSON.parse(
      execFileSync("/usr/bin/python3", ["-c", script], { input: JSON.stringify(instants) }).toString(),
    ) as number[][];
    expect(instants.map((ms) => parts(ms))).toEqual(python);
  });

  it("gives the asked parts in order, and NaN for every part of a missing or infinite value", () => {
    expect(parts(Date.UTC(2024, 1, 29, 13), ["weekday", "year"])).toEqual([4, 2024]);
    for (const missing of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(parts(missing)).toEqual([Number.NaN, Number.NaN, Number.NaN, Number.NaN, Number.NaN]);
    }
    const [year, hour] = datePartColumns(Float64Array.from([0, Number.NaN, -1]), ["year", "hour"]);
    expect(Array.from(year!)).toEqual([1970, Number.NaN, 1969]);
    expect(Array.from(hour!)).toEqual([0, Number.NaN, 23]);
  });
});
