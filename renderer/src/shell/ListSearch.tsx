import type { Dispatch, SetStateAction } from "react";

/**
 * The search box of a pick-from-a-list popup (command palette, quick add): typing filters
 * and highlights the first match, arrows move the highlight, Enter picks it, Escape closes.
 */
export function ListSearch({
  query,
  count,
  placeholder,
  testId,
  onQuery,
  onActive,
  onPick,
  onClose,
}: {
  query: string;
  /** How many items are shown: the highlight stays within them. */
  count: number;
  placeholder: string;
  testId?: string;
  onQuery(query: string): void;
  onActive: Dispatch<SetStateAction<number>>;
  onPick(): void;
  onClose(): void;
}) {
  return (
    <input
      // biome-ignore lint/a11y/noAutofocus: the popup exists to be typed into
      autoFocus
      className="command-search"
      data-testid={testId}
      placeholder={placeholder}
      value={query}
      onChange={(e) => {
        onQuery(e.target.value);
        onActive(0);
      }}
      onKeyDown={(e) => {
        if (e.key === "Escape") onClose();
        else if (e.key === "ArrowDown") onActive((i) => Math.min(count - 1, i + 1));
        else if (e.key === "ArrowUp") onActive((i) => Math.max(0, i - 1));
        else if (e.key === "Enter") onPick();
        else return;
        e.preventDefault();
      }}
    />
  );
}
