/**
 * The local journal: where a run's tracking goes while the team store (PostgreSQL) cannot be
 * reached, so the run's local work is kept and can be synced later (`dagwood store sync`).
 *
 * The journal is a SQLite metadata store with the same schema (`.dagwood/pending/journal.sqlite`)
 * plus one table of its own, `pending_runs`: the runs waiting to be synced, the team store they
 * belong to, and for a run that switched mid-way the rows it already had in the team store (how many
 * node runs, metrics and log lines it had at the switch, replayed here: its first ones in insertion
 * order; those after them are new). Counted per run, not as a table's highest rowid at the switch:
 * a sync of another run deletes that run's rows, and SQLite then hands out rowids again from the
 * new maximum, below such a mark.
 *
 * `JournalingStore` is the `MetadataStore` a project opens on a team store: it delegates to the
 * team store and, when a tracking write fails because the team store is unreachable, moves the
 * run to the journal — it replays there what this process already wrote of the run (it keeps
 * those calls while the run is open) and goes on. Registry writes and other shared records
 * (monitor loops, feature view versions) are never journalled: they fail with a clear error.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { MonitorLoop } from "../values/loop";
import { ownerState } from "./liveness";
import { type MetadataStoreOptions, SqlMetadataStore } from "./metadata";
import { type Sql, SqliteSql, type SqlParam } from "./sql";
import { nowIso, openMetadataDatabase } from "./sqlite";
import type {
  ArtifactRecord,
  DatasetRecord,
  DatasetTestRecord,
  FeatureViewVersion,
  LogRecord,
  LoopQuery,
  LoopUpdate,
  MetadataStore,
  MetricRecord,
  NewLoopInput,
  NodeRunRecord,
  Registry,
  RunEnvironment,
  RunQuery,
  RunStatus,
  StartRunInput,
  TrialRunInput,
} from "./types";

/** The journal file, relative to the project folder. */
export const JOURNAL_FILE = join(".dagwood", "pending", "journal.sqlite");
/** The run tag a journalled run carries: "pending" until synced, then "synced". */
export const STORE_TAG = "store";

export const journalPath = (projectDir: string): string => join(projectDir, JOURNAL_FILE);

/**
 * Whether an error says the team store cannot be reached (app/store/postgres.ts `StoreError`
 * with kind "unreachable": a refused or broken connection, SQLSTATE class 08). Told by its
 * name and kind, so this module does not load the PostgreSQL driver.
 */
export function isUnreachable(e: unknown): boolean {
  return e instanceof Error && e.name === "StoreError" && (e as { kind?: unknown }).kind === "unreachable";
}

/** The team store is unreachable and the operation cannot be kept locally. */
export class TeamStoreUnreachableError extends Error {
  override name = "TeamStoreUnreachableError";
}

const PENDING_TABLE = `CREATE TABLE IF NOT EXISTS pending_runs (
  run_id TEXT PRIMARY KEY,
  team TEXT NOT NULL,
  reason TEXT NOT NULL,
  since TEXT NOT NULL,
  -- How many of the run's node runs, metrics and log lines the team store had at the switch.
  node_runs_after INTEGER NOT NULL DEFAULT 0,
  metrics_after INTEGER NOT NULL DEFAULT 0,
  logs_after INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;`;

export interface PendingRun {
  runId: string;
  /** The team store the run belongs to (as `describeStore` says it). */
  team: string;
  /** Why it was journalled. */
  reason: string;
  since: string;
  status: RunStatus;
  pipeline: string;
  startedAt: string;
}

/** The journal: a SQLite metadata store and its `Sql`, for the pending-run bookkeeping and sync. */
export class Journal {
  private constructor(
    readonly path: string,
    readonly sql: SqliteSql,
    readonly store: SqlMetadataStore,
  ) {}

  /** Opens (creating) the project's journal. */
  static open(projectDir: string, opts: Omit<MetadataStoreOptions, "projectDir"> = {}): Journal {
    const path = journalPath(projectDir);
    mkdirSync(join(projectDir, ".dagwood", "pending"), { recursive: true });
    const sql = new SqliteSql(openMetadataDatabase(path));
    try {
      sql.exec(PENDING_TABLE);
      return new Journal(path, sql, new SqlMetadataStore(sql, { projectDir, ...opts }));
    } catch (e) {
      sql.close();
      throw e;
    }
  }

