import type { History, PipelineDocument } from "./types";

const LIMIT = 300;
/** Changes of the same key closer than this are one undo step (a drag, a burst of typing). */
export const COALESCE_MS = 1200;

export const emptyHistory = (): History => ({ past: [], future: [], last: null });

/** Records that `before` is being replaced; a change coalesced with the previous one adds no step. */
export function record(history: History, before: PipelineDocument, key?: string, now = Date.now()): History {
  const coalesced = key !== undefined && history.last?.key === key && now - history.last.at < COALESCE_MS;
  const last = key !== undefined ? { key, at: now } : null;
  if (coalesced) return { ...history, future: [], last };
  return { past: [...history.past, before].slice(-LIMIT), future: [], last };
}

export function undo(
  history: History,
  current: PipelineDocument,
): { history: History; document?: PipelineDocument } {
  const previous = history.past.at(-1);
  if (!previous) return { history };
  return {
    history: { past: history.past.slice(0, -1), future: [current, ...history.future], last: null },
    document: previous,
  };
}

export function redo(
  history: History,
  current: PipelineDocument,
): { history: History; document?: PipelineDocument } {
  const next = history.future[0];
  if (!next) return { history };
  return {
    history: { past: [...history.past, current], future: history.future.slice(1), last: null },
    document: next,
  };
}
