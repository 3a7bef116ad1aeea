import { describe, expect, it } from "vitest";
import { formatCell, timeOfDayText } from "./cellFormat";

describe("formatCell: table cells by column type", () => {
  it("shows DATE as YYYY-MM-DD and TIMESTAMP as YYYY-MM-DD HH:MM:SS, as previewTable sends them", () => {
    // previewTable sends a JS Date's toISOString (app/api/handlers/tables.ts).
    const day = new Date(Date.UTC(1900, 2, 1)).toISOString();
    expect(formatCell(day, "DATE")).toBe("1900-03-01");
    expect(formatCell(new Date(Date.UTC(2012, 0, 1, 13, 4, 5)).toISOString(), "TIMESTAMP")).toBe(
      "2012-01-01 13:04:05",
    );
    expect(formatCell(new Date(Date.UTC(2012, 0, 1, 13, 4, 5, 120)).toISOString(), "TIMESTAMP_MS")).toBe(
      "2012-01-01 13:04:05.12",
    );
    expect(formatCell("2012-01-01T00:00:00.000Z", "TIMESTAMP WITH TIME ZONE")).toBe(
      "2012-01-01 00:00:00 UTC",
    );
    // Years beyond 9999 keep ISO's expanded form rather than being cut.
    expect(formatCell(new Date(Date.UTC(12345, 0, 2)).toISOString(), "DATE")).toBe("+012345-01-02");
  });

  it("shows TIME (microseconds since midnight) as HH:MM:SS", () => {
    // 13:04:05.5 is 47,045,500,000 µs, as DuckDB's node client reads TIME '13:04:05.5'.
    expect(formatCell(47_045_500_000, "TIME")).toBe("13:04:05.5");
    expect(formatCell(0, "TIME")).toBe("00:00:00");
    expect(timeOfDayText(86_399_999_999)).toBe("23:59:59.999999");
  });

  it("shows a BLOB by its size, never its bytes", () => {
    expect(formatCell("aabb", "BLOB")).toBe("‹blob 2 bytes›");
    expect(formatCell("ab", "BLOB")).toBe("‹blob 1 byte›");
    expect(formatCell("00".repeat(1234), "BLOB")).toBe("‹blob 1,234 bytes›");
    // A Buffer that crossed as a plain object of index → byte.
    expect(formatCell(JSON.parse(JSON.stringify({ ...Buffer.from("drizzle") })), "BLOB")).toBe(
      "‹blob 7 bytes›",
    );
  });

  it("leaves other values as they are; NULL reads null", () => {
    expect(formatCell(null, "DATE")).toBe("null");
    expect(formatCell(3.5, "DOUBLE")).toBe("3.5");
    expect(formatCell("x", "VARCHAR")).toBe("x");
    expect(formatCell({ months: 0, days: 3 }, "INTERVAL")).toBe('{"months":0,"days":3}');
  });
});