  /** Opens the project's journal when it has one; undefined otherwise (never creates it). */
  static openExisting(projectDir: string): Journal | undefined {
    return existsSync(journalPath(projectDir)) ? Journal.open(projectDir) : undefined;
  }

  /**
   * Records that a run is kept here; `switched`: it was in the team store up to now (its rows so far
   * are there, and were replayed here: their count is the mark).
   */
  markPending(runId: string, team: string, reason: string, switched: boolean): void {
    const after = (q: string) => (switched ? (this.sql.value<number>(q, runId) ?? 0) : 0);
    this.sql.run(
      `INSERT INTO pending_runs (run_id, team, reason, since, node_runs_after, metrics_after, logs_after)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING`,
      runId,
      team,
      reason,
      nowIso(),
      after("SELECT count(*) FROM node_runs WHERE run_id = ?"),
      after("SELECT count(*) FROM metrics WHERE run_id = ?"),
      after("SELECT count(*) FROM logs WHERE run_id = ?"),
    );
  }

  /** The runs waiting to be synced, oldest first (runs whose process died are settled as interrupted first). */
  pending(): PendingRun[] {
    const rows = this.sql.all<{ run_id: string; team: string; reason: string; since: string }>(
      "SELECT run_id, team, reason, since FROM pending_runs ORDER BY since, run_id",
    );
    const out: PendingRun[] = [];
    for (const r of rows) {
      const run = this.store.getRun(r.run_id);
      if (!run) continue;
      out.push({
        runId: r.run_id,
        team: r.team,
        reason: r.reason,
        since: r.since,
        status: run.status,
        pipeline: run.pipeline,
        startedAt: run.startedAt,
      });
    }
    return out;
  }

  close(): void {
    this.store.close();
  }
}

/** What `syncJournal` did. */
export interface SyncResult {
  synced: string[];
  /** Runs left in the journal, with why (still running in a live process). */
  skipped: { runId: string; reason: string }[];
}

/** A run's own tables (besides `runs`), in foreign-key order, with how `sync` writes each into the team store. */
const RUN_TABLES: { table: string; conflict: string; key?: string }[] = [
  { table: "run_params", conflict: "DO NOTHING" },
  { table: "run_tags", conflict: "(run_id, key) DO UPDATE SET value = excluded.value" },
  // The journal's latest value and packed points per key are whole (the run's points before the
  // switch were replayed into it), so they replace the team store's.
  {
    table: "latest_metrics",
    conflict:
      "(run_id, key) DO UPDATE SET value = excluded.value, is_nan = excluded.is_nan, step = excluded.step, ts = excluded.ts",
  },
  {
    table: "metric_chunks",
    conflict: "(run_id, key, chunk) DO UPDATE SET n = excluded.n, points = excluded.points",
  },
  { table: "artifacts", conflict: "DO NOTHING" },
  { table: "run_datasets", conflict: "DO NOTHING" },
  { table: "dataset_tests", conflict: "DO NOTHING" },
];

const q = (name: string): string => `"${name}"`;

function insertRows(team: Sql, table: string, rows: Record<string, unknown>[], conflict: string): void {
  for (const row of rows) {
    const cols = Object.keys(row);
    team.run(
      `INSERT INTO ${q(table)} (${cols.map(q).join(", ")}) VALUES (${cols.map(() => "?").join(", ")}) ON CONFLICT ${conflict}`,
      ...cols.map((c) => row[c] as SqlParam),
    );
  }
}

/** The team store's id of a key set (the journal's ids are its own). */
function teamKeyset(team: Sql, keys: string | null | undefined): number | null {
  if (keys === null || keys === undefined) return null;
  team.run("INSERT INTO keysets (keys) VALUES (?) ON CONFLICT DO NOTHING", keys);
  return team.value<number>("SELECT id FROM keysets WHERE keys = ?", keys) ?? null;
}

/**
 * Copies the journal's pending runs into the team store and removes them from the journal.
 * Each run (with its tuning trials) is one team transaction that ends by tagging it
 * `store: synced`; a run the team store already has tagged so (a sync killed after its commit)
 * is only removed from the journal. Rows with a key are written `ON CONFLICT`; node runs,
 * metrics and logs only those after the ones the run had at its switch. So syncing again, after a kill -9 at any
 * point, completes the job without duplicates.
 */
