import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { type ParseError, parse as parseJson } from "jsonc-parser";
import { z } from "zod";
import { ArtifactSettingsSchema } from "../artifacts/location";
import { Workspace } from "../data/workspace";
import { ConnectionsSchema } from "../ingest/db/settings";
import type { MetadataStore } from "../store/metadata";
import { openProjectStore } from "../store/open";
import { Governance, GovernanceFindingKind } from "../values/governance";
import { MONITOR_NAME, MONITOR_NAME_MESSAGE } from "../values/loop";
import { PrivacySettingsSchema, TagName } from "../values/privacy";

export const PROJECT_FILE = "dagwood.json";
/** Deploy target names: they name an environment variable (DAGWOOD_TOKEN_<NAME>) and a keychain entry. */
export const TARGET_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/** Dataset names in dagwood.json: they name a dataset in the Data view and in `dagwood datasets`. */
export const DATASET_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;

/**
 * A dataset: the file or files (a file or folder path, or a glob, relative to
 * the project or to a data folder; a folder holds every file under it) that
 * `ingest.file` reads, the suites every such read runs,
 * and who owns it. A read matching no entry is still recorded, under its path.
 */
export const DatasetSettingsSchema = z.looseObject({
  path: z.string().min(1).max(4096),
  /** Suite files (project paths, e.g. expectations/flights.json) run on every read of the dataset. */
  suites: z.array(z.string().min(1).max(4096)).default([]),
  /** What a failing attached suite does to the ingest node: warn (the default) or fail it. */
  onFailure: z.enum(["warn", "fail"]).default("warn"),
  /** Per column: its tags (pii, sensitive, the user's own), set by the user or accepted from `dagwood privacy scan`. */
  columns: z
    .record(z.string().min(1).max(256), z.strictObject({ tags: z.array(TagName).max(32) }))
    .default({}),
  ...Governance.shape,
});
export type DatasetSettings = z.output<typeof DatasetSettingsSchema>;

const CRON_FIELDS = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  {
    name: "month",
    min: 1,
    max: 12,
    names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
  },
  { name: "day of week", min: 0, max: 7, names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] },
] as const;

/**
 * What is wrong with a cron schedule, or null when it is valid: five fields
 * (minute hour day-of-month month day-of-week), each `*`, a value, a range
 * `a-b`, a step `* /n` or `a-b/n`, or a comma list of those; months and days
 * may be named (jan, mon), day of week 7 is Sunday — the syntax of crontab(5).
 */
export function cronProblem(schedule: string): string | null {
  const fields = schedule.trim().split(/\s+/);
  if (fields.length !== 5)
    return `a cron schedule has 5 fields (minute hour day-of-month month day-of-week), e.g. "*/15 * * * *"; got ${fields.length}`;
  for (const [i, field] of fields.entries()) {
    const spec = CRON_FIELDS[i]!;
    const names: readonly string[] = "names" in spec ? spec.names : [];
    const value = (t: string): number | null => {
      const named = names.indexOf(t.toLowerCase());
      if (named >= 0) return named + (spec.min === 1 ? 1 : 0);
      if (!/^\d+$/.test(t)) return null;
      const n = Number(t);
      return n >= spec.min && n <= spec.max ? n : null;
    };
    for (const part of field.split(",")) {
      const [range, step, extra] = part.split("/");
      const bad = `the ${spec.name} field "${field}" is not valid: use *, a value ${spec.min}–${spec.max}, a range a-b, a step */n, or a list`;
      if (extra !== undefined || range === undefined || range === "") return bad;
      if (step !== undefined && !(/^\d+$/.test(step) && Number(step) >= 1)) return bad;
      if (range === "*") continue;
      const [a, b, more] = range.split("-");
      if (more !== undefined) return bad;
      const lo = value(a ?? "");
      const hi = b === undefined ? lo : value(b);
      if (lo === null || hi === null || hi < lo) return bad;
    }
  }
  return null;
}

/**
 * A monitor: a deployed model watched window by window against its
 * registered version (app/monitoring/monitors.ts). `model` is the registered
 * model and alias or version (NAME@ALIAS); `deployedModel` its name on the
 * target when it differs. On a breach the action runs: `alert` (an audit
 * entry, the app's alert, and the webhook when one is set), or `retrain`:
 * the alert, then the retraining loop (app/monitoring/loop.ts) — the
 * `retrain` pipeline on the fresh labelled rows, the `gate` against the
 * champion, and `promote` (a person's approval, or a canary).
 */
