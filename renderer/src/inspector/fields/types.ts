import type { JsonSchema } from "../jsonSchema";

export interface FieldProps {
  /** Dotted path inside the params, e.g. "missing.strategy"; also the test id (param-<path>). */
  path: string;
  schema: JsonSchema;
  value: unknown;
  /** undefined removes the key: the block's default applies. */
  onChange(value: unknown): void;
  /** Columns of the upstream table, for column pickers, when known. */
  columns?: string[];
  /** Pipeline parameter names, offered as `${name}` references. */
  paramNames: string[];
  invalid: boolean;
}