export function syncJournal(
  journal: Journal,
  team: Sql,
  opts: {
    onRun?: (runId: string) => void;
    /** Why a pending run is not synced this time (null: sync it), e.g. it belongs to another team store. */
    only?: (p: PendingRun) => string | null;
  } = {},
): SyncResult {
  const J = journal.sql;
  const result: SyncResult = { synced: [], skipped: [] };
  for (const p of journal.pending()) {
    const not = opts.only?.(p) ?? null;
    if (not !== null) {
      result.skipped.push({ runId: p.runId, reason: not });
      continue;
    }
    if (p.status === "running") {
      const owner = J.value<string>("SELECT owner FROM runs WHERE id = ?", p.runId);
      let state = "unknown";
      try {
        state = owner ? ownerState(JSON.parse(owner)) : "unknown";
      } catch {
        // An unreadable owner: treated as unknown.
      }
      result.skipped.push({
        runId: p.runId,
        reason:
          state === "alive"
            ? "it is still running; sync it after it ends"
            : "it is still marked running by another machine or an unknown process; sync it from there, or after it ends",
      });
      continue;
    }
    const marks = J.get<{ node_runs_after: number; metrics_after: number; logs_after: number }>(
      "SELECT node_runs_after, metrics_after, logs_after FROM pending_runs WHERE run_id = ?",
      p.runId,
    )!;
    const ids = [
      p.runId,
      ...J.column<string>("SELECT id FROM runs WHERE parent_run_id = ? ORDER BY id", p.runId),
    ];
    team.write(() => {
      // Another sync of this run (a second `dagwood store sync` at once) may be copying it uncommitted:
      // wait for it here, so that its tag is seen below, not after copying the rows a second time.
      team.lock(`sync:${p.runId}`);
      const done = team.value<string>(
        "SELECT value FROM run_tags WHERE run_id = ? AND key = ?",
        p.runId,
        STORE_TAG,
      );
      if (done === "synced") return;
      for (const id of ids) {
        const child = id !== p.runId;
        // A trial is written whole in one transaction: one the team store has is complete there.
        if (child && team.value<number>("SELECT 1 FROM runs WHERE id = ?", id)) continue;
        const after = child ? { node_runs_after: 0, metrics_after: 0, logs_after: 0 } : marks;
        copyRun(J, team, id, after);
      }
      team.run(
        `INSERT INTO run_tags (run_id, key, value) VALUES (?, ?, 'synced')
           ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value`,
        p.runId,
        STORE_TAG,
      );
    });
    J.write(() => {
      // Children first: run rows reference their parent.
      for (const id of [...ids].reverse()) J.run("DELETE FROM runs WHERE id = ?", id);
      J.run("DELETE FROM pending_runs WHERE run_id = ?", p.runId);
    });
    result.synced.push(p.runId);
    opts.onRun?.(p.runId);
  }
  return result;
}

