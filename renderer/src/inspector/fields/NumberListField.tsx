import { formatDefault, isReference } from "../jsonSchema";
import { parseScalar } from "./NumberField";
import type { FieldProps } from "./types";
import { useDraft } from "./useDraft";

const format = (v: unknown) => (Array.isArray(v) ? v.join(", ") : v === undefined ? "" : String(v));

function parseList(text: string): { value: unknown } {
  if (!text.trim()) return { value: undefined };
  if (isReference(text.trim())) return { value: text.trim() };
  return {
    value: text
      .split(",")
      .filter((s) => s.trim())
      .map((s) => parseScalar(s).value),
  };
}

/** A list of numbers as "0.05, 0.25, 0.5". */
export function NumberListField({ path, schema, value, onChange, invalid }: FieldProps) {
  const [draft, update] = useDraft(value, format, parseList);
  return (
    <input
      id={`param-${path}`}
      data-testid={`param-${path}`}
      className={`field-input${invalid ? " invalid" : ""}`}
      value={draft}
      placeholder={Array.isArray(schema.default) ? schema.default.join(", ") : formatDefault(schema.default)}
      onChange={(e) => {
        const parsed = update(e.target.value);
        if ("value" in parsed) onChange(parsed.value);
      }}
    />
  );
}
