/**
 * The retraining loop's records (app/values/loop.ts MonitorLoop) in the
 * `monitor_loops` table. One row per breached window of a monitor (unique on
 * monitor and window start, so a window is never alerted twice, even by two
 * processes at once). A change is a compare-and-set on the stage (and, when
 * asked, on the claim): two processes never take the same step.
 */
import type Database from "better-sqlite3";
import { FINAL_STAGES, type LoopEvent, type LoopStage, MonitorLoop } from "../values/loop";
import { nowIso } from "./sqlite";
import { prepare } from "./statements";
import type { LoopQuery, LoopUpdate, NewLoopInput } from "./types";

interface LoopRow {
  id: number;
  stage: string;
  record: string;
  claim: string | null;
}

const statusOf = (stage: LoopStage): "open" | "closed" => (FINAL_STAGES.includes(stage) ? "closed" : "open");

function toLoop(row: LoopRow): MonitorLoop {
  return MonitorLoop.parse({ ...JSON.parse(row.record), id: row.id });
}

/** Creates the loop of a breached window; undefined when that window of the monitor already has one. */
export function createLoop(db: Database.Database, input: NewLoopInput): MonitorLoop | undefined {
  const at = input.at ?? nowIso();
  const record: Omit<MonitorLoop, "id"> = {
    kind: "monitor-loop",
    monitor: input.monitor,
    model: input.model,
    target: input.target,
    action: input.action,
    window: input.window,
    reasons: input.reasons,
    status: "open",
    stage: "alerted",
    champion: input.champion,
    runId: null,
    challenger: null,
    gate: null,
    canary: null,
    outcome: null,
    createdAt: at,
    updatedAt: at,
    history: [{ at, stage: "alerted", message: input.message, auditId: input.auditId }],
  };
  const id = db
    .transaction((): number | undefined => {
      // Checked first (not INSERT OR IGNORE), so a refused window uses up no id.
      if (
        prepare(db, "SELECT 1 FROM monitor_loops WHERE monitor = ? AND window_start = ?").get(
          input.monitor,
          input.window.start,
        )
      )
        return undefined;
      const res = prepare(
        db,
        `INSERT INTO monitor_loops (monitor, model, target, window_start, stage, status, record, created_at, updated_at)
           VALUES (?, ?, ?, ?, 'alerted', 'open', ?, ?, ?)`,
      ).run(input.monitor, input.model, input.target, input.window.start, JSON.stringify(record), at, at);
      return Number(res.lastInsertRowid);
    })
    .immediate();
  return id === undefined ? undefined : getLoopRecord(db, id);
}

export function getLoopRecord(db: Database.Database, id: number): MonitorLoop | undefined {
  const row = prepare(db, "SELECT id, stage, record, claim FROM monitor_loops WHERE id = ?").get(id) as
    | LoopRow
    | undefined;
  return row ? toLoop(row) : undefined;
}

export function loopClaim(db: Database.Database, id: number): string | null {
  const row = prepare(db, "SELECT claim FROM monitor_loops WHERE id = ?").get(id) as
    | { claim: string | null }
    | undefined;
  return row?.claim ?? null;
}

/** Newest first. */
export function listLoopRecords(db: Database.Database, q: LoopQuery = {}): MonitorLoop[] {
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.monitor !== undefined) {
    where.push("monitor = ?");
    args.push(q.monitor);
  }
  if (q.model !== undefined) {
    where.push("model = ?");
    args.push(q.model);
  }
  if (q.status !== undefined) {
    where.push("status = ?");
    args.push(q.status);
  }
  const sql = `SELECT id, stage, record, claim FROM monitor_loops ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
    ORDER BY id DESC ${q.limit !== undefined ? "LIMIT ?" : ""}`;
  if (q.limit !== undefined) args.push(q.limit);
  return (prepare(db, sql).all(...args) as LoopRow[]).map(toLoop);
}

/**
 * Applies `update` when the loop is still at `expect.stage` (and holds
 * `expect.claim`, when given); answers the new record, or undefined when
 * another step got there first (the caller reads the record again).
 */
export function updateLoopRecord(
  db: Database.Database,
  id: number,
  expect: { stage: LoopStage; claim?: string | null },
  update: LoopUpdate,
): MonitorLoop | undefined {
  return db
    .transaction((): MonitorLoop | undefined => {
      const row = prepare(db, "SELECT id, stage, record, claim FROM monitor_loops WHERE id = ?").get(id) as
        | LoopRow
        | undefined;
      if (!row || row.stage !== expect.stage) return undefined;
      if (expect.claim !== undefined && row.claim !== expect.claim) return undefined;
      const loop = toLoop(row);
      const at = update.at ?? nowIso();
      const stage = update.stage ?? loop.stage;
      const next: MonitorLoop = {
        ...loop,
        stage,
        status: statusOf(stage),
        ...(update.runId !== undefined ? { runId: update.runId } : {}),
        ...(update.challenger !== undefined ? { challenger: update.challenger } : {}),
        ...(update.gate !== undefined ? { gate: update.gate } : {}),
        ...(update.canary !== undefined ? { canary: update.canary } : {}),
        ...(update.outcome !== undefined ? { outcome: update.outcome } : {}),
        updatedAt: at,
        history: update.event
          ? [
              ...loop.history,
              {
                at,
                stage,
                message: update.event.message,
                auditId: update.event.auditId ?? null,
              } satisfies LoopEvent,
            ]
          : loop.history,
      };
      MonitorLoop.parse(next);
      const { id: _id, ...record } = next;
      prepare(
        db,
        "UPDATE monitor_loops SET stage = ?, status = ?, record = ?, claim = ?, updated_at = ? WHERE id = ?",
      ).run(
        stage,
        next.status,
        JSON.stringify(record),
        update.claim !== undefined ? update.claim : row.claim,
        at,
        id,
      );
      return next;
    })
    .immediate();
}
