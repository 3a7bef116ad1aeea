/** What every online store shares: the entity key's canonical text and reading a stored row's features. */
import type { EntityKey, FeatureValue, OnlineRow } from "../types";

/**
 * The online key of an entity from its join-key values, in the view's
 * join-key order: canonical JSON (`[1001]`, `["a",7]`). Integers past 2^53
 * are kept as decimal strings, as the store keeps Int64 values.
 */
export function entityKey(values: readonly unknown[]): EntityKey {
  return JSON.stringify(
    values.map((v) => {
      if (typeof v === "bigint")
        return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)
          ? Number(v)
          : String(v);
      if (v === null || v === undefined)
        throw new Error("An entity key value is null: every join key needs a value.");
      if (typeof v !== "number" && typeof v !== "string" && typeof v !== "boolean")
        throw new Error(`An entity key value must be a number, string or boolean (got ${typeof v}).`);
      return v;
    }),
  );
}

/** The stored features (JSON text) reduced to `features`, in that order; a feature the row lacks is null. */
export function pickValues(json: string, features: readonly string[]): Record<string, FeatureValue> {
  const all = JSON.parse(json) as Record<string, FeatureValue>;
  const out: Record<string, FeatureValue> = {};
  for (const f of features) out[f] = Object.hasOwn(all, f) ? all[f]! : null;
  return out;
}

/** A row's features as the stores keep them: JSON text of feature name → value. */
export function valuesText(r: OnlineRow): string {
  return r.valuesJson ?? JSON.stringify(r.values);
}

/** A row's event time in whole ms; a row without one is refused. */
export function eventTime(r: OnlineRow): number {
  if (!Number.isFinite(r.eventTs))
    throw new Error(
      `The row for key ${r.key} has no event time (got ${r.eventTs}): every online row needs one.`,
    );
  return Math.trunc(r.eventTs);
}

/** The online store cannot be opened or reached (a damaged file, Redis away): the message says what to do. */
export class OnlineStoreError extends Error {
  override name = "OnlineStoreError";
}
