/** The small part of JSON Schema (as zod's toJSONSchema writes it) that draws the inspector form. */

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
}

export type FieldKind =
  | "string"
  | "number"
  | "integer"
  | "boolean"
  | "enum"
  | "stringList"
  | "numberList"
  | "object"
  | "scalar"
  | "json";

/** `anyOf: [X, {type: "null"}]` (a nullable X) reads as X. */
export function unwrapNullable(schema: JsonSchema): JsonSchema {
  const alts = schema.anyOf ?? schema.oneOf;
  if (!alts) return schema;
  const rest = alts.filter((s) => s.type !== "null");
  return rest.length === 1 ? { ...rest[0], ...withoutAlternatives(schema) } : schema;
}

function withoutAlternatives(schema: JsonSchema): JsonSchema {
  const { anyOf: _a, oneOf: _o, ...rest } = schema;
  return rest;
}

export function fieldKind(raw: JsonSchema): FieldKind {
  const schema = unwrapNullable(raw);
  if (schema.enum) return "enum";
  const type = schema.type;
  if (Array.isArray(type)) {
    const scalar = type.every((t) => ["string", "number", "integer"].includes(t));
    return scalar ? "scalar" : "json";
  }
  switch (type) {
    case "boolean":
      return "boolean";
    case "number":
      return "number";
    case "integer":
      return "integer";
    case "string":
      return "string";
    case "array": {
      const items = schema.items?.type;
      if (items === "string" && !schema.items?.enum) return "stringList";
      if (items === "number" || items === "integer") return "numberList";
      return "json";
    }
    case "object":
      return schema.properties && Object.keys(schema.properties).length ? "object" : "json";
    default:
      return "json";
  }
}

/** "0 – 1", "≥ 2", "> 0": a number's bounds for the help line. */
export function boundsText(schema: JsonSchema): string | null {
  const big = (n: number | undefined) => n !== undefined && Math.abs(n) < 1e15;
  const lo = big(schema.minimum)
    ? `≥ ${schema.minimum}`
    : big(schema.exclusiveMinimum)
      ? `> ${schema.exclusiveMinimum}`
      : null;
  const hi = big(schema.maximum)
    ? `≤ ${schema.maximum}`
    : big(schema.exclusiveMaximum)
      ? `< ${schema.exclusiveMaximum}`
      : null;
  return [lo, hi].filter(Boolean).join(", ") || null;
}

/** A `${param}` reference, which any field may hold as text. */
export const isReference = (v: unknown): v is string => typeof v === "string" && /\$\{[^}]*\}/.test(v);

/** A default as placeholder text; an empty list or object reads "none". */
export function formatDefault(value: unknown): string {
  if (value === undefined) return "";
  if (Array.isArray(value) && !value.length) return "none";
  if (value && typeof value === "object" && !Object.keys(value).length) return "none";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}
