/**
 * Calendar parts of a date or timestamp, read as epoch milliseconds (as
 * app/ml/dataset.ts reads DATE and TIMESTAMP columns): year, month, day of
 * the month, ISO weekday and hour, all in UTC, for dates before 1970 too.
 *
 * The days-to-civil-date step is `civil_from_days` from Howard Hinnant,
 * "chrono-Compatible Low-Level Date Algorithms"
 * (https://howardhinnant.github.io/date_algorithms.html), with its integer
 * divisions written as floor(a / b) in float64. The ONNX export
 * (app/ml/onnx/date-parts.ts) runs the very same operations in the same
 * order (Div, Floor, Mul, Add, Sub on DOUBLE), so the native model and the
 * served one give the same parts bit for bit. Every intermediate is an integer
 * far below 2^53, so each float64 step is exact for whole milliseconds
 * (DuckDB's `epoch_ms` gives whole milliseconds); a fractional quotient is at
 * least 1/86,400,000 from the next integer, far above float64's rounding.
 */
import type { DatePart } from "../values/model";

export type { DatePart };

export const MS_PER_DAY = 86_400_000;
export const MS_PER_HOUR = 3_600_000;

/** The parts a DATE column gives; a TIMESTAMP also gives the hour. */
export const DATE_PARTS: readonly DatePart[] = ["year", "month", "day", "weekday"];
export const TIMESTAMP_PARTS: readonly DatePart[] = [...DATE_PARTS, "hour"];

/** Whether a column of this DuckDB type is a calendar date or time stamp (not TIME, not INTERVAL). */
export function isDateType(type: string): boolean {
  return type === "DATE" || type.startsWith("TIMESTAMP");
}

/** The parts a column of this DuckDB type is split into. */
export function datePartsFor(type: string): readonly DatePart[] {
  return type === "DATE" ? DATE_PARTS : TIMESTAMP_PARTS;
}

/** The encoded feature name of a part of column `column`. */
export function datePartName(column: string, part: DatePart): string {
  return `${column}.${part}`;
}

const floorDiv = (a: number, b: number): number => Math.floor(a / b);

/**
 * The parts of one instant (milliseconds since 1970-01-01T00:00:00Z), in
 * `parts` order, written to `out` at `offset`. A non-finite input (NULL read
 * as NaN, ±Infinity) gives NaN for every part: missing.
 */
export function datePartsOf(ms: number, parts: readonly DatePart[], out: Float64Array, offset = 0): void {
  if (!Number.isFinite(ms)) {
    out.fill(Number.NaN, offset, offset + parts.length);
    return;
  }
  // The same steps, in the same order, as appendDateParts in app/ml/onnx/date-parts.ts.
  const days = floorDiv(ms, MS_PER_DAY);
  const z = days + 719468;
  const era = floorDiv(z, 146097);
  const doe = z - era * 146097;
  const yoe = floorDiv(doe - floorDiv(doe, 1460) + floorDiv(doe, 36524) - floorDiv(doe, 146096), 365);
  const doy = doe - (yoe * 365 + floorDiv(yoe, 4) - floorDiv(yoe, 100));
  const mp = floorDiv(doy * 5 + 2, 153);
  const day = doy - floorDiv(mp * 153 + 2, 5) + 1;
  // mp counts months from March: 10 and 11 are January and February of the next year.
  const wrap = floorDiv(mp, 10);
  const month = mp + 3 - wrap * 12;
  const year = yoe + era * 400 + wrap;
  // 1970-01-01 was a Thursday (ISO 4).
  const shifted = days + 3;
  const weekday = shifted - floorDiv(shifted, 7) * 7 + 1;
  const hour = floorDiv(ms - days * MS_PER_DAY, MS_PER_HOUR);
  const values: Record<DatePart, number> = { year, month, day, weekday, hour };
  for (let k = 0; k < parts.length; k++) out[offset + k] = values[parts[k]!];
}

/** One part of every value of an epoch-milliseconds column (NaN where the value is missing). */
export function datePartColumns(values: Float64Array, parts: readonly DatePart[]): Float64Array[] {
  const columns = parts.map(() => new Float64Array(values.length));
  const row = new Float64Array(parts.length);
  for (let i = 0; i < values.length; i++) {
    datePartsOf(values[i]!, parts, row);
    for (let k = 0; k < parts.length; k++) columns[k]![i] = row[k]!;
  }
  return columns;
}