function copyRun(
  J: Sql,
  team: Sql,
  id: string,
  after: { node_runs_after: number; metrics_after: number; logs_after: number },
): void {
  const run = J.get<Record<string, unknown>>("SELECT * FROM runs WHERE id = ?", id)!;
  const textSha = run.pipeline_text_sha as string | null;
  if (textSha) {
    const text = J.value<string>("SELECT text FROM pipeline_texts WHERE sha256 = ?", textSha);
    if (text !== undefined)
      team.run(
        "INSERT INTO pipeline_texts (sha256, text) VALUES (?, ?) ON CONFLICT DO NOTHING",
        textSha,
        text,
      );
  }
  const keysOf = (keyset: unknown) =>
    keyset === null ? null : J.value<string>("SELECT keys FROM keysets WHERE id = ?", keyset as number);
  const row: Record<string, unknown> = {
    ...run,
    param_keyset: teamKeyset(team, keysOf(run.param_keyset)),
    metric_keyset: null,
  };
  // The team store's record of a run that switched mid-way is "running" (or settled as
  // interrupted): the journal's ends it.
  insertRows(
    team,
    "runs",
    [row],
    `(id) DO UPDATE SET status = excluded.status, finished_at = excluded.finished_at,
       duration_ms = excluded.duration_ms, error = excluded.error, environment = excluded.environment,
       note = excluded.note`,
  );
  const datasets = J.all<Record<string, unknown>>(
    "SELECT * FROM datasets WHERE digest IN (SELECT digest FROM run_datasets WHERE run_id = ?)",
    id,
  );
  insertRows(team, "datasets", datasets, "DO NOTHING");
  // The run's own rows in insertion order, past those it had at the switch: a row written later always
  // sorts after them (its rowid is above every row still in the table, and these stay until the run syncs).
  const nodeRuns = J.all<Record<string, unknown>>(
    "SELECT * FROM node_runs WHERE run_id = ? ORDER BY seq LIMIT -1 OFFSET ?",
    id,
    after.node_runs_after,
  ).map(({ seq: _seq, ...r }) => r);
  insertRows(team, "node_runs", nodeRuns, "DO NOTHING");
  const metrics = J.all<Record<string, unknown>>(
    "SELECT run_id, node_id, name, value, is_nan, step, ts FROM metrics WHERE run_id = ? ORDER BY rowid LIMIT -1 OFFSET ?",
    id,
    after.metrics_after,
  );
  insertRows(team, "metrics", metrics, "DO NOTHING");
  const logs = J.all<Record<string, unknown>>(
    "SELECT run_id, node_id, level, message, ts FROM logs WHERE run_id = ? ORDER BY rowid LIMIT -1 OFFSET ?",
    id,
    after.logs_after,
  );
  insertRows(team, "logs", logs, "DO NOTHING");
  for (const t of RUN_TABLES) {
    insertRows(
      team,
      t.table,
      J.all<Record<string, unknown>>(`SELECT * FROM ${q(t.table)} WHERE run_id = ?`, id),
      t.conflict,
    );
  }
  // The run's metric keys as the team store now has them (a switched run's earlier ones included).
  const keys = team.column<string>("SELECT key FROM latest_metrics WHERE run_id = ? ORDER BY key", id);
  team.run(
    "UPDATE runs SET metric_keyset = ? WHERE id = ?",
    keys.length ? teamKeyset(team, JSON.stringify(keys)) : null,
    id,
  );
}

type Route = "primary" | "journal";

export interface JournalingOptions {
  /** The team store; null when it was unreachable at start (every run goes to the journal). */
  primary: MetadataStore | null;
  projectDir: string;
  /** The team store as messages name it (e.g. "PostgreSQL at db.example.com:5432, database dagwood"). */
  team: string;
  /** Why the team store could not be opened (primary null): the first warning. */
  startError?: string;
  /** Reopens the team store (tried again for a new run a minute after it was found unreachable). */
  reopen?: () => MetadataStore;
  /** Where warnings go (default: stderr). */
  onWarning?: (message: string) => void;
  /** For tests: the clock, in ms. */
  now?: () => number;
}

const RETRY_AFTER_MS = 60_000;

/**
 * A `MetadataStore` on a team store that keeps runs going when it becomes unreachable: see the
 * module comment. A run started by this process is routed to the team store or to the journal
 * as a whole; anything else (another run, the registry, loops) goes to the team store.
 */
export class JournalingStore implements MetadataStore {
  readonly registry: Registry;
  private primary: MetadataStore | null;
  private journalHandle: Journal | null = null;
  /** Runs this process started (and their trials, by their parent): where they are recorded. */
  private readonly routes = new Map<string, Route>();
  private readonly parents = new Map<string, string>();
  /** Per open run on the team store: what this process wrote of it, to replay into the journal on a switch. */
  private readonly replay = new Map<string, ((s: MetadataStore) => void)[]>();
  /** When the team store was last found unreachable (ms), and why; null while it answers. */
  private down: { at: number; message: string } | null = null;
  private readonly now: () => number;

  constructor(private readonly opts: JournalingOptions) {
    this.primary = opts.primary;
    this.now = opts.now ?? Date.now;
    if (!opts.primary) {
      this.down = { at: this.now(), message: opts.startError ?? `${opts.team} is unreachable` };
      if (opts.startError) this.warn(opts.startError);
    }
    this.registry = this.sharedProxy<Registry>(
      () => this.requirePrimary("the model registry").registry,
      "the model registry",
    );
  }

  /** Whether runs go to the journal now (the team store was found unreachable). */
  get pending(): boolean {
    return this.down !== null;
  }

  /** Where a run of this process is recorded (undefined: not one of this process's runs). */
  routeOf(runId: string): Route | undefined {
    return this.routes.get(this.top(runId));
  }