export const MonitorSettingsSchema = z
  .looseObject({
    model: z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9_.-]*@[A-Za-z0-9_.-]+$/,
        "NAME@ALIAS or NAME@VERSION, e.g. penguins@champion",
      ),
    target: z.string().regex(TARGET_NAME, "a target name: local, or one of dagwood.json's targets"),
    deployedModel: z.string().min(1).max(128).optional(),
    window: z
      .string()
      .regex(/^\d+(\.\d+)?\s*(m|h|d|w)$/, "a duration, e.g. 15m, 1h, 1d")
      .default("1h"),
    minRows: z.number().int().min(1).max(1_000_000).default(30),
    drift: z.looseObject({ shareThreshold: z.number().min(0).max(1).default(0.5) }).optional(),
    performance: z
      .looseObject({ metric: z.string().min(1).max(64), tolerance: z.number().min(0).default(0.05) })
      .optional(),
    schedule: z
      .string()
      .max(200)
      .superRefine((s, ctx) => {
        const problem = cronProblem(s);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      })
      .optional(),
    action: z.enum(["alert", "retrain"]).default("alert"),
    /** action "retrain": the pipeline that trains and registers the challenger, fed the fresh labelled rows. */
    retrain: z
      .looseObject({
        /** A *.dag.json file of the project (relative to it). */
        pipeline: z.string().min(1).max(4096),
        /** Pipeline parameters (as `--param`); the fresh data's file is added under `dataParam`. */
        params: z.record(z.string(), z.unknown()).default({}),
        /** The pipeline parameter that receives the path of the fresh labelled rows (a Parquet file in the project). */
        dataParam: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
          .default("freshData"),
        /** The label column's name in that file (default: the target the registered version was trained on). */
        labelColumn: z.string().min(1).max(256).optional(),
      })
      .optional(),
    /** The challenger must beat the champion on the freshest labelled rows, which retraining never sees. */
    gate: z
      .looseObject({
        /** Default: performance.metric, else accuracy (classification) or rmse (regression). */
        metric: z.string().min(1).max(64).optional(),
        margin: z.number().min(0).default(0),
        /** The freshest share of the labelled rows kept for the gate. */
        holdout: z.number().gt(0).lt(1).default(0.3),
        minRows: z.number().int().min(1).default(30),
      })
      .default({ margin: 0, holdout: 0.3, minRows: 30 }),
    /** After the gate: wait for a person to approve in the app, or a canary at `percent` promoted after `window` if its live metric holds. */
    promote: z
      .looseObject({
        mode: z.enum(["approve", "canary"]).default("canary"),
        percent: z.number().min(1).max(50).default(20),
        window: z
          .string()
          .regex(/^\d+(\.\d+)?\s*(m|h|d|w)$/, "a duration, e.g. 15m, 1h, 1d")
          .default("1h"),
        /** Labelled canary requests needed before it is judged. */
        minRows: z.number().int().min(1).default(30),
        /** The canary may trail the champion's live figure by at most this much. */
        tolerance: z.number().min(0).default(0.02),
      })
      .default({ mode: "canary", percent: 20, window: "1h", minRows: 30, tolerance: 0.02 }),
    webhook: z
      .string()
      .refine((u) => /^https?:\/\/[^/]/.test(u) && URL.canParse(u), "an http:// or https:// URL")
      .optional(),
  })
  .superRefine((m, ctx) => {
    if (m.action === "retrain" && !m.retrain)
      ctx.addIssue({
        code: "custom",
        path: ["retrain"],
        message: 'action "retrain" needs "retrain": { "pipeline": "pipelines/retrain.dag.json" }',
      });
  });
export type MonitorSettings = z.output<typeof MonitorSettingsSchema>;

/** libpq connection keywords that carry a secret: never in store.url (libpq, "Parameter Key Words"). */
export const SECRET_QUERY_KEYS = ["password", "sslpassword"] as const;

/** The environment variable holding the team store's password (never dagwood.json). */
export const STORE_PASSWORD_VARIABLE = "DAGWOOD_STORE_PASSWORD";

/**
 * Where runs, metrics and the model registry are kept: the embedded SQLite file
 * (`.dagwood/metadata.sqlite`, the default) or a team's PostgreSQL (app/store/open.ts).
 * The URL names user, host, port and database; its password never: it comes from
 * DAGWOOD_STORE_PASSWORD, the keychain, or libpq's own PGPASSWORD / ~/.pgpass.
 */
