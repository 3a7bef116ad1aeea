/**
 * `dagwood privacy erase --column C --value V`: one subject's rows out of
 * every store Dagwood keeps, with a plan first and an audit entry after.
 *
 * The stores, and what "the subject's rows" means in each:
 *
 *   log      the inference log (`.dagwood/serving/<model>/inference-log*.jsonl`):
 *            rows of a logged request whose input tensor named C holds V, or
 *            V's keyed hash (app/privacy/secret.ts: the log may keep tagged
 *            inputs hashed). The row goes from every tensor of the entry with
 *            that many rows; an entry left with none goes whole.
 *   online   the feature store's online store (SQLite or Redis): a view's rows
 *            whose entity key holds V at C's join-key position, or whose
 *            features have C = V.
 *   offline  the feature store's offline files Dagwood keeps
 *            (`.dagwood/features/<view>/data.parquet` and `pushed/*.parquet`):
 *            rows with C = V. A view's source named in its definition is the
 *            user's own file: it is reported, never rewritten.
 *   heldout  held-out rows kept with registered versions (`heldout.json`):
 *            rows whose input C is V, with their expected predictions. With a
 *            shared artifact location the erased file is uploaded and the
 *            version's manifest takes its sha256 in the same transaction as
 *            the version's `privacy.erased` audit entry, so every machine
 *            fetches the erased file and verification holds.
 *   cache    node outputs in the DuckDB workspace: a table with a column C
 *            holding V is dropped with the cache entries that name it, so the
 *            nodes that made it run again next time (never rewritten in place).
 *
 * Models trained on the subject's data (versions whose held-out rows or
 * training datasets hold V in C) are listed, never changed: retraining is the
 * user's decision.
 *
 * kill -9 safe: the plan is written to `.dagwood/privacy/erase-<id>.json`
 * before anything is touched; every step is idempotent (it finds the rows
 * again and removes what is there) and is marked done in the plan, rewritten
 * atomically; every file is rewritten through a temporary file and a rename.
 * Re-running the same erase, or `--resume`, completes a plan left unfinished.
 * The plan never holds the value in clear: its id and the audit entry use the
 * value's keyed hash, and the value itself is kept sealed (AES-256-GCM under a
 * key derived from the project's privacy key) only until the plan is finished.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { ensureVersionFiles, projectArtifactLocation } from "../artifacts/version-files";
import { ident, literal, type SqlSession } from "../data/sql";
import { Workspace } from "../data/workspace";
import { serverLockFile, servingRepository } from "../deploy/embedded";
import type { HeldoutRows } from "../deploy/heldout";
import { offlineDataFiles } from "../features/offline-source";
import { ONLINE_SQLITE, openOnlineStore } from "../features/online/open";
import { loadFeatureRepo, viewJoinKeys } from "../features/repo";
import type { EntityKey, FeatureRepo } from "../features/types";
import { readProjectSettings } from "../project/project";
import { type InferenceLogEntry, logFiles, rewriteLogFile } from "../serving/observability";
import type { V2Tensor } from "../serving/tensors";
import { fsyncDir, writeFileAtomic } from "../store/atomic-write";
import type { MetadataStore } from "../store/types";
import {
  canonicalText,
  hashValue,
  PRIVACY_KEY_FILE,
  PRIVACY_KEY_VARIABLE,
  projectPrivacyKey,
} from "./secret";
import { PROJECT_AUDIT_MODEL } from "./types";

export const ERASE_FORMAT = "dagwood.erase/1";
/** Where plans are kept, under the project's `.dagwood`. */
export const ERASE_DIR = "privacy";

export type EraseStore = "log" | "online" | "offline" | "heldout" | "cache";
export const STORE_TITLES: Record<EraseStore, string> = {
  log: "inference log",
  online: "online store",
  offline: "offline features",
  heldout: "held-out rows",
  cache: "node outputs",
};

/** One place the subject's rows are in, and what became of them. */
export interface EraseStep {
  id: string;
  store: EraseStore;
  /** What, for people: a project-relative file, `view <name>`, `<model> v<n>`, `table <name>`. */
  target: string;
  /** The subject's rows found when planned. */
  found: number;
  /** The subject's rows removed (null until done). */
  removed: number | null;
  done: boolean;
  /** log, offline: the project-relative file. */
  file?: string;
  view?: string;
  model?: string;
  version?: number;
  /** cache: the tables dropped and the cache entries naming them (with their blocks). */
  table?: string;
  cacheEntries?: { key: string; block: string }[];
}

/** A model version trained on (or holding) the subject's data: listed for the user to decide on retraining. */
export interface AffectedModel {
  name: string;
  version: number;
  /** "held-out rows", "dataset data/customers.csv". */
  why: string[];
}

/** A place the subject is in that erasure does not rewrite, and why. */
export interface NotErased {
  store: string;
  target: string;
  found: number;
  why: string;
  /** The version whose held-out rows these are. */
  model?: string;
  version?: number;
}

export interface ErasePlan {
  format: typeof ERASE_FORMAT;
  id: string;
  column: string;
  /** The value's keyed hash (hashValue): never the value in clear. */
  valueHash: string;
  /** The value sealed under the project's key, so `--resume` can finish; removed once finished. */
  sealed?: string;
  createdAt: string;
  finishedAt: string | null;
  actor: string | null;
  steps: EraseStep[];
  models: AffectedModel[];
  notErased: NotErased[];
  /** The project audit entry's id, once written. */
  auditId: number | null;
}