  private warn(message: string): void {
    (this.opts.onWarning ?? ((m: string) => process.stderr.write(`dagwood: ${m}\n`)))(message);
  }

  private journal(): Journal {
    this.journalHandle ??= Journal.open(this.opts.projectDir);
    return this.journalHandle;
  }

  private top(runId: string): string {
    return this.parents.get(runId) ?? runId;
  }

  private unreachableText(what: string): string {
    return (
      `The team store (${this.opts.team}) is unreachable, and ${what} is kept only there: it is never ` +
      "written to the local journal. Check that the database server is up and reachable from this machine " +
      "(host, port, VPN, firewall) and that store.url in dagwood.json is right, then try again. " +
      `${this.down ? `(${this.down.message})` : ""}`
    ).trim();
  }

  private requirePrimary(what: string): MetadataStore {
    if (!this.primary) throw new TeamStoreUnreachableError(this.unreachableText(what));
    return this.primary;
  }

  /** Calls the team store for something that cannot be journalled; unreachable → a clear error. */
  private shared<T>(what: string, call: (s: MetadataStore) => T): T {
    const s = this.requirePrimary(what);
    try {
      const out = call(s);
      return out;
    } catch (e) {
      if (!isUnreachable(e)) throw e;
      this.markDown(e);
      throw new TeamStoreUnreachableError(this.unreachableText(what), { cause: e });
    }
  }

  private sharedProxy<T extends object>(target: () => T, what: string): T {
    return new Proxy({} as T, {
      get: (_o, name) => {
        return (...args: unknown[]) =>
          this.shared(what, () => {
            const t = target() as Record<string | symbol, unknown>;
            const f = t[name];
            if (typeof f !== "function") throw new TypeError(`${String(name)} is not a registry method`);
            return (f as (...a: unknown[]) => unknown).apply(t, args);
          });
      },
    });
  }

  private markDown(e: unknown): void {
    this.down = { at: this.now(), message: (e as Error).message };
    // Every open run of this process moves now, not one failed write (and its wait) at a time.
    for (const [runId, route] of this.routes) if (route === "primary") this.switchRun(runId);
  }

  /** Moves an open run from the team store to the journal, replaying what this process wrote of it. */
  private switchRun(runId: string): void {
    const j = this.journal();
    const log = this.replay.get(runId) ?? [];
    j.sql.write(() => {
      // Calls for the producer of a cached node find none here: their effect is in the team store already.
      for (const call of log) call(j.store);
      j.markPending(runId, this.opts.team, this.down?.message ?? "unreachable", true);
    });
    this.replay.delete(runId);
    this.routes.set(runId, "journal");
    this.notePending(j, runId, "switched");
  }

  private notePending(j: Journal, runId: string, how: "switched" | "started"): void {
    const message =
      how === "switched"
        ? `The team store (${this.opts.team}) became unreachable during the run: the rest of it is recorded locally in ${JOURNAL_FILE}. Run \`dagwood store sync\` once the team store is back to copy it there.`
        : `The team store (${this.opts.team}) is unreachable: this run is recorded locally in ${JOURNAL_FILE}. Run \`dagwood store sync\` once the team store is back to copy it there.`;
    j.store.setTags(runId, { [STORE_TAG]: "pending" });
    j.store.logMessage({ runId, nodeId: "", level: "warn", message });
    this.warn(message);
  }

  /** A tracking write for a run: to where the run is recorded; the team store failing unreachable moves it. */
  private runWrite<T>(
    runId: string,
    call: (s: MetadataStore) => T,
    replayAs?: (s: MetadataStore, out: T) => void,
  ): T {
    const top = this.top(runId);
    const route = this.routes.get(top);
    if (route === "journal") return call(this.journal().store);
    if (route === undefined) return this.shared(`run ${runId} (not started by this process)`, call);
    try {
      const out = call(this.primary!);
      this.replay.get(top)?.push(replayAs ? (s) => replayAs(s, out) : (s) => void call(s));
      return out;
    } catch (e) {
      if (!isUnreachable(e)) throw e;
      this.markDown(e);
      if (this.routes.get(top) !== "journal") this.switchRun(top);
      return call(this.journal().store);
    }
  }

