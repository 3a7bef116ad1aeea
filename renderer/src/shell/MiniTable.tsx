import type { ReactNode } from "react";

/** A small read-only table, one `<tr>` a record from `row`; `empty` says so when there are none. */
export function MiniTable<T>({
  rows,
  testId,
  head,
  empty,
  row,
}: {
  rows: T[];
  testId: string;
  head?: string[];
  empty: string;
  row(record: T): ReactNode;
}) {
  if (!rows.length) return <p className="muted small">{empty}</p>;
  return (
    <table className="mini-table" data-testid={testId}>
      {head && (
        <thead>
          <tr>
            {head.map((h) => (
              <th key={h}>{h}</th>
            ))}
          </tr>
        </thead>
      )}
      <tbody>{rows.map((r) => row(r))}</tbody>
    </table>
  );
}