/** A request erasure refuses before touching anything (exit 2): the message says what to do. */
export class EraseInputError extends Error {
  override name = "EraseInputError";
}

/** Erasure cannot go on now (a server writing the log, a store away); what is done stays done, the plan says the rest. */
export class EraseError extends Error {
  override name = "EraseError";
}

interface Subject {
  column: string;
  value: string;
  hash: string;
}

/** Whether a stored value is the subject's: its canonical text (123 and "123" agree) or its keyed hash. */
function isSubject(s: Subject, v: unknown): boolean {
  if (v === null || v === undefined) return false;
  if (v === s.hash) return true;
  return canonicalText(v) === s.value;
}

/**
 * Fault injection for the crash tests: when DAGWOOD_FAULT names this point the process kills itself
 * (SIGKILL) there. "privacy:mid-erase": the first step's store is changed, its plan entry not yet
 * marked done ("privacy:mid-erase:<store>": the same at that store's first step, e.g. heldout).
 * "privacy:after-plan": the plan is written, nothing touched.
 */
function faultPoint(point: string): void {
  if (process.env.DAGWOOD_FAULT === point) process.kill(process.pid, "SIGKILL");
}

const rel = (dir: string, path: string) => relative(dir, path).split("\\").join("/");

// ---------------------------------------------------------------- sealing

function sealKey(key: Buffer): Buffer {
  return createHmac("sha256", key).update("dagwood erase plan").digest();
}

function seal(key: Buffer, value: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", sealKey(key), iv);
  const body = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64");
}