  /** A read: a journalled run from the journal; the rest from the team store, or the journal while it is down. */
  private read<T>(call: (s: MetadataStore) => T, runId?: string): T {
    if (runId !== undefined && this.routes.get(this.top(runId)) === "journal")
      return call(this.journal().store);
    // A minute on, try a fresh connection as a new run does: the one that broke answers nothing again.
    if (this.down && this.now() - this.down.at >= RETRY_AFTER_MS) this.tryReconnect();
    if (this.primary && !this.down) {
      try {
        return call(this.primary);
      } catch (e) {
        if (!isUnreachable(e)) throw e;
        this.markDown(e);
      }
    }
    return call(this.journal().store);
  }

  startRun(run: StartRunInput): void {
    if (this.down && this.now() - this.down.at >= RETRY_AFTER_MS) this.tryReconnect();
    if (!this.down && this.primary) {
      try {
        this.primary.startRun(run);
        this.routes.set(run.id, "primary");
        this.replay.set(run.id, [(s) => s.startRun(run)]);
        return;
      } catch (e) {
        if (!isUnreachable(e)) throw e;
        this.markDown(e);
      }
    }
    const j = this.journal();
    j.sql.write(() => {
      j.store.startRun({ ...run, tags: { ...(run.tags ?? {}), [STORE_TAG]: "pending" } });
      j.markPending(run.id, this.opts.team, this.down?.message ?? "unreachable", false);
    });
    this.routes.set(run.id, "journal");
    this.notePending(j, run.id, "started");
  }

  /** A minute after the team store was found unreachable, a new run tries it again (a fresh connection when it can). */
  private tryReconnect(): void {
    let next: MetadataStore | undefined;
    try {
      next = this.opts.reopen?.() ?? this.primary ?? undefined;
      if (!next) return;
      next.getRun("");
    } catch (e) {
      if (next && next !== this.primary) next.close();
      if (!isUnreachable(e)) throw e;
      this.down = { at: this.now(), message: (e as Error).message };
      return;
    }
    if (this.primary && next !== this.primary) {
      try {
        this.primary.close();
      } catch {
        // The old connection is broken; closing it is best effort.
      }
    }
    this.primary = next;
    this.down = null;
  }

  finishRun(id: string, status: RunStatus, error?: string | null): void {
    this.runWrite(id, (s) => s.finishRun(id, status, error));
    this.replay.delete(id);
    // A run finished in the team store is whole there: later calls about it are any other run's.
    // A journalled one stays routed here, so it reads from the journal until this store closes.
    if (this.routes.get(id) === "primary") this.routes.delete(id);
  }

  updateEnvironment(id: string, facts: RunEnvironment): void {
    this.runWrite(id, (s) => s.updateEnvironment(id, facts));
  }

  recordNodeRun(node: NodeRunRecord): void {
    this.runWrite(node.runId, (s) => s.recordNodeRun(node));
  }

  logMetrics(metrics: MetricRecord[]): void {
    const byRun = new Map<string, MetricRecord[]>();
    for (const m of metrics) {
      const list = byRun.get(m.runId) ?? [];
      list.push(m);
      byRun.set(m.runId, list);
    }
    for (const [runId, list] of byRun) this.runWrite(runId, (s) => s.logMetrics(list));
  }

  logMetric(metric: MetricRecord): void {
    this.logMetrics([metric]);
  }

  logMessage(entry: LogRecord): void {
    this.runWrite(entry.runId, (s) => s.logMessage(entry));
  }

  recordArtifact(artifact: ArtifactRecord): void {
    this.runWrite(artifact.runId, (s) => s.recordArtifact(artifact));
  }

  recordDataset(runId: string, nodeId: string, dataset: DatasetRecord): void {
    this.runWrite(runId, (s) => s.recordDataset(runId, nodeId, dataset));
  }

  recordTrial(trial: TrialRunInput): string {
    const id = this.runWrite(trial.parentRunId, (s) => s.recordTrial(trial));
    this.parents.set(id, this.top(trial.parentRunId));
    return id;
  }

  recordChosenParams(runId: string, nodeId: string, params: Record<string, unknown>): void {
    this.runWrite(runId, (s) => s.recordChosenParams(runId, nodeId, params));
  }

  copyFromProducer(cacheKey: string, runId: string, nodeId: string) {
    return this.runWrite(
      runId,
      (s) => s.copyFromProducer(cacheKey, runId, nodeId),
      // The journal has no producer: replayed as the metrics the copy gave the run.
      (s, out) =>
        s.logMetrics(out.map((m) => ({ runId, nodeId, name: m.name, value: m.value, step: m.step }))),
    );
  }

