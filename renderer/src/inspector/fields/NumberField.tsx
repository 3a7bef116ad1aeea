import { formatDefault } from "../jsonSchema";
import type { FieldProps } from "./types";
import { useDraft } from "./useDraft";

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

const format = (v: unknown) => (v === undefined ? "" : typeof v === "string" ? v : String(v));

/** Text becomes a number when it reads as one; anything else (a `${param}`) stays text for the core to judge. */
export function parseScalar(text: string): { value: unknown } {
  const t = text.trim();
  if (!t) return { value: undefined };
  return { value: NUMBER.test(t) ? Number(t) : text };
}

/** A number, integer, or number-or-string: a text box, so `${param}` references fit. */
export function NumberField({ path, schema, value, onChange, invalid }: FieldProps) {
  const [draft, update] = useDraft(value, format, parseScalar);
  return (
    <input
      id={`param-${path}`}
      data-testid={`param-${path}`}
      className={`field-input${invalid ? " invalid" : ""}`}
      inputMode="decimal"
      value={draft}
      placeholder={formatDefault(schema.default)}
      onChange={(e) => {
        const parsed = update(e.target.value);
        if ("value" in parsed) onChange(parsed.value);
      }}
    />
  );
}
