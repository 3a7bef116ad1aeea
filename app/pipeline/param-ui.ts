/**
 * How a block's params are presented, declared beside each param with zod's
 * `.meta()` and carried by `z.toJSONSchema` into the JSON Schema the
 * inspector draws its form from (app/api/blocks.ts): the order of the fields,
 * which fold under "Advanced", which show only for some values of another
 * param, and which picker fills them. None of it changes validation, defaults
 * or cache keys.
 */
import { z } from "zod";

/**
 * Shown only while the sibling param `param` (its value, or its default) is
 * one of `in`; or, with `set: true`, while it is given: not an empty text or
 * list, nor an empty object that is its default (`search: {}` is a turned-on
 * section; clean's `cast: {}` casts nothing).
 */
export type ShowWhen = { param: string; in: readonly unknown[] } | { param: string; set: true };

export interface ParamUi {
  /** Position in the form, lowest first: what to predict, then the inputs, the main settings, then the advanced ones. */
  order?: number;
  /** Folded under "Advanced": settings most users leave at their defaults. */
  advanced?: boolean;
  /** Shown only when this holds (any of a list); a hidden param keeps its value. */
  showWhen?: ShowWhen | readonly ShowWhen[];
  /** Never shown: the param does nothing for this block (kept so shared params and old files still validate). */
  hidden?: boolean;
  /** What fills the field: a column (or columns) of the input table, a file of the project, or an expectation suite. */
  picker?: "column" | "columns" | "file" | "suite";
  /** The words for the param in messages ("SQL query"); unset: its name, split into words. */
  label?: string;
}

declare module "zod" {
  interface GlobalMeta extends ParamUi {}
}

/** The part of a param's JSON Schema the messages read. */
interface ParamJsonSchema extends ParamUi {
  type?: string | string[];
  enum?: unknown[];
  properties?: Record<string, ParamJsonSchema>;
  anyOf?: ParamJsonSchema[];
}

/** "maxCategories" → "max categories". */
export function paramWords(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
}

/**
 * What to do about a required param that is missing, said as the step to
 * take: "Choose the target column", "Choose a file", "Enter the SQL query".
 */
export function missingParamMessage(name: string, schema: ParamJsonSchema | undefined): string {
  const label = schema?.label ?? paramWords(name);
  switch (schema?.picker) {
    case "column":
      return `Choose the ${label} column`;
    case "columns":
      return `Choose the columns for ${label}`;
    case "file":
      return "Choose a file";
    case "suite":
      return "Choose a suite of the project, or write one inline";
  }
  const choice = schema?.enum ?? schema?.anyOf?.find((s) => s.enum)?.enum;
  return choice ? `Choose the ${label}` : `Enter the ${label}`;
}

/** The JSON Schema of the param at `path` inside a params object schema. */
function paramSchemaAt(root: ParamJsonSchema, path: readonly PropertyKey[]): ParamJsonSchema | undefined {
  let at: ParamJsonSchema | undefined = root;
  for (const key of path) {
    const props: Record<string, ParamJsonSchema> | undefined =
      at?.properties ?? at?.anyOf?.find((s) => s.properties)?.properties;
    at = typeof key === "string" ? props?.[key] : undefined;
  }
  return at;
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let at = value;
  for (const key of path) {
    if (at === null || typeof at !== "object") return undefined;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at;
}

const jsonSchemas = new WeakMap<z.ZodType, Record<string, unknown>>();

/** A block's params as JSON Schema, as app/api/blocks.ts gives them to the UI (made once per schema). */
export function paramsJsonSchema(params: z.ZodType): Record<string, unknown> {
  let schema = jsonSchemas.get(params);
  if (!schema) {
    schema = z.toJSONSchema(params, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
    jsonSchemas.set(params, schema);
  }
  return schema;
}

/**
 * The message for one of zod's issues with a node's params: for a missing
 * required param, what to do rather than zod's "Invalid input: expected
 * string, received undefined"
 * (`paramsJsonSchema`: the block's params as the UI sees them).
 */
export function paramIssueMessage(
  issue: z.core.$ZodIssue,
  given: unknown,
  paramsJsonSchema: Record<string, unknown>,
): string {
  const name = issue.path[issue.path.length - 1];
  // A missing enum is "invalid_value", a missing string "invalid_type"; a block's own check ("custom") says more.
  if (issue.code === "custom" || typeof name !== "string" || valueAt(given, issue.path) !== undefined)
    return issue.message;
  return missingParamMessage(name, paramSchemaAt(paramsJsonSchema as ParamJsonSchema, issue.path));
}
