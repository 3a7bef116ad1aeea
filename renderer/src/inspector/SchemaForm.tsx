/**
 * The one generic form every block's params are drawn with, from the block's
 * JSON Schema: labels, defaults as placeholders, help text, bounds, and the
 * core's validation messages under the field they concern.
 */
import type { ComponentType } from "react";
import type { LocatedProblem } from "../store/validation";
import { ChoiceField } from "./fields/ChoiceField";
import { JsonField } from "./fields/JsonField";
import { NumberField } from "./fields/NumberField";
import { NumberListField } from "./fields/NumberListField";
import { StringListField } from "./fields/StringListField";
import { TextField } from "./fields/TextField";
import type { FieldProps } from "./fields/types";
import { boundsText, type FieldKind, fieldKind, type JsonSchema, unwrapNullable } from "./jsonSchema";

/** Param names that hold column names of the input table: they get a column picker. */
const COLUMN_FIELDS = new Set(["column", "target", "features", "keep", "drop", "dedupeOn", "columns"]);

const CONTROLS: Record<Exclude<FieldKind, "object">, ComponentType<FieldProps>> = {
  string: TextField,
  number: NumberField,
  integer: NumberField,
  scalar: NumberField,
  boolean: ChoiceField,
  enum: ChoiceField,
  stringList: StringListField,
  numberList: NumberListField,
  json: JsonField,
};

interface FormContext {
  problems: LocatedProblem[];
  columns?: string[];
  paramNames: string[];
}

interface FieldRowProps extends FormContext {
  name: string;
  path: string[];
  schema: JsonSchema;
  required: boolean;
  value: unknown;
  onChange(value: unknown): void;
}

const sameParamPath = (p: LocatedProblem, path: string[]) =>
  p.param !== undefined && p.param.length === path.length && p.param.every((s, i) => s === path[i]);

function FieldRow({ name, path, schema: raw, required, value, onChange, ...ctx }: FieldRowProps) {
  const schema = unwrapNullable(raw);
  const kind = fieldKind(schema);
  const messages = ctx.problems.filter((p) => sameParamPath(p, path));
  const bounds = kind === "number" || kind === "integer" ? boundsText(schema) : null;
  const columns =
    COLUMN_FIELDS.has(name) && (kind === "string" || kind === "stringList") ? ctx.columns : undefined;
  const dotted = path.join(".");
  if (kind === "object") {
    return (
      <fieldset className="field-group">
        <legend>
          {name}
          {schema.description && <span className="field-help"> — {schema.description}</span>}
        </legend>
        <ObjectFields
          schema={schema}
          path={path}
          value={value && typeof value === "object" ? (value as Record<string, unknown>) : {}}
          onChange={onChange}
          {...ctx}
        />
        {messages.map((m) => (
          <div className="field-message" key={m.message}>
            {m.message}
          </div>
        ))}
      </fieldset>
    );
  }
  const Control = CONTROLS[kind];
  return (
    <div className={`field${messages.length ? " has-error" : ""}`}>
      <div className="field-label">
        <label htmlFor={`param-${dotted}`}>
          {name}
          {required && (
            <span className="required" title="required">
              *
            </span>
          )}
        </label>
        {value !== undefined && (
          <button
            type="button"
            className="field-reset"
            title="Reset to the default"
            onClick={() => onChange(undefined)}
          >
            reset
          </button>
        )}
      </div>
      <Control
        path={dotted}
        schema={schema}
        value={value}
        onChange={onChange}
        columns={columns}
        paramNames={ctx.paramNames}
        invalid={messages.length > 0}
      />
      {(schema.description || bounds) && (
        <div className="field-help">
          {schema.description}
          {bounds && <span className="field-bounds"> ({bounds})</span>}
        </div>
      )}
      {messages.map((m) => (
        <div className="field-message" key={m.message}>
          {m.message}
        </div>
      ))}
    </div>
  );
}

interface ObjectFieldsProps extends FormContext {
  schema: JsonSchema;
  path: string[];
  value: Record<string, unknown>;
  onChange(value: Record<string, unknown> | undefined): void;
}

function ObjectFields({ schema, path, value, onChange, ...ctx }: ObjectFieldsProps) {
  const required = new Set(schema.required ?? []);
  const set = (key: string, v: unknown) => {
    const next = { ...value };
    if (v === undefined) delete next[key];
    else next[key] = v;
    onChange(Object.keys(next).length || path.length === 0 ? next : undefined);
  };
  return (
    <>
      {Object.entries(schema.properties ?? {}).map(([key, sub]) => (
        <FieldRow
          key={key}
          name={key}
          path={[...path, key]}
          schema={sub}
          required={required.has(key)}
          value={value[key]}
          onChange={(v) => set(key, v)}
          {...ctx}
        />
      ))}
    </>
  );
}

export interface SchemaFormProps extends FormContext {
  schema: JsonSchema;
  value: Record<string, unknown>;
  onChange(value: Record<string, unknown>): void;
}

/** Params the schema does not list are kept as they are (and the core reports them). */
export function SchemaForm({ schema, value, onChange, ...ctx }: SchemaFormProps) {
  return (
    <div className="schema-form">
      <ObjectFields schema={schema} path={[]} value={value} onChange={(v) => onChange(v ?? {})} {...ctx} />
    </div>
  );
}
