/**
 * The one generic form every block's params are drawn with, from the block's
 * JSON Schema: labels, defaults as placeholders, help text, bounds, and the
 * core's validation messages under the field they concern. The block declares
 * the presentation with each param (app/pipeline/param-ui.ts): the order, the
 * "Advanced" fold, the params shown only for some values of another, and
 * which fields pick a column or a file.
 */
import { type ComponentType, useState } from "react";
import type { LocatedProblem } from "../store/validation";
import { ChoiceField } from "./fields/ChoiceField";
import { JsonField } from "./fields/JsonField";
import { NumberField } from "./fields/NumberField";
import { NumberListField } from "./fields/NumberListField";
import { PathField } from "./fields/PathField";
import { StringListField } from "./fields/StringListField";
import { SuiteField } from "./fields/SuiteField";
import { TextField } from "./fields/TextField";
import type { FieldProps } from "./fields/types";
import {
  boundsText,
  type FieldKind,
  type FormEntry,
  fieldKind,
  formLayout,
  isOptionalSection,
  isSuiteParam,
  type JsonSchema,
  unwrapNullable,
} from "./jsonSchema";
import "./inspector.css";

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

/** A problem at `path` or inside it. */
const underParamPath = (p: LocatedProblem, path: string[]) =>
  p.param !== undefined && p.param.length >= path.length && path.every((s, i) => p.param?.[i] === s);

function Messages({ messages }: { messages: LocatedProblem[] }) {
  return (
    <>
      {messages.map((m) => (
        <div className="field-message" key={m.message}>
          {m.message}
        </div>
      ))}
    </>
  );
}

/**
 * An object param. An optional one with required fields (train's `search`)
 * is a section the user turns on: its fields, and their required marks, show
 * only once it is on; off removes it from the params.
 */
function ObjectRow({ name, path, schema: raw, required, value, onChange, ...ctx }: FieldRowProps) {
  const schema = unwrapNullable(raw);
  const dotted = path.join(".");
  const messages = ctx.problems.filter((p) => sameParamPath(p, path));
  const toggled = isOptionalSection(raw, required);
  const on = !toggled || value !== undefined;
  return (
    <section
      className={`field-group${toggled ? " field-section" : ""}${messages.length ? " has-error" : ""}`}
      data-testid={`group-${dotted}`}
    >
      <div className="field-group-head">
        {toggled ? (
          <label className="field-group-toggle">
            <input
              type="checkbox"
              data-testid={`section-${dotted}`}
              checked={on}
              onChange={(e) => onChange(e.target.checked ? {} : undefined)}
            />
            <span className="field-group-title">{name}</span>
          </label>
        ) : (
          <span className="field-group-title">{name}</span>
        )}
      </div>
      {/* clean's "outliers" is described as "Outliers": a description that only repeats the name is left out. */}
      {schema.description && schema.description.toLowerCase() !== name.toLowerCase() && (
        <div className="field-help">{schema.description}</div>
      )}
      {on && (
        <div className="field-group-body">
          <ObjectFields
            schema={schema}
            path={path}
            value={value && typeof value === "object" ? (value as Record<string, unknown>) : {}}
            keepEmpty={toggled}
            onChange={onChange}
            {...ctx}
          />
        </div>
      )}
      <Messages messages={messages} />
    </section>
  );
}

function FieldRow(props: FieldRowProps) {
  const { name, path, schema: raw, required, value, onChange, ...ctx } = props;
  const schema = unwrapNullable(raw);
  const kind = fieldKind(schema);
  if (kind === "object") return <ObjectRow {...props} />;
  const messages = ctx.problems.filter((p) => sameParamPath(p, path));
  const bounds = kind === "number" || kind === "integer" ? boundsText(schema) : null;
  const picksColumns = schema.picker === "column" || schema.picker === "columns";
  const columns = picksColumns && (kind === "string" || kind === "stringList") ? ctx.columns : undefined;
  const dotted = path.join(".");
  // A param declared with `picker: "file"` (ingest.file's path) offers the project's data files;
  // an expectation suite (validate.expectations) the project's suites, or a suite typed inline.
  const Control = isSuiteParam(schema)
    ? SuiteField
    : kind === "string" && schema.picker === "file"
      ? PathField
      : CONTROLS[kind];
  return (
    <div className={`field${messages.length ? " has-error" : ""}`} data-testid={`field-${dotted}`}>
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
      <Messages messages={messages} />
    </div>
  );
}

interface ObjectFieldsProps extends FormContext {
  schema: JsonSchema;
  path: string[];
  value: Record<string, unknown>;
  /** Keep `{}` when the last field is cleared (a section that is on), rather than removing the object. */
  keepEmpty?: boolean;
  onChange(value: Record<string, unknown> | undefined): void;
}

function ObjectFields({ schema, path, value, keepEmpty, onChange, ...ctx }: ObjectFieldsProps) {
  const [advancedOpen, setAdvancedOpen] = useState(false);
  const set = (key: string, v: unknown) => {
    const next = { ...value };
    if (v === undefined) delete next[key];
    else next[key] = v;
    onChange(Object.keys(next).length || keepEmpty || path.length === 0 ? next : undefined);
  };
  // A param with a problem stays visible, even where its condition would hide it, so it can be fixed.
  const hasProblem = (key: string) => ctx.problems.some((p) => underParamPath(p, [...path, key]));
  const layout = formLayout(schema, value, hasProblem);
  const row = ({ name, schema: sub, required }: FormEntry) => (
    <FieldRow
      key={name}
      name={name}
      path={[...path, name]}
      schema={sub}
      required={required}
      value={value[name]}
      onChange={(v) => set(name, v)}
      {...ctx}
    />
  );
  const advancedShown = advancedOpen || layout.advanced.some((e) => hasProblem(e.name));
  const changed = layout.advanced.filter((e) => value[e.name] !== undefined).length;
  const dotted = path.join(".") || "params";
  return (
    <>
      {layout.main.map(row)}
      {layout.advanced.length > 0 && (
        <div className="field-advanced" data-testid={`advanced-${dotted}`}>
          <button
            type="button"
            className="field-advanced-toggle"
            data-testid={`advanced-toggle-${dotted}`}
            aria-expanded={advancedShown}
            onClick={() => setAdvancedOpen(!advancedShown)}
          >
            <span aria-hidden="true">{advancedShown ? "▾" : "▸"}</span> Advanced
            <span className="muted">
              {" "}
              · {layout.advanced.length} setting{layout.advanced.length === 1 ? "" : "s"}
              {changed > 0 && `, ${changed} changed`}
            </span>
          </button>
          {advancedShown && <div className="field-advanced-body">{layout.advanced.map(row)}</div>}
        </div>
      )}
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