function unseal(key: Buffer, sealed: string): string {
  const raw = Buffer.from(sealed, "base64");
  const decipher = createDecipheriv("aes-256-gcm", sealKey(key), raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
}

// ---------------------------------------------------------------- plan files

export function eraseDir(projectDir: string): string {
  return join(resolve(projectDir), ".dagwood", ERASE_DIR);
}

/** A plan's id: from the column and the value's keyed hash, so the same erase finds its own plan. */
export function planId(column: string, valueHash: string): string {
  return createHash("sha256").update(`${column}\n${valueHash}`).digest("hex").slice(0, 16);
}

export function planFile(projectDir: string, id: string): string {
  return join(eraseDir(projectDir), `erase-${id}.json`);
}

async function savePlan(projectDir: string, plan: ErasePlan): Promise<void> {
  await mkdir(eraseDir(projectDir), { recursive: true });
  await writeFileAtomic(planFile(projectDir, plan.id), `${JSON.stringify(plan, null, 2)}\n`);
}

function readPlan(path: string): ErasePlan | null {
  try {
    const plan = JSON.parse(readFileSync(path, "utf8")) as ErasePlan;
    return plan.format === ERASE_FORMAT ? plan : null;
  } catch {
    return null;
  }
}

/** Plans begun and not finished (a process killed mid-erase), oldest first. */
export function unfinishedPlans(projectDir: string): ErasePlan[] {
  const dir = eraseDir(projectDir);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^erase-[0-9a-f]+\.json$/.test(f))
    .map((f) => readPlan(join(dir, f)))
    .filter((p): p is ErasePlan => p !== null && p.finishedAt === null)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

// ---------------------------------------------------------------- the inference log

/** Values per row of a tensor: the product of its shape after the first (row) axis. */
const rowWidth = (t: { shape: number[] }) =>
  Math.max(
    1,
    t.shape.slice(1).reduce((a, b) => a * b, 1),
  );

/** The rows of `tensor` (of `n`) whose value in it is the subject's. */
function subjectRows(tensor: { shape: number[]; data: readonly unknown[] }, s: Subject): Set<number> {
  const width = rowWidth(tensor);
  const hit = new Set<number>();
  tensor.data.forEach((v, i) => {
    if (isSubject(s, v)) hit.add(Math.floor(i / width));
  });
  return hit;
}

/** The tensor without rows `hit` (one of `n` rows); a tensor of another row count as it was. */
function withoutRows<T extends { shape: number[]; data: readonly unknown[] }>(
  t: T,
  n: number,
  hit: ReadonlySet<number>,
): T {
  if (t.shape[0] !== n) return t;
  const w = rowWidth(t);
  return {
    ...t,
    shape: [n - hit.size, ...t.shape.slice(1)],
    data: t.data.filter((_, i) => !hit.has(Math.floor(i / w))),
  };
}

/** The entry without the subject's rows: the same object when it has none, null when every row was theirs. */
export function eraseFromEntry(
  entry: InferenceLogEntry,
  s: Subject,
): { entry: InferenceLogEntry | null; rows: number } {
  const tensor = entry.inputs.find((t) => t.name === s.column);
  if (!tensor) return { entry, rows: 0 };
  const n = tensor.shape[0] ?? 1;
  const hit = subjectRows(tensor, s);
  if (hit.size === 0) return { entry, rows: 0 };
  if (hit.size >= n) return { entry: null, rows: hit.size };
  const cut = (t: V2Tensor) => withoutRows(t, n, hit);
  return {
    entry: { ...entry, inputs: entry.inputs.map(cut), outputs: entry.outputs.map(cut) },
    rows: hit.size,
  };
}

async function planLog(
  projectDir: string,
  s: Subject,
): Promise<{ steps: EraseStep[]; knows: boolean; models: string[] }> {
  const repository = servingRepository(projectDir);
  const steps: EraseStep[] = [];
  const models: string[] = [];
  let knows = false;
  const folders = existsSync(repository)
    ? readdirSync(repository, { withFileTypes: true }).filter((d) => d.isDirectory())
    : [];
  for (const folder of folders) {
    for (const file of await logFiles(join(repository, folder.name))) {
      let rows = 0;
      let entries = 0;
      const text = await readFile(file, "utf8").catch(() => "");
      for (const line of text.split("\n")) {
        if (!line.includes(JSON.stringify(s.column))) continue;
        let entry: InferenceLogEntry;
        try {
          entry = JSON.parse(line) as InferenceLogEntry;
        } catch {
          continue;
        }
        if (entry.inputs?.some((t) => t.name === s.column)) knows = true;
        const found = eraseFromEntry(entry, s);
        if (found.rows > 0) {
          rows += found.rows;
          entries++;
        }
      }
      if (rows > 0) {
        if (!models.includes(folder.name)) models.push(folder.name);
        const path = rel(projectDir, file);
        steps.push({
          id: `log:${path}`,
          store: "log",
          target: `${path} (${entries} ${entries === 1 ? "entry" : "entries"})`,
          found: rows,
          removed: null,
          done: false,
          file: path,
          model: folder.name,
        });
      }
    }
  }
  return { steps, knows, models };
}

/**
 * The deploy targets whose `dagwood serve` keeps an inference log of its own (on its machine, out of
 * this command's reach): named in every plan, with what to do, since this command cannot look.
 */
function remoteLogs(projectDir: string): NotErased[] {
  const targets = readProjectSettings(projectDir).targets;
  return Object.entries(targets)
    .filter(([, t]) => t.kind === "dagwood")
    .map(([name, t]) => ({
      store: "inference log on target",
      target: `${name} (${t.url})`,
      found: 0,
      why: "that server keeps its own log, which this command cannot read: run `dagwood privacy erase` with --project on a copy of this project whose .dagwood/serving is that server's --repository, while the server is stopped",
    }));
}

async function eraseLog(projectDir: string, step: EraseStep, s: Subject): Promise<number> {
  const file = resolve(projectDir, step.file!);
  if (!existsSync(file)) return 0; // gone since (retention, the budget): nothing of the subject left there
  let rows = 0;
  await rewriteLogFile(file, (entry) => {
    const out = eraseFromEntry(entry, s);
    rows += out.rows;
    return out.entry;
  });
  return rows;
}

/** The pid and URL of the project's built-in model server, when one runs (it writes the log). */
function runningServer(projectDir: string): { pid: number; url: string | null } | null {
  try {
    const lock = JSON.parse(readFileSync(serverLockFile(projectDir), "utf8")) as {
      pid?: number;
      url?: string;
    };
    if (typeof lock.pid !== "number") return null;
    try {
      process.kill(lock.pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EPERM") return null;
    }
    return { pid: lock.pid, url: lock.url ?? null };
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- the online store

interface ErasableOnline {
  readonly kind: "sqlite" | "redis";
  views(): Promise<string[]>;
  findRows(view: string, match: (key: EntityKey, vals: string) => boolean): Promise<EntityKey[]>;
  deleteRows(view: string, keys: readonly EntityKey[]): Promise<number>;
  close(): Promise<void>;
}

function openOnline(projectDir: string): ErasableOnline | null {
  const settings = readProjectSettings(projectDir);
  // An embedded store that was never made holds nothing (and is not made here).
  if (settings.online.kind === "sqlite" && !existsSync(join(projectDir, ".dagwood", ONLINE_SQLITE)))
    return null;
  return openOnlineStore({ dir: projectDir, settings }) as unknown as ErasableOnline;
}

function featureRepo(projectDir: string): FeatureRepo | null {
  try {
    return loadFeatureRepo(projectDir);
  } catch {
    return null;
  }
}

function onlineMatcher(repo: FeatureRepo | null, view: string, s: Subject) {
  const def = repo?.views.get(view);
  const keyAt = def && repo ? viewJoinKeys(repo, def).indexOf(s.column) : -1;
  return (key: EntityKey, vals: string): boolean => {
    if (keyAt >= 0) {
      try {
        if (isSubject(s, (JSON.parse(key) as unknown[])[keyAt])) return true;
      } catch {}
    }
    if (!vals.includes(JSON.stringify(s.column))) return false;
    try {
      const o = JSON.parse(vals) as Record<string, unknown>;
      return Object.hasOwn(o, s.column) && isSubject(s, o[s.column]);
    } catch {
      return false;
    }
  };
}

function onlineKnows(repo: FeatureRepo | null, s: Subject): boolean {
  if (!repo) return false;
  for (const view of repo.views.values()) {
    if (viewJoinKeys(repo, view).includes(s.column)) return true;
    if (view.features.some((f) => f.name === s.column)) return true;
  }
  return false;
}

async function planOnline(projectDir: string, s: Subject): Promise<EraseStep[]> {
  const store = openOnline(projectDir);
  if (!store) return [];
  const repo = featureRepo(projectDir);
  try {
    const steps: EraseStep[] = [];
    for (const view of await store.views()) {
      const keys = await store.findRows(view, onlineMatcher(repo, view, s));
      if (keys.length)
        steps.push({
          id: `online:${view}`,
          store: "online",
          target: `view ${view} (${store.kind})`,
          found: keys.length,
          removed: null,
          done: false,
          view,
        });
    }
    return steps;
  } finally {
    await store.close();
  }
}

async function eraseOnline(projectDir: string, step: EraseStep, s: Subject): Promise<number> {
  const store = openOnline(projectDir);
  if (!store) return 0;
  try {
    const keys = await store.findRows(step.view!, onlineMatcher(featureRepo(projectDir), step.view!, s));
    return await store.deleteRows(step.view!, keys);
  } finally {
    await store.close();
  }
}

// ---------------------------------------------------------------- DuckDB: offline files, the workspace, datasets

const INTEGER_TYPE = /^U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)$/;
const FLOAT_TYPE = /^(FLOAT|DOUBLE|REAL|DECIMAL(\(.*\))?)$/;

/** SQL true where column `column` (of DuckDB type `type`) holds the subject; null when no value of that type can. */
export function matchSql(column: string, type: string, s: Subject): string | null {
  const c = ident(column);
  const t = type.toUpperCase();
  if (t === "VARCHAR") return `(${c} = ${literal(s.value)} OR ${c} = ${literal(s.hash)})`;
  if (INTEGER_TYPE.test(t)) {
    if (!/^-?\d+$/.test(s.value) || String(BigInt(s.value)) !== s.value) return null;
    return `${c} = CAST(${literal(s.value)} AS HUGEINT)`;
  }
  if (FLOAT_TYPE.test(t)) {
    const n = Number(s.value);
    if (s.value.trim() === "" || !Number.isFinite(n) || String(n) !== s.value) return null;
    return `${c} = CAST(${literal(s.value)} AS DOUBLE)`;
  }
  return `CAST(${c} AS VARCHAR) = ${literal(s.value)}`;
}

async function relationColumns(sql: SqlSession, relation: string): Promise<Map<string, string>> {
  const rows = await sql.all<{ column_name: string; column_type: string }>(
    `DESCRIBE SELECT * FROM ${relation}`,
  );
  return new Map(rows.map((r) => [r.column_name, r.column_type]));
}

async function countIn(sql: SqlSession, relation: string, s: Subject): Promise<number | null> {
  const type = (await relationColumns(sql, relation)).get(s.column);
  if (type === undefined) return null;
  const where = matchSql(s.column, type, s);
  if (where === null) return 0;
  const row = await sql.one<{ n: bigint | number }>(`SELECT count(*) AS n FROM ${relation} WHERE ${where}`);
  return Number(row.n);
}

async function planOffline(
  projectDir: string,
  sql: SqlSession,
  s: Subject,
  repo: FeatureRepo | null,
): Promise<{ steps: EraseStep[]; notErased: NotErased[]; knows: boolean }> {
  const steps: EraseStep[] = [];
  const notErased: NotErased[] = [];
  let knows = false;
  // A view's source named in its definition is the user's file: reported, never rewritten.
  for (const view of repo?.views.values() ?? []) {
    if (!("path" in view.source)) continue;
    const relation = datasetRelation(projectDir, view.source.path);
    const n = relation ? await countIn(sql, relation, s).catch(() => null) : null;
    if (n !== null) knows = true;
    if (n)
      notErased.push({
        store: "feature source",
        target: `${view.source.path} (view ${view.name})`,
        found: n,
        why: "the view's source is your own file, which Dagwood does not rewrite: delete the subject's rows there, then materialise the view again",
      });
  }
  for (const { view, path } of offlineDataFiles(projectDir)) {
    const n = await countIn(sql, `read_parquet(${literal(path)})`, s);
    if (n !== null) knows = true;
    if (n) {
      const file = rel(projectDir, path);
      steps.push({
        id: `offline:${file}`,
        store: "offline",
        target: file,
        found: n,
        removed: null,
        done: false,
        file,
        view,
      });
    }
  }
  return { steps, notErased, knows };
}

async function eraseOffline(
  projectDir: string,
  sql: SqlSession,
  step: EraseStep,
  s: Subject,
): Promise<number> {
  const path = resolve(projectDir, step.file!);
  if (!existsSync(path)) return 0;
  const relation = `read_parquet(${literal(path)})`;
  const type = (await relationColumns(sql, relation)).get(s.column);
  const where = type === undefined ? null : matchSql(s.column, type, s);
  if (where === null) return 0;
  const n = Number((await sql.one<{ n: bigint }>(`SELECT count(*) AS n FROM ${relation} WHERE ${where}`)).n);
  if (n === 0) return 0;
  // A dot name: readers of a view's pushed files skip it (offline-source.ts PUSHED_FILE).
  const temp = join(dirname(path), `.erase-${randomBytes(6).toString("hex")}.parquet`);
  try {
    await sql.run(
      `COPY (SELECT * FROM ${relation} WHERE (${where}) IS NOT TRUE) TO ${literal(temp)} (FORMAT parquet)`,
    );
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
  await fsyncDir(dirname(path));
  return n;
}

/** The workspace's tables with a column named as the subject's, with its type. */
async function workspaceTables(sql: SqlSession, column: string): Promise<{ table: string; type: string }[]> {
  return (
    await sql.all<{ table_name: string; data_type: string }>(
      `SELECT c.table_name, c.data_type FROM duckdb_columns() c
         JOIN duckdb_tables() t USING (database_name, schema_name, table_name)
       WHERE c.column_name = ? AND NOT t.temporary AND c.database_name = current_database()
       ORDER BY c.table_name`,
      [column],
    )
  ).map((r) => ({ table: r.table_name, type: r.data_type }));
}

/** The cache entries naming a table among their outputs. */
function entriesNaming(
  entries: { key: string; block: string; outputs: string }[],
  table: string,
): { key: string; block: string }[] {
  return entries
    .filter((e) => {
      try {
        return Object.values(JSON.parse(e.outputs) as Record<string, { type?: string; name?: string }>).some(
          (v) => v?.type === "table" && v.name === table,
        );
      } catch {
        return false;
      }
    })
    .map((e) => ({ key: e.key, block: e.block }));
}

async function planCache(
  ws: Workspace,
  sql: SqlSession,
  s: Subject,
): Promise<{ steps: EraseStep[]; notErased: NotErased[]; knows: boolean }> {
  const steps: EraseStep[] = [];
  const notErased: NotErased[] = [];
  const tables = await workspaceTables(sql, s.column);
  const entries = tables.length ? await ws.cacheEntries() : [];
  for (const { table, type } of tables) {
    const where = matchSql(s.column, type, s);
    if (where === null) continue;
    const n = Number(
      (await sql.one<{ n: bigint }>(`SELECT count(*) AS n FROM ${ident(table)} WHERE ${where}`)).n,
    );
    if (n === 0) continue;
    const naming = entriesNaming(entries, table);
    if (naming.length === 0 && !table.startsWith("t_")) {
      notErased.push({
        store: "workspace",
        target: `table ${table}`,
        found: n,
        why: "a table no node output names (made by your own SQL): drop it or delete the rows yourself",
      });
      continue;
    }
    const blocks = [...new Set(naming.map((e) => e.block))];
    steps.push({
      id: `cache:${table}`,
      store: "cache",
      target: `table ${table}${blocks.length ? ` (${blocks.join(", ")}: runs again next time)` : ""}`,
      found: n,
      removed: null,
      done: false,
      table,
      cacheEntries: naming,
    });
  }
  return { steps, notErased, knows: tables.length > 0 };
}

async function eraseCache(ws: Workspace, sql: SqlSession, step: EraseStep, s: Subject): Promise<number> {
  // The entries first: a node whose entry is gone runs again, and its table is never read as a cached output.
  const entries = entriesNaming(await ws.cacheEntries(), step.table!);
  for (const e of [...(step.cacheEntries ?? []), ...entries]) await ws.dropCached(e.key);
  let n = 0;
  if (await ws.tableExists(step.table!)) {
    const type = (await workspaceTables(sql, s.column)).find((t) => t.table === step.table)?.type;
    const where = type === undefined ? null : matchSql(s.column, type, s);
    if (where !== null)
      n = Number(
        (await sql.one<{ n: bigint }>(`SELECT count(*) AS n FROM ${ident(step.table!)} WHERE ${where}`)).n,
      );
    await ws.dropTable(step.table!);
  }
  await ws.checkpoint();
  return n;
}

function datasetRelation(projectDir: string, source: string): string | null {
  const path = isAbsolute(source) ? source : resolve(projectDir, source);
  if (!existsSync(path)) return null;
  const lower = path.toLowerCase();
  if (lower.endsWith(".parquet")) return `read_parquet(${literal(path)})`;
  if (/\.(csv|tsv|txt)(\.gz)?$/.test(lower)) return `read_csv_auto(${literal(path)})`;
  if (/\.(json|ndjson|jsonl)$/.test(lower)) return `read_json_auto(${literal(path)})`;
  return null;
}

// ---------------------------------------------------------------- held-out rows

function readHeldout(path: string): HeldoutRows | null {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as HeldoutRows;
  } catch {
    return null;
  }
}

/** The held-out rows without the subject's (the same object when none is theirs), and how many went. */
export function eraseFromHeldout(h: HeldoutRows, s: Subject): { heldout: HeldoutRows; rows: number } {
  const tensor = h.inputs.find((t) => t.name === s.column);
  if (!tensor) return { heldout: h, rows: 0 };
  const n = h.rows;
  const hit = subjectRows(tensor, s);
  if (hit.size === 0) return { heldout: h, rows: 0 };
  const keep = <T>(values: T[] | undefined, per = 1): T[] | undefined =>
    values?.filter((_, i) => !hit.has(Math.floor(i / per)));
  const classes = h.expected.probabilities && n > 0 ? h.expected.probabilities.length / n : 1;
  const expected = { ...h.expected };
  if (expected.label) expected.label = keep(expected.label)!;
  if (expected.prediction) expected.prediction = keep(expected.prediction)!;
  if (expected.probabilities) expected.probabilities = keep(expected.probabilities, classes)!;
  return {
    heldout: {
      ...h,
      rows: n - hit.size,
      inputs: h.inputs.map((t) => withoutRows(t, n, hit)),
      expected,
    },
    rows: hit.size,
  };
}

interface VersionRef {
  name: string;
  version: number;
  heldoutPath: string | null;
  nativePath: string;
  artifacts?: { location: string; files: Record<string, { key: string; sha256: string; bytes: number }> };
  lineage: { datasets: { source: string; schema: { name: string }[] }[] };
}

function allVersions(store: MetadataStore | undefined): VersionRef[] {
  if (!store) return [];
  return store.registry
    .listModels()
    .flatMap((m) => store.registry.listVersions(m.name) as unknown as VersionRef[]);
}

async function planHeldout(
  projectDir: string,
  versions: VersionRef[],
  s: Subject,
): Promise<{ steps: EraseStep[]; notErased: NotErased[]; knows: boolean }> {
  const steps: EraseStep[] = [];
  const notErased: NotErased[] = [];
  let knows = false;
  const location = versions.some((v) => v.artifacts?.files["heldout.json"])
    ? projectArtifactLocation(projectDir)
    : null;
  for (const v of versions) {
    if (!v.heldoutPath) continue;
    const path = resolve(projectDir, v.heldoutPath);
    // A version registered on another machine: its files come from the shared location first.
    if (!existsSync(path) && v.artifacts && location)
      await ensureVersionFiles(projectDir, v, location).catch(() => []);
    const h = readHeldout(path);
    if (!h) continue;
    if (h.inputs.some((t) => t.name === s.column)) knows = true;
    const { rows } = eraseFromHeldout(h, s);
    if (!rows) continue;
    if (v.artifacts?.files["heldout.json"] && !location) {
      notErased.push({
        store: STORE_TITLES.heldout,
        target: `${v.name} v${v.version}`,
        found: rows,
        model: v.name,
        version: v.version,
        why: `its heldout.json is kept in ${v.artifacts.location}, and this project has no "artifacts" location in dagwood.json: set it to that location and erase again`,
      });
      continue;
    }
    const shared = v.artifacts?.files["heldout.json"];
    if (shared)
      notErased.push({
        store: "shared location",
        target: `${v.artifacts!.location} ${shared.key}`,
        found: rows,
        why: `${v.name} v${v.version}'s held-out rows as first uploaded: the version will name the erased file instead, but Dagwood never deletes from a shared location (another version may name the same object): delete it there`,
      });
    steps.push({
      id: `heldout:${v.name}:${v.version}`,
      store: "heldout",
      target: `${v.name} v${v.version}`,
      found: rows,
      removed: null,
      done: false,
      model: v.name,
      version: v.version,
      file: rel(projectDir, path),
    });
  }
  return { steps, notErased, knows };
}

async function eraseHeldout(
  projectDir: string,
  store: MetadataStore,
  plan: ErasePlan,
  step: EraseStep,
  s: Subject,
): Promise<number> {
  const path = resolve(projectDir, step.file!);
  const version = store.registry.getVersion(step.model!, step.version!) as unknown as VersionRef | undefined;
  const h = readHeldout(path);
  if (!h || !version) return 0;
  const { heldout, rows } = eraseFromHeldout(h, s);
  if (rows === 0) return 0;
  // The erased file beside the old one; it replaces it only once the registry records it.
  const temp = join(dirname(path), `.heldout.erase-${plan.id}.json`);
  await rm(temp, { force: true });
  await writeFileAtomic(temp, JSON.stringify(heldout));
  let stored: { key: string; sha256: string; bytes: number } | null = null;
  if (version.artifacts?.files["heldout.json"]) {
    const location = projectArtifactLocation(projectDir);
    if (!location)
      throw new EraseError(
        `${step.target}'s heldout.json is kept in ${version.artifacts.location}, and this project has no "artifacts" location: set it and run the erase again (--resume).`,
      );
    stored = await location.putFile(temp);
  }
  const already = store.registry
    .audit({ model: step.model!, actions: ["privacy.erased"] })
    .some(
      (e) =>
        e.version === step.version && e.details.plan === plan.id && e.details.createdAt === plan.createdAt,
    );
  if (!already)
    store.registry.recordErasedFile(step.model!, step.version!, "heldout.json", stored, {
      actor: plan.actor,
      details: {
        plan: plan.id,
        createdAt: plan.createdAt,
        column: plan.column,
        valueHash: plan.valueHash,
        file: "heldout.json",
        rowsRemoved: rows,
        rowsLeft: heldout.rows,
        ...(stored
          ? { sha256: stored.sha256, previousSha256: version.artifacts!.files["heldout.json"]!.sha256 }
          : {}),
      },
    });
  await rename(temp, path);
  await fsyncDir(dirname(path));
  return rows;
}

// ---------------------------------------------------------------- planning and running

export interface EraseOptions {
  projectDir: string;
  column: string;
  value: string;
  dryRun?: boolean;
  actor?: string | null;
  env?: NodeJS.ProcessEnv;
  /** Opens the project's metadata store (the registry and audit); undefined when it has none. */
  openStore: (create: boolean) => MetadataStore | undefined;
}

export interface EraseResult {
  plan: ErasePlan;
  /** Nothing of the subject anywhere (no step, no model, nothing left). */
  nothing: boolean;
  dryRun: boolean;
  /** A plan finished here that an earlier process left unfinished. */
  resumed: boolean;
  /** That earlier plan, when the fresh look after it found more to erase (then `plan` is the fresh one). */
  earlier?: ErasePlan;
}

async function withDuck<T>(
  projectDir: string,
  fn: (ws: Workspace, sql: SqlSession) => Promise<T>,
): Promise<T> {
  const file = join(resolve(projectDir), ".dagwood", "workspace.duckdb");
  // Training datasets may be read from the project's data folders too.
  const dataFolders = readProjectSettings(projectDir).dataFolders.map((d) => resolve(projectDir, d));
  let ws: Workspace;
  try {
    ws = await Workspace.open({
      path: existsSync(file) ? file : ":memory:",
      allowedDirs: [resolve(projectDir), ...dataFolders],
      threads: 2,
    });
  } catch (e) {
    throw new EraseError(
      `Cannot open the project's workspace to look in its node outputs: ${(e as Error).message.split("\n")[0]}`,
    );
  }
  const sql = await ws.session();
  try {
    return await fn(ws, sql);
  } finally {
    sql.close();
    ws.close();
  }
}

async function makePlan(
  opts: EraseOptions,
  s: Subject,
  store: MetadataStore | undefined,
): Promise<{ plan: ErasePlan; knows: boolean }> {
  const dir = resolve(opts.projectDir);
  const log = await planLog(dir, s);
  const online = await planOnline(dir, s);
  const repo = featureRepo(dir);
  const versions = allVersions(store);
  const heldout = await planHeldout(dir, versions, s);
  const { offline, cache, datasets } = await withDuck(dir, async (ws, sql) => {
    const offline = await planOffline(dir, sql, s, repo);
    const cache = await planCache(ws, sql, s);
    // Training datasets of registered versions: the files as they are now, read once each.
    const datasets = new Map<string, number | null>();
    for (const v of versions)
      for (const d of v.lineage?.datasets ?? []) {
        if (datasets.has(d.source) || !d.schema?.some((c) => c.name === s.column)) continue;
        const relation = datasetRelation(dir, d.source);
        datasets.set(d.source, relation ? await countIn(sql, relation, s).catch(() => null) : null);
      }
    return { offline, cache, datasets };
  });
  const models = new Map<string, AffectedModel>();
  const affect = (name: string, version: number, why: string) => {
    const key = `${name}\n${version}`;
    const m = models.get(key) ?? { name, version, why: [] };
    if (!m.why.includes(why)) m.why.push(why);
    models.set(key, m);
  };
  for (const st of heldout.steps) affect(st.model!, st.version!, "held-out rows");
  for (const n of heldout.notErased) if (n.model) affect(n.model, n.version!, "held-out rows");
  for (const v of versions)
    for (const d of v.lineage?.datasets ?? [])
      if ((datasets.get(d.source) ?? 0) > 0) affect(v.name, v.version, `dataset ${d.source}`);
  const knows =
    log.knows ||
    online.length > 0 ||
    onlineKnows(repo, s) ||
    offline.knows ||
    cache.knows ||
    heldout.knows ||
    datasets.size > 0;
  const plan: ErasePlan = {
    format: ERASE_FORMAT,
    id: planId(s.column, s.hash),
    column: s.column,
    valueHash: s.hash,
    createdAt: new Date().toISOString(),
    finishedAt: null,
    actor: opts.actor ?? null,
    steps: [...log.steps, ...online, ...offline.steps, ...heldout.steps, ...cache.steps],
    models: [...models.values()].sort((a, b) => a.name.localeCompare(b.name) || a.version - b.version),
    notErased: [...offline.notErased, ...heldout.notErased, ...cache.notErased, ...remoteLogs(dir)],
    auditId: null,
  };
  return { plan, knows };
}

/** Per store: rows found and removed (the audit entry's counts). */
export function storeCounts(
  plan: ErasePlan,
): Record<string, { found: number; removed: number; places: number }> {
  const out: Record<string, { found: number; removed: number; places: number }> = {};
  for (const st of plan.steps) {
    const c = out[st.store] ?? { found: 0, removed: 0, places: 0 };
    out[st.store] = c;
    c.found += st.found;
    c.removed += st.removed ?? 0;
    c.places++;
  }
  return out;
}

/** Temporary files an erase killed mid-write leaves beside a file it rewrites (never read by any reader: dot names). */
const ERASE_TEMP =
  /^\.\.?(inference-log[^/]*\.tmp|erase-[0-9a-f]+\.parquet|heldout\.erase-[0-9a-f]+\.json(\.[0-9a-f]+\.tmp)?)$/;

/** Removes what a killed run of these steps left half-written beside their files. */
async function sweepTemps(dir: string, steps: EraseStep[]): Promise<void> {
  const folders = new Set(steps.filter((st) => st.file).map((st) => dirname(resolve(dir, st.file!))));
  for (const folder of folders) {
    if (!existsSync(folder)) continue;
    for (const name of readdirSync(folder))
      if (ERASE_TEMP.test(name)) await rm(join(folder, name), { force: true });
  }
}

/** Runs the plan's steps not yet done, marking each in the plan file, then writes the audit entry. */
async function runPlan(opts: EraseOptions, plan: ErasePlan, s: Subject): Promise<void> {
  const dir = resolve(opts.projectDir);
  const pending = plan.steps.filter((st) => !st.done);
  if (pending.some((st) => st.store === "log")) {
    const server = runningServer(dir);
    if (server)
      throw new EraseError(
        `The project's model server (pid ${server.pid}${server.url ? `, ${server.url}` : ""}) is running and writes the inference log: stop it and run the erase again (--resume). The plan is kept; nothing of the log was changed.`,
      );
  }
  await sweepTemps(dir, pending);
  const store = opts.openStore(true);
  try {
    const needsDuck = pending.some((st) => st.store === "offline" || st.store === "cache");
    const run = async (ws?: Workspace, sql?: SqlSession) => {
      let first = true;
      const faulted = new Set<string>();
      for (const step of pending) {
        let removed: number;
        switch (step.store) {
          case "log":
            removed = await eraseLog(dir, step, s);
            break;
          case "online":
            removed = await eraseOnline(dir, step, s);
            break;
          case "offline":
            removed = await eraseOffline(dir, sql!, step, s);
            break;
          case "cache":
            removed = await eraseCache(ws!, sql!, step, s);
            break;
          case "heldout":
            if (!store)
              throw new EraseError(
                "The project's metadata store cannot be opened: held-out rows are kept with its versions.",
              );
            removed = await eraseHeldout(dir, store, plan, step, s);
            break;
        }
        if (first) faultPoint("privacy:mid-erase");
        first = false;
        if (!faulted.has(step.store)) faultPoint(`privacy:mid-erase:${step.store}`);
        faulted.add(step.store);
        // A step done before a crash finds nothing the second time: what it found then was removed.
        step.removed = Math.max(step.found, removed);
        step.done = true;
        await savePlan(dir, plan);
      }
    };
    if (needsDuck) await withDuck(dir, run);
    else await run();
    if (store) {
      const existing = store.registry
        .audit({ model: PROJECT_AUDIT_MODEL, actions: ["privacy.erased"] })
        .find((e) => e.details.plan === plan.id && e.details.createdAt === plan.createdAt);
      plan.auditId =
        existing?.id ??
        store.registry.appendAudit({
          actor: plan.actor,
          action: "privacy.erased",
          model: PROJECT_AUDIT_MODEL,
          version: null,
          details: auditDetails(plan),
        }).id;
    }
    plan.finishedAt = new Date().toISOString();
    delete plan.sealed;
    await savePlan(dir, plan);
  } finally {
    store?.close();
  }
}

function auditDetails(plan: ErasePlan): Record<string, unknown> {
  return {
    plan: plan.id,
    createdAt: plan.createdAt,
    column: plan.column,
    valueHash: plan.valueHash,
    stores: storeCounts(plan),
    places: plan.steps.map((st) => ({ store: st.store, target: st.target, removed: st.removed })),
    notErased: plan.notErased,
    models: plan.models.map((m) => ({ name: m.name, version: m.version, why: m.why })),
  };
}

function subjectOf(opts: {
  projectDir: string;
  column: string;
  value: string;
  env?: NodeJS.ProcessEnv;
}): Subject {
  const dir = resolve(opts.projectDir);
  const env = opts.env ?? process.env;
  // A project with no key yet has hashed nothing: a throwaway key finds nothing, and none is made for a
  // dry run or a refused request (the erase itself makes the project's key for its plan and audit).
  const haveKey = Boolean(env[PRIVACY_KEY_VARIABLE]) || existsSync(join(dir, ".dagwood", PRIVACY_KEY_FILE));
  const key = haveKey ? projectPrivacyKey(dir, env) : randomBytes(32);
  return { column: opts.column, value: opts.value, hash: hashValue(key, opts.value)! };
}

/**
 * Plans the erase of the subject (column = value) and, unless `dryRun`, carries it out. An unfinished
 * plan of the same subject is completed rather than planned again. Throws EraseInputError for a
 * column no store holds (nothing written), EraseError when a step cannot run (the plan is kept).
 */
export async function eraseSubject(opts: EraseOptions): Promise<EraseResult> {
  const dir = resolve(opts.projectDir);
  if (!opts.column)
    throw new EraseInputError(
      "--column is required: the column that identifies the subject, e.g. --column customer_id",
    );
  if (opts.value === "")
    throw new EraseInputError("--value is required: the subject's value in that column, e.g. --value 123");
  const s = subjectOf(opts);
  const id = planId(s.column, s.hash);
  const existing = readPlan(planFile(dir, id));
  const resumed = existing && existing.finishedAt === null && !opts.dryRun ? existing : null;
  // The unfinished plan first; then a fresh look, since the subject's rows may have reached other
  // places since that plan was made (a server logging, a materialisation): those are erased too.
  if (resumed) await runPlan(opts, resumed, s);
  const store = opts.openStore(false);
  let made: { plan: ErasePlan; knows: boolean };
  try {
    made = await makePlan(opts, s, store);
  } finally {
    store?.close();
  }
  const { plan, knows } = made;
  if (resumed && (!knows || plan.steps.length === 0))
    return { plan: resumed, nothing: false, dryRun: false, resumed: true };
  if (!knows)
    throw new EraseInputError(
      `no store holds a column ${s.column}: not the inference log, the online or offline features, held-out rows, node outputs nor a training dataset. Check the column's name (it is case-sensitive); nothing was removed.`,
    );
  const nothing =
    plan.steps.length === 0 && !plan.notErased.some((n) => n.found > 0) && plan.models.length === 0;
  if (opts.dryRun) {
    delete plan.sealed;
    return { plan, nothing, dryRun: true, resumed: false };
  }
  // The project's key (made now if it has none): the plan's id, the audit's hash and the sealed value use it.
  const key = projectPrivacyKey(dir, opts.env);
  s.hash = hashValue(key, s.value)!;
  plan.valueHash = s.hash;
  plan.id = planId(s.column, s.hash);
  plan.sealed = seal(key, s.value);
  if (plan.steps.length > 0) {
    await savePlan(dir, plan);
    faultPoint("privacy:after-plan");
  }
  await runPlan(opts, plan, s);
  if (plan.steps.length === 0) await rm(planFile(dir, plan.id), { force: true });
  return resumed
    ? { plan, nothing, dryRun: false, resumed: true, earlier: resumed }
    : { plan, nothing, dryRun: false, resumed: false };
}

/** Completes every unfinished plan (`--resume`), oldest first. */
export async function resumeErasures(
  opts: Omit<EraseOptions, "column" | "value" | "dryRun">,
): Promise<ErasePlan[]> {
  const dir = resolve(opts.projectDir);
  const done: ErasePlan[] = [];
  for (const plan of unfinishedPlans(dir)) {
    if (!plan.sealed)
      throw new EraseError(
        `The plan ${planFile(dir, plan.id)} lacks its sealed value: run the erase again with --column and --value.`,
      );
    let value: string;
    try {
      value = unseal(projectPrivacyKey(dir, opts.env), plan.sealed);
    } catch {
      throw new EraseError(
        `The plan ${planFile(dir, plan.id)} was sealed with another privacy key (DAGWOOD_PRIVACY_KEY or .dagwood/privacy.key changed): run the erase again with --column ${plan.column} and --value.`,
      );
    }
    const s: Subject = { column: plan.column, value, hash: plan.valueHash };
    await runPlan({ ...opts, column: plan.column, value }, plan, s);
    done.push(plan);
  }
  return done;
}