  producerWarnings(cacheKey: string): string[] {
    return this.read((s) => s.producerWarnings(cacheKey));
  }

  setTags(id: string, set: Record<string, string>, remove?: string[]): void {
    this.runWrite(id, (s) => s.setTags(id, set, remove));
  }

  setNote(id: string, note: string | null): void {
    this.runWrite(id, (s) => s.setNote(id, note));
  }

  recordDatasetTest(test: DatasetTestRecord): void {
    this.runWrite(test.runId, (s) => s.recordDatasetTest(test));
  }

  getRun(id: string) {
    return this.read((s) => s.getRun(id), id);
  }
  pipelineText(id: string) {
    return this.read((s) => s.pipelineText(id), id);
  }
  resolvedParams(id: string) {
    return this.read((s) => s.resolvedParams(id), id);
  }
  listRuns(opts?: { pipeline?: string; limit?: number }) {
    return this.read((s) => s.listRuns(opts));
  }
  searchRuns(query: RunQuery) {
    return this.read((s) => s.searchRuns(query));
  }
  compareRuns(ids: string[]) {
    return this.read((s) => s.compareRuns(ids));
  }
  nodeRuns(runId: string) {
    return this.read((s) => s.nodeRuns(runId), runId);
  }
  metrics(runId: string) {
    return this.read((s) => s.metrics(runId), runId);
  }
  logs(runId: string) {
    return this.read((s) => s.logs(runId), runId);
  }
  artifacts(runId: string) {
    return this.read((s) => s.artifacts(runId), runId);
  }
  datasets(runId: string) {
    return this.read((s) => s.datasets(runId), runId);
  }
  upstreamDatasets(runId: string, nodeId: string) {
    return this.read((s) => s.upstreamDatasets(runId, nodeId), runId);
  }
  datasetVersions() {
    return this.read((s) => s.datasetVersions());
  }
  untrackedTestedDigests() {
    return this.read((s) => s.untrackedTestedDigests());
  }
  datasetReads(digests: readonly string[]) {
    return this.read((s) => s.datasetReads(digests));
  }
  datasetTests(digests: readonly string[], opts?: { limit?: number; sources?: readonly string[] }) {
    return this.read((s) => s.datasetTests(digests, opts));
  }
  modelVersionsReading(digests: readonly string[], runIds?: readonly string[]) {
    return this.read((s) => s.modelVersionsReading(digests, runIds));
  }
  lastCompletedNodeRun(pipeline: string, nodeId: string) {
    return this.read((s) => s.lastCompletedNodeRun(pipeline, nodeId));
  }
  recentCacheKeys(runs: number): Set<string> {
    return this.read((s) => s.recentCacheKeys(runs));
  }

  markInterruptedRuns(): void {
    if (!this.primary) return;
    try {
      this.primary.markInterruptedRuns();
    } catch (e) {
      if (!isUnreachable(e)) throw e;
      this.markDown(e);
    }
  }

  createMonitorLoop(input: NewLoopInput): MonitorLoop | undefined {
    return this.shared("a monitor's retraining loop", (s) => s.createMonitorLoop(input));
  }
  monitorLoop(id: number) {
    return this.shared("a monitor's retraining loop", (s) => s.monitorLoop(id));
  }
  monitorLoops(query?: LoopQuery) {
    return this.shared("a monitor's retraining loop", (s) => s.monitorLoops(query));
  }
  monitorLoopClaim(id: number) {
    return this.shared("a monitor's retraining loop", (s) => s.monitorLoopClaim(id));
  }
  updateMonitorLoop(
    id: number,
    expect: { stage: MonitorLoop["stage"]; claim?: string | null },
    update: LoopUpdate,
  ) {
    return this.shared("a monitor's retraining loop", (s) => s.updateMonitorLoop(id, expect, update));
  }
  recordFeatureViewVersion(input: Omit<FeatureViewVersion, "version" | "appliedAt"> & { at?: string }) {
    return this.shared("a feature view's version", (s) => s.recordFeatureViewVersion(input));
  }
  featureViewVersions(view?: string) {
    return this.shared("a feature view's version", (s) => s.featureViewVersions(view));
  }

  close(): void {
    try {
      this.primary?.close();
    } finally {
      this.journalHandle?.close();
      this.journalHandle = null;
    }
  }
}
