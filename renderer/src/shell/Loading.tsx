import type { ReactNode } from "react";

/** A spinner and what is loading, where the data will show. */
export function Loading({ children, testId }: { children: ReactNode; testId?: string }) {
  return (
    <div className="view-loading" data-testid={testId}>
      <span className="spinner" /> {children}
    </div>
  );
}