export const StoreSettingsSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("sqlite") }),
  z.strictObject({
    kind: z.literal("postgres"),
    url: z
      .string()
      .max(4096)
      .refine(
        (u) => /^postgres(ql)?:\/\/[^/]/.test(u) && URL.canParse(u),
        "a postgres:// URL, e.g. postgres://analyst@db.example.com:5432/dagwood",
      )
      .refine((u) => {
        if (!URL.canParse(u)) return true;
        const parsed = new URL(u);
        // libpq takes a password from the query too (`?password=`, and `?sslpassword=` for the client key).
        return parsed.password === "" && !SECRET_QUERY_KEYS.some((k) => parsed.searchParams.has(k));
      }, `the URL carries a password: remove it from dagwood.json (which is committed) and put it in ${STORE_PASSWORD_VARIABLE}, the keychain (secret-tool store --label="dagwood store" service dagwood store <the URL>) or ~/.pgpass`),
    /** The PostgreSQL schema holding this project's tables (one per project). */
    schema: z
      .string()
      .regex(
        /^[a-z_][a-z0-9_]{0,62}$/,
        "a lower-case schema name: a letter or _, then letters, digits, _ (at most 63)",
      )
      .default("dagwood"),
  }),
]);
export type StoreSettings = z.output<typeof StoreSettingsSchema>;

export const ProjectSettingsSchema = z.looseObject({
  name: z.string().optional(),
  /** Folders outside the project that blocks may read (relative to the project or absolute). */
  dataFolders: z.array(z.string()).default([]),
  /**
   * Named deploy targets: a V2 inference server (`dagwood serve`, or NVIDIA
   * Triton / KServe). Their tokens never live here: see app/deploy/targets.ts.
   */
  targets: z
    .record(
      z
        .string()
        .regex(TARGET_NAME, "a target name: a letter, then letters, digits, _ - (at most 64), e.g. staging"),
      z.looseObject({
        url: z
          .string()
          .refine((u) => /^https?:\/\/[^/]/.test(u) && URL.canParse(u), "an http:// or https:// URL"),
        kind: z.enum(["dagwood", "triton"]).default("dagwood"),
      }),
    )
    .default({}),
  datasets: z
    .record(
      z
        .string()
        .regex(
          DATASET_NAME,
          "a dataset name: a letter, then letters, digits, _ . - (at most 128), e.g. flights",
        ),
      DatasetSettingsSchema,
    )
    .default({}),
  /** Monitors of deployed models, checked by `dagwood monitor run` (app/monitoring/monitors.ts). */
  monitors: z.record(z.string().regex(MONITOR_NAME, MONITOR_NAME_MESSAGE), MonitorSettingsSchema).default({}),
  /** The feature store's online store (app/features/online/open.ts): SQLite in .dagwood/online.sqlite, or a Redis. */
  online: z
    .discriminatedUnion("kind", [
      z.strictObject({ kind: z.literal("sqlite") }),
      z.strictObject({
        kind: z.literal("redis"),
        url: z
          .string()
          .refine((u) => /^rediss?:\/\/[^/]/.test(u) && URL.canParse(u), "a redis:// or rediss:// URL"),
        /** Prefix of every key, so projects can share one Redis (default "dagwood:<project name>"). */
        keyPrefix: z.string().min(1).max(256).optional(),
      }),
    ])
    .default({ kind: "sqlite" }),
  /** The tracking store and registry: SQLite in .dagwood (default) or a team's PostgreSQL. */
  store: StoreSettingsSchema.default({ kind: "sqlite" }),
  /** A shared artifact location (folder or S3, app/artifacts/location.ts); absent: the project's .dagwood folder. */
  artifacts: ArtifactSettingsSchema.optional(),
  /** Databases the `ingest.database` block reads (app/ingest/db/settings.ts); passwords never here. */
  connections: ConnectionsSchema,
  /** Privacy (app/privacy/types.ts): the inference log's policy for tagged inputs, retention, the scan's sample. */
  privacy: PrivacySettingsSchema,
  /** The project's policy: which `dagwood governance` findings make it exit 1 (for CI). */
  governance: z.looseObject({ failOn: z.array(GovernanceFindingKind).default([]) }).default({ failOn: [] }),
});
export type ProjectSettings = z.output<typeof ProjectSettingsSchema>;

/** dagwood.json is not valid: the user's settings to fix, not a failure of the run. */
export class ProjectSettingsError extends Error {
  override name = "ProjectSettingsError";
}

