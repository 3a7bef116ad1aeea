import { describe, expect, it } from "vitest";
import { formatDuration, formatSpread, formatStat } from "./format";

describe("profile statistics", () => {
  const date = { unit: "epoch_ms" as const, type: "DATE" };
  const timestamp = { unit: "epoch_ms" as const, type: "TIMESTAMP" };
  const time = { unit: "ms" as const, type: "TIME" };
  const interval = { unit: "ms" as const, type: "INTERVAL" };
  const number = { unit: null, type: "DOUBLE" };

  it("shows a date column's std as a duration in days", () => {
    // The seattle-weather date column: std 36,452,046.3 s.
    expect(formatSpread(36_452_046.3 * 1000, date)).toBe("421.9 days");
    expect(formatSpread(90 * 60 * 1000, timestamp)).toBe("1.5 h");
    expect(formatSpread(1.5, number)).toBe("1.5");
    expect(formatDuration(86_400_000)).toBe("1 day");
    expect(formatDuration(12_300)).toBe("12.3 s");
    expect(formatDuration(250)).toBe("250 ms");
    expect(formatDuration(-3 * 60_000)).toBe("-3 min");
    expect(formatDuration(null)).toBe("—");
  });

  it("shows min, max and mean as dates, timestamps, times of day or durations", () => {
    const ms = Date.UTC(2012, 0, 1, 6, 30);
    expect(formatStat(ms, date)).toBe("2012-01-01");
    expect(formatStat(ms, timestamp)).toBe("2012-01-01 06:30:00");
    expect(formatStat(ms, timestamp, true)).toBe("2012-01-01");
    expect(formatStat(Date.UTC(1950, 5, 1), date)).toBe("1950-06-01");
    expect(formatStat((13 * 3600 + 4 * 60 + 5) * 1000, time)).toBe("13:04:05");
    expect(formatStat((13 * 3600 + 4 * 60 + 5) * 1000, time, true)).toBe("13:04");
    expect(formatStat(3 * 86_400_000, interval)).toBe("3 days");
    expect(formatStat(null, date)).toBe("—");
    // Beyond JavaScript's date range: the number, not an exception.
    expect(formatStat(9e15, date)).toBe("9000000000000000");
  });
});
