/**
 * The retraining loop's records (app/values/loop.ts MonitorLoop) in the
 * `monitor_loops` table. One row per breached window of a monitor (unique on
 * monitor and window start, so a window is never alerted twice, even by two
 * processes at once). A change is a compare-and-set on the stage (and, when
 * asked, on the claim): two processes never take the same step.
 */
import { FINAL_STAGES, type LoopEvent, type LoopStage, MonitorLoop } from "../values/loop";
import type { Sql, SqlParam } from "./sql";
import { nowIso } from "./sqlite";
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
export function createLoop(sql: Sql, input: NewLoopInput): MonitorLoop | undefined {
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
  const id = sql.write((): number | undefined => {
    // Checked first (not ON CONFLICT DO NOTHING), so a refused window uses up no id. The lock makes a
    // second process wait for the first's commit and then see its row; the unique (monitor,
    // window_start) stays the backstop.
    sql.lock(`monitor:${input.monitor}`);
    if (
      sql.get(
        "SELECT 1 FROM monitor_loops WHERE monitor = ? AND window_start = ?",
        input.monitor,
        input.window.start,
      )
    )
      return undefined;
    return sql.value<number>(
      `INSERT INTO monitor_loops (monitor, model, target, window_start, stage, status, record, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'alerted', 'open', ?, ?, ?) RETURNING id`,
      input.monitor,
      input.model,
      input.target,
      input.window.start,
      JSON.stringify(record),
      at,
      at,
    );
  });
  return id === undefined ? undefined : getLoopRecord(sql, Number(id));
}

export function getLoopRecord(sql: Sql, id: number): MonitorLoop | undefined {
  const row = sql.get<LoopRow>("SELECT id, stage, record, claim FROM monitor_loops WHERE id = ?", id);
  return row ? toLoop(row) : undefined;
}

export function loopClaim(sql: Sql, id: number): string | null {
  const row = sql.get<{ claim: string | null }>("SELECT claim FROM monitor_loops WHERE id = ?", id);
  return row?.claim ?? null;
}

/** Newest first. */
export function listLoopRecords(sql: Sql, q: LoopQuery = {}): MonitorLoop[] {
  const where: string[] = [];
  const args: SqlParam[] = [];
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
  const text = `SELECT id, stage, record, claim FROM monitor_loops ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
    ORDER BY id DESC ${q.limit !== undefined ? "LIMIT ?" : ""}`;
  if (q.limit !== undefined) args.push(q.limit);
  return sql.all<LoopRow>(text, ...args).map(toLoop);
}

/**
 * Applies `update` when the loop is still at `expect.stage` (and holds
 * `expect.claim`, when given); answers the new record, or undefined when
 * another step got there first (the caller reads the record again).
 */
export function updateLoopRecord(
  sql: Sql,
  id: number,
  expect: { stage: LoopStage; claim?: string | null },
  update: LoopUpdate,
): MonitorLoop | undefined {
  return sql.write((): MonitorLoop | undefined => {
    // Two processes stepping the same loop take turns (PostgreSQL reads committed rows otherwise).
    sql.lock(`loop:${id}`);
    const row = sql.get<LoopRow>("SELECT id, stage, record, claim FROM monitor_loops WHERE id = ?", id);
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
    sql.run(
      "UPDATE monitor_loops SET stage = ?, status = ?, record = ?, claim = ?, updated_at = ? WHERE id = ?",
      stage,
      next.status,
      JSON.stringify(record),
      update.claim !== undefined ? update.claim : row.claim,
      at,
      id,
    );
    return next;
  });
}