export function readProjectSettings(dir: string): ProjectSettings {
  const file = join(dir, PROJECT_FILE);
  if (!existsSync(file)) return ProjectSettingsSchema.parse({});
  const errors: ParseError[] = [];
  const json = parseJson(readFileSync(file, "utf8"), errors, { allowTrailingComma: false });
  if (errors.length)
    throw new ProjectSettingsError(
      `${file} is not valid JSON (at offset ${errors[0]!.offset}). Fix it and try again.`,
    );
  const parsed = ProjectSettingsSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
      .join("; ");
    throw new ProjectSettingsError(`${file} has invalid settings: ${problems}`);
  }
  return parsed.data;
}

/** The project folder of a pipeline: the nearest folder up from it with a dagwood.json, else its own folder. */
export function findProjectDir(pipelinePath: string): string {
  const start = dirname(resolve(pipelinePath));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, PROJECT_FILE))) return dir;
    if (dirname(dir) === dir) return start;
  }
}

/** The project's store folder, where Dagwood keeps its state (workspace, metadata, artifacts, serving). */
export const STORE_DIR = ".dagwood";
/** The store folder's own .gitignore: everything in it (the token, the database, the artifacts) stays out of git. */
export const STORE_GITIGNORE =
  "# Dagwood's state: never committed (it holds a serve token, databases, artifacts).\n*\n";

/**
 * Creates `<project>/.dagwood` when missing, with a `.gitignore` holding `*`
 * so nothing in it is committed by accident; an existing store folder gets
 * that `.gitignore` too when it has none (a file already there is kept as it
 * is). Answers the folder.
 */
export function ensureStoreDir(projectDir: string): string {
  const store = join(resolve(projectDir), STORE_DIR);
  mkdirSync(store, { recursive: true });
  try {
    // "wx": never through an existing file or symbolic link.
    writeFileSync(join(store, ".gitignore"), STORE_GITIGNORE, { flag: "wx" });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  return store;
}

export interface OpenProjectOptions {
  /** DuckDB memory limit, e.g. "1GB". */
  memoryLimit?: string;
  threads?: number;
  /** Folders the workspace may also read and write, apart from the project's (dagwood step's input and output folders). */
  ioDirs?: string[];
  /** A workspace in memory, gone at close (dagwood step: a task keeps nothing but its output files). */
  memoryWorkspace?: boolean;
  /**
   * A team store (PostgreSQL) unreachable at start or mid-run keeps the runs in the local journal
   * (`dagwood store sync` copies them later) instead of failing; default true. False: its error.
   */
  journal?: boolean;
  /** Where the store's warnings go (the team store unreachable; default stderr). */
  onStoreWarning?: (message: string) => void;
}

/** A project folder opened for work: its settings, DuckDB workspace and metadata store. */
export class Project {
  private constructor(
    readonly dir: string,
    readonly settings: ProjectSettings,
    readonly allowedDirs: readonly string[],
    readonly workspace: Workspace,
    readonly metadata: MetadataStore,
  ) {}

  static async open(dir: string, opts: OpenProjectOptions = {}): Promise<Project> {
    const root = resolve(dir);
    if (!existsSync(root)) throw new Error(`Project folder not found: ${root}`);
    const settings = readProjectSettings(root);
    const allowedDirs = [root, ...settings.dataFolders.map((d) => resolve(root, d))];
    const state = ensureStoreDir(root);
    mkdirSync(join(state, "artifacts"), { recursive: true });
    const { ioDirs = [], memoryWorkspace, journal: _journal, onStoreWarning: _warn, ...wsOpts } = opts;
    const workspace = await Workspace.open({
      path: memoryWorkspace ? ":memory:" : join(state, "workspace.duckdb"),
      allowedDirs: [...allowedDirs, ...ioDirs.map((d) => resolve(d))],
      tempDir: join(state, "tmp"),
      ...wsOpts,
    });
    let metadata: MetadataStore;
    try {
      // A team store that cannot be reached keeps this project's runs in the local journal, with a warning.
      metadata = openProjectStore(root, settings, {
        journal: opts.journal ?? true,
        ...(opts.onStoreWarning ? { onWarning: opts.onStoreWarning } : {}),
      });
      // The workspace lock is ours now, so no other process is running in this project (on a team
      // store: settles only this machine's runs whose process is gone). An in-memory workspace (a
      // `dagwood step`) holds no lock: another process may be running here, so nothing is settled.
      if (!memoryWorkspace) metadata.markInterruptedRuns();
    } catch (e) {
      workspace.close();
      throw e;
    }
    return new Project(root, settings, allowedDirs, workspace, metadata);
  }

  get artifactsDir(): string {
    return join(this.dir, ".dagwood", "artifacts");
  }

  close(): void {
    this.metadata.close();
    this.workspace.close();
  }
}
