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
  // How the form presents a param, declared with the param (app/pipeline/param-ui.ts).
  order?: number;
  advanced?: boolean;
  showWhen?: ShowWhen | ShowWhen[];
  hidden?: boolean;
  picker?: "column" | "columns" | "file" | "suite";
  label?: string;
}

/**
 * An expectation suite param (validate.expectations' `suite`): declared with
 * `picker: "suite"`, or shaped as one, `{ path } | { inline }`.
 */
export function isSuiteParam(schema: JsonSchema): boolean {
  if (schema.picker === "suite") return true;
  const alts = schema.anyOf ?? schema.oneOf;
  const keys = alts?.map((a) => Object.keys(a.properties ?? {}).join());
  return !!keys && keys.length === 2 && keys.includes("path") && keys.includes("inline");
}

/** Shown only while the sibling `param` (its value, or its default) is one of `in`, or is set. */
export type ShowWhen = { param: string; in: unknown[] } | { param: string; set: true };

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

/**
 * Whether a sibling is set: given, and not an empty text or list. An empty
 * object is set when it is not the default: `{}` is a turned-on section
 * (train's `search`), while clean's `cast: {}` is its default, nothing to cast.
 */
function isSet(value: unknown, schema: JsonSchema | undefined): boolean {
  if (value === undefined || value === null || value === "") return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object" && !Object.keys(value).length) return schema?.default === undefined;
  return true;
}

/**
 * Whether a param does something for the values of its siblings (`values`,
 * with the schema's defaults standing in for unset ones). A `${param}`
 * reference could hold anything, so a condition on one holds.
 */
export function isShown(schema: JsonSchema, object: JsonSchema, values: Record<string, unknown>): boolean {
  if (schema.hidden) return false;
  if (!schema.showWhen) return true;
  const conditions = Array.isArray(schema.showWhen) ? schema.showWhen : [schema.showWhen];
  return conditions.some((c) => {
    const sibling = object.properties?.[c.param];
    if ("set" in c) return isReference(values[c.param]) || isSet(values[c.param], sibling);
    const value = values[c.param] ?? sibling?.default;
    if (isReference(value)) return true;
    return c.in.some((v) => JSON.stringify(v) === JSON.stringify(value));
  });
}

/** An optional object with required fields (train's `search`, gate's `champion`): a section the user turns on. */
export function isOptionalSection(schema: JsonSchema, required: boolean): boolean {
  const s = unwrapNullable(schema);
  return !required && s.default === undefined && fieldKind(s) === "object" && (s.required?.length ?? 0) > 0;
}

export interface FormEntry {
  name: string;
  schema: JsonSchema;
  required: boolean;
}

export interface FormLayout {
  /** The params to show, most important first. */
  main: FormEntry[];
  /** Shown params declared advanced, folded under "Advanced". */
  advanced: FormEntry[];
  /** Params that do nothing for the current values; they keep their values. */
  hidden: string[];
}

/**
 * Which of an object's params the form shows, and in what order: by their
 * declared `order` (undeclared ones after, as listed), the advanced ones
 * apart, and those whose `showWhen` fails (or `hidden`) left out unless
 * `keep` says they must stay visible (a problem points at them).
 */
export function formLayout(
  object: JsonSchema,
  values: Record<string, unknown>,
  keep: (name: string) => boolean = () => false,
): FormLayout {
  const required = new Set(object.required ?? []);
  const entries = Object.entries(object.properties ?? {}).map(([name, schema], index) => ({
    name,
    schema,
    required: required.has(name),
    rank: schema.order ?? Number.POSITIVE_INFINITY,
    index,
  }));
  entries.sort((a, b) => a.rank - b.rank || a.index - b.index);
  const layout: FormLayout = { main: [], advanced: [], hidden: [] };
  for (const { name, schema, required } of entries) {
    if (!isShown(schema, object, values) && !keep(name)) layout.hidden.push(name);
    else (schema.advanced ? layout.advanced : layout.main).push({ name, schema, required });
  }
  return layout;
}
