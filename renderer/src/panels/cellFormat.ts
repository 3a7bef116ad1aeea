/**
 * How a table cell reads, by its DuckDB column type. previewTable sends
 * DATE and TIMESTAMP values as ISO text in UTC (a JS Date's toISOString),
 * TIME as microseconds since midnight, BLOB as hex text or an object of
 * index → byte (app/api/handlers/tables.ts, app/data/sql.ts).
 */

/** "2012-01-01T13:04:05.120Z" → "2012-01-01 13:04:05.12"; whole seconds drop the fraction. */
function timestampText(iso: string): string {
  const m = /^([+-]?\d{4,6}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(iso);
  if (!m) return iso;
  const fraction = (m[3] ?? "").replace(/0+$/, "");
  return `${m[1]} ${m[2]}${fraction ? `.${fraction}` : ""}`;
}

/** Microseconds since midnight → "HH:MM:SS" (with the fraction of a second when there is one). */
export function timeOfDayText(micros: number): string {
  if (!Number.isFinite(micros)) return String(micros);
  const totalSeconds = Math.floor(micros / 1e6);
  const fraction = micros - totalSeconds * 1e6;
  const hh = Math.floor(totalSeconds / 3600);
  const mm = Math.floor((totalSeconds % 3600) / 60);
  const ss = totalSeconds % 60;
  const two = (n: number) => String(n).padStart(2, "0");
  const frac = fraction > 0 ? `.${String(Math.round(fraction)).padStart(6, "0").replace(/0+$/, "")}` : "";
  return `${two(hh)}:${two(mm)}:${two(ss)}${frac}`;
}

const isTimestampType = (type: string) => type.startsWith("TIMESTAMP");

/** A cell's text: dates as YYYY-MM-DD, timestamps as YYYY-MM-DD HH:MM:SS, times as HH:MM:SS, blobs by size. */
export function formatCell(v: unknown, type: string): string {
  if (v === null || v === undefined) return "null";
  if (type === "DATE" && typeof v === "string") return v.replace(/T.*$/, "");
  if (isTimestampType(type) && typeof v === "string") {
    const text = timestampText(v);
    return type === "TIMESTAMP WITH TIME ZONE" || type === "TIMESTAMPTZ" ? `${text} UTC` : text;
  }
  if (type === "TIME" && typeof v === "number") return timeOfDayText(v);
  if (type === "BLOB" && (typeof v === "string" || typeof v === "object")) {
    // Hex text, or the bytes as an object of index → byte (how a Buffer crosses as JSON today).
    const bytes = typeof v === "string" ? Math.floor(v.length / 2) : Object.keys(v).length;
    return `‹blob ${bytes.toLocaleString("en-US")} byte${bytes === 1 ? "" : "s"}›`;
  }
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}
