/**
 * JSON for Api results that keeps NaN and ±Infinity: plain JSON turns them
 * into null, which the UI would show as "absent" (a metric that was NaN is
 * not a metric that was never logged). Non-finite numbers travel as a tagged
 * object `{"$number":"NaN"}` and come back as numbers. No imports, so the
 * renderer may use it.
 */

const TAGS = { NaN: Number.NaN, Infinity: Number.POSITIVE_INFINITY, "-Infinity": Number.NEGATIVE_INFINITY };
type Tag = keyof typeof TAGS;

/** A JSON.stringify replacer that tags non-finite numbers. */
export function encodeNonFinite(_key: string, value: unknown): unknown {
  if (typeof value === "number" && !Number.isFinite(value)) return { $number: String(value) };
  return value;
}

/** A JSON.parse reviver that turns tagged objects back into NaN and ±Infinity. */
export function decodeNonFinite(_key: string, value: unknown): unknown {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const tag = (value as { $number?: unknown }).$number;
    if (typeof tag === "string" && Object.keys(value).length === 1 && Object.hasOwn(TAGS, tag))
      return TAGS[tag as Tag];
  }
  return value;
}

export function stringifyNumbers(value: unknown): string {
  return JSON.stringify(value, encodeNonFinite);
}

export function parseNumbers(text: string): unknown {
  return JSON.parse(text, decodeNonFinite);
}
