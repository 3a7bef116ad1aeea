/**
 * A store with runs by two users on three machines, for the tests of whose run is whose (the Api,
 * the CLI, the app's e2e spec): written into the project's SQLite store directly, as a team store
 * would hold runs that other analysts started elsewhere.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { SqliteMetadataStore } from "../store/metadata";

export interface OwnedRun {
  id: string;
  user: string | null;
  host: string | null;
}

/** Oldest first: ana on two machines, ben on one, and a run from before owners were kept. */
export const OWNED_RUNS: readonly OwnedRun[] = [
  { id: "r1-ana-ws1", user: "ana", host: "ws-1.lab.example" },
  { id: "r2-ana-gpu", user: "ana", host: "gpu-7" },
  { id: "r3-ben-ws2", user: "ben", host: "ws-2" },
  { id: "r4-ben-ws2", user: "ben", host: "ws-2" },
  { id: "r5-nobody", user: null, host: null },
];

/** Writes `runs` (succeeded, started seconds apart, oldest first, one metric each) into `projectDir`'s store. */
export function seedOwnedRuns(
  projectDir: string,
  runs: readonly OwnedRun[] = OWNED_RUNS,
  pipeline = "penguins",
): void {
  // Started just now, so that their durations (taken when they finish, below) read as seconds.
  const start = Date.now() - runs.length * 7_000;
  mkdirSync(join(projectDir, ".dagwood"), { recursive: true });
  const dbPath = join(projectDir, ".dagwood", "metadata.sqlite");
  const store = new SqliteMetadataStore(dbPath, { projectDir });
  runs.forEach((r, i) => {
    store.startRun({
      id: r.id,
      pipeline,
      pipelinePath: null,
      pipelineHash: null,
      pipelineText: null,
      params: {},
      resolvedParams: { "train.depth": i + 2 },
      startedAt: new Date(start + i * 7_000).toISOString(),
      environment: {},
      user: r.user,
    });
    store.logMetrics([
      { runId: r.id, nodeId: "evaluate", name: "accuracy", value: 0.8 + i / 100, step: null },
    ]);
    store.finishRun(r.id, "succeeded");
  });
  store.close();
  // The store records the machine of the process that starts a run: these ran elsewhere.
  const db = new Database(dbPath);
  try {
    const setHost = db.prepare("UPDATE runs SET host = ? WHERE id = ?");
    for (const r of runs) setHost.run(r.host, r.id);
  } finally {
    db.close();
  }
}
