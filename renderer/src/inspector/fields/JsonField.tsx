import { formatDefault } from "../jsonSchema";
import type { FieldProps } from "./types";
import { useDraft } from "./useDraft";

const format = (v: unknown) => (v === undefined ? "" : JSON.stringify(v, null, 1));

function parseJson(text: string): { value: unknown } | { error: string } {
  if (!text.trim()) return { value: undefined };
  try {
    return { value: JSON.parse(text) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** Records, objects without listed properties, and anything else: JSON text, applied when it parses. */
export function JsonField({ path, schema, value, onChange, invalid }: FieldProps) {
  const [draft, update] = useDraft(value, format, parseJson);
  const parsed = parseJson(draft);
  return (
    <>
      <textarea
        id={`param-${path}`}
        data-testid={`param-${path}`}
        className={`field-input mono${invalid || "error" in parsed ? " invalid" : ""}`}
        rows={Math.min(6, Math.max(2, draft.split("\n").length))}
        value={draft}
        spellCheck={false}
        placeholder={formatDefault(schema.default)}
        onChange={(e) => {
          const next = update(e.target.value);
          if ("value" in next) onChange(next.value);
        }}
      />
      {"error" in parsed && <div className="field-message">Not JSON yet: {parsed.error}</div>}
    </>
  );
}
