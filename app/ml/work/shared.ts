/**
 * Column tables whose arrays live in SharedArrayBuffers: a message to a
 * worker then carries views of the same memory, not copies.
 */
import type { ColumnTable, RawColumn } from "../dataset";

type SharableArray = Float64Array | Int32Array | Uint8Array;

/** `a` itself when it is already backed by a SharedArrayBuffer, else a shared copy (one copy, once). */
export function shared<T extends SharableArray>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const Ctor = a.constructor as new (buffer: SharedArrayBuffer) => T;
  const copy = new Ctor(new SharedArrayBuffer(a.byteLength));
  copy.set(a as never);
  return copy;
}

/** A typed array of `length` in shared memory. */
export function sharedArray<T extends SharableArray>(
  Ctor: { new (buffer: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number },
  length: number,
): T {
  return new Ctor(new SharedArrayBuffer(length * Ctor.BYTES_PER_ELEMENT));
}

function shareColumn(c: RawColumn): RawColumn {
  return c.kind === "numeric" ? { ...c, values: shared(c.values) } : { ...c, codes: shared(c.codes) };
}

/** `table` with every column's array in shared memory. */
export function shareTable(table: ColumnTable): ColumnTable {
  return { rows: table.rows, columns: table.columns.map(shareColumn) };
}

/** Rows [start, end) of `table` as views of its arrays (no copy). */
export function sliceTable(table: ColumnTable, start: number, end: number): ColumnTable {
  return {
    rows: end - start,
    columns: table.columns.map((c) =>
      c.kind === "numeric"
        ? { ...c, values: c.values.subarray(start, end) }
        : { ...c, codes: c.codes.subarray(start, end) },
    ),
  };
}
