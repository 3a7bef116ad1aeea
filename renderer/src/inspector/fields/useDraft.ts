import { useEffect, useRef, useState } from "react";

/**
 * Text the user is typing for a value that is stored parsed (a number, a list,
 * JSON). The draft follows the stored value when it changes from elsewhere
 * (undo, a rename), but not while it already reads as that value, so "0." is
 * not snapped back to "0" mid-typing.
 */
export function useDraft(
  value: unknown,
  format: (v: unknown) => string,
  parse: (text: string) => { value: unknown } | { error: string },
): [string, (text: string) => { value: unknown } | { error: string }] {
  const [draft, setDraft] = useState(() => format(value));
  const lastValue = useRef(value);
  useEffect(() => {
    if (Object.is(value, lastValue.current)) return;
    lastValue.current = value;
    const parsed = parse(draft);
    if (!("value" in parsed) || JSON.stringify(parsed.value) !== JSON.stringify(value))
      setDraft(format(value));
  }, [value, draft, format, parse]);
  const update = (text: string) => {
    setDraft(text);
    const parsed = parse(text);
    if ("value" in parsed) lastValue.current = parsed.value;
    return parsed;
  };
  return [draft, update];
}
