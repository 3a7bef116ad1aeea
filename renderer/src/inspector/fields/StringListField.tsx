import { type KeyboardEvent, useId, useState } from "react";
import { isReference } from "../jsonSchema";
import type { FieldProps } from "./types";

/** A list of strings as chips; with a column list, adding offers the upstream columns. */
export function StringListField({ path, value, onChange, columns, invalid }: FieldProps) {
  const listId = useId();
  const [text, setText] = useState("");
  if (isReference(value) || (value !== undefined && !Array.isArray(value))) {
    return (
      <input
        id={`param-${path}`}
        data-testid={`param-${path}`}
        className={`field-input${invalid ? " invalid" : ""}`}
        value={typeof value === "string" ? value : JSON.stringify(value)}
        onChange={(e) => onChange(e.target.value || undefined)}
      />
    );
  }
  const items = (value as unknown[] | undefined) ?? [];
  const add = (raw: string) => {
    const names = raw
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s && !items.includes(s));
    if (names.length) onChange([...items, ...names]);
    setText("");
  };
  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === "Enter" || e.key === ",") {
      e.preventDefault();
      add(text);
    } else if (e.key === "Backspace" && !text && items.length) {
      onChange(items.length > 1 ? items.slice(0, -1) : undefined);
    }
  };
  const offered = columns?.filter((c) => !items.includes(c));
  return (
    <div className={`chips${invalid ? " invalid" : ""}`}>
      {items.map((item, i) => (
        <span className="chip" key={String(item)}>
          {String(item)}
          <button
            type="button"
            aria-label={`Remove ${String(item)}`}
            onClick={() => {
              const next = items.filter((_, j) => j !== i);
              onChange(next.length ? next : undefined);
            }}
          >
            ×
          </button>
        </span>
      ))}
      <input
        id={`param-${path}`}
        data-testid={`param-${path}`}
        className="chip-input"
        value={text}
        list={offered ? listId : undefined}
        placeholder={items.length ? "" : columns ? "add a column…" : "add… (Enter)"}
        onChange={(e) => {
          // Choosing from the datalist fills the whole value at once: take it as an item.
          if (offered?.includes(e.target.value)) add(e.target.value);
          else setText(e.target.value);
        }}
        onKeyDown={onKeyDown}
        onBlur={() => text && add(text)}
      />
      {offered && (
        <datalist id={listId}>
          {offered.map((c) => (
            <option key={c} value={c} />
          ))}
        </datalist>
      )}
    </div>
  );
}
