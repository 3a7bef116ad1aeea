import { formatDefault, isReference } from "../jsonSchema";
import type { FieldProps } from "./types";

/**
 * An enum or a boolean as a select: the default first, the allowed values,
 * then the pipeline parameters as `${name}` references.
 */
export function ChoiceField({ path, schema, value, onChange, paramNames, invalid }: FieldProps) {
  const choices: unknown[] = schema.enum ?? [true, false];
  const key = (v: unknown) => JSON.stringify(v);
  const refs = paramNames.map((p) => `\${${p}}`);
  if (isReference(value) && !refs.includes(value)) refs.push(value);
  const current = value === undefined ? "" : key(value);
  const known = current === "" || choices.some((c) => key(c) === current) || isReference(value);
  return (
    <select
      id={`param-${path}`}
      data-testid={`param-${path}`}
      className={`field-input${invalid ? " invalid" : ""}`}
      value={current}
      onChange={(e) => onChange(e.target.value === "" ? undefined : JSON.parse(e.target.value))}
    >
      <option value="">
        {schema.default !== undefined ? `default (${formatDefault(schema.default)})` : "— choose —"}
      </option>
      {choices.map((c) => (
        <option key={key(c)} value={key(c)}>
          {String(c)}
        </option>
      ))}
      {!known && <option value={current}>{String(value)} (not allowed)</option>}
      {refs.length > 0 && (
        <optgroup label="Pipeline parameter">
          {refs.map((r) => (
            <option key={r} value={key(r)}>
              {r}
            </option>
          ))}
        </optgroup>
      )}
    </select>
  );
}
