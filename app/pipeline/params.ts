/** `${name}` references to pipeline parameters inside node params. */
const WHOLE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;
const EMBEDDED = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export interface ParamReference {
  name: string;
  /** Path inside the node's params, e.g. ["split", "seed"]. */
  path: (string | number)[];
}

/** Every `${name}` used in a value, with where it stands. */
export function findReferences(value: unknown, path: (string | number)[] = []): ParamReference[] {
  if (typeof value === "string") {
    return [...value.matchAll(EMBEDDED)].map((m) => ({ name: m[1]!, path }));
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => findReferences(v, [...path, i]));
  if (value && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => findReferences(v, [...path, k]));
  }
  return [];
}

/**
 * Replaces `${name}` with the parameter's value. A string that is exactly one
 * reference takes the value with its type (a number stays a number); a
 * reference inside a longer string is interpolated as text. Unknown names are
 * left as they are (validation reports them).
 */
export function substitute(value: unknown, params: Record<string, unknown>): unknown {
  if (typeof value === "string") {
    const whole = WHOLE.exec(value);
    if (whole && Object.hasOwn(params, whole[1]!)) return params[whole[1]!];
    return value.replace(EMBEDDED, (m, name: string) =>
      Object.hasOwn(params, name) ? String(params[name]) : m,
    );
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, params));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, params)]));
  }
  return value;
}

/**
 * Parses `--param name=value` overrides. The value is read as JSON when it
 * parses (numbers, booleans, arrays), else taken as a string.
 */
export function parseOverrides(pairs: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new Error(`--param expects name=value, got "${pair}"`);
    const name = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // not JSON: keep the text
    }
    // Defined, not assigned: `out["__proto__"] = 1` would set the prototype and hide the name from validation.
    Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}
