import { useId } from "react";
import { formatDefault } from "../jsonSchema";
import type { FieldProps } from "./types";

/** A string (or a `${param}` reference); with a column list, the browser offers the columns. */
export function TextField({ path, schema, value, onChange, columns, invalid }: FieldProps) {
  const listId = useId();
  const text = typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value);
  const multiline = path === "query" || text.length > 60 || text.includes("\n");
  const common = {
    id: `param-${path}`,
    "data-testid": `param-${path}`,
    className: `field-input${invalid ? " invalid" : ""}`,
    value: text,
    placeholder: formatDefault(schema.default),
    spellCheck: false,
  };
  if (multiline)
    return (
      <textarea
        {...common}
        rows={Math.min(8, Math.max(3, text.split("\n").length))}
        onChange={(e) => onChange(e.target.value || undefined)}
      />
    );
  return (
    <>
      <input
        {...common}
        list={columns ? listId : undefined}
        onChange={(e) => onChange(e.target.value || undefined)}
      />
      {columns && (
        <datalist id={listId}>
          {columns.map((c) => (
            <option key={c} value={c} />
          ))}
        </datalist>
      )}
    </>
  );
}
