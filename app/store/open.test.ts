// Opening a project's store as dagwood.json says: the settings (a password never in the file),
// where the password comes from, and a team store that is unreachable at start — the error says
// where and what to check, a project that runs pipelines keeps its runs in the local journal,
// and the password appears in none of it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { defineBlock, makeCatalog, requireTable } from "../engine/block";
import { runPlan } from "../engine/engine";
import { validatePipelineText } from "../pipeline/validate";
import { Project, ProjectSettingsError, readProjectSettings } from "../project/project";
import { JOURNAL_FILE, JournalingStore, STORE_TAG } from "./journal";
import { describeStore, openProjectStore, storePassword } from "./open";

const SECRET = "s3cret-Pa55-9d1f";
const dirs: string[] = [];
afterEach(() => {
  vi.unstubAllEnvs();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function projectWith(settings: unknown, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "dagwood-open-"));
  dirs.push(dir);
  writeFileSync(join(dir, "dagwood.json"), JSON.stringify(settings));
  for (const [p, text] of Object.entries(files)) writeFileSync(join(dir, p), text);
  return dir;
}

/** A port nothing listens on (taken, then released). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe("dagwood.json store settings", () => {
  it("defaults to the embedded SQLite store and reads a team store with its schema", () => {
    expect(readProjectSettings(projectWith({})).store).toEqual({ kind: "sqlite" });
    const s = readProjectSettings(
      projectWith({ store: { kind: "postgres", url: "postgres://ana@db.example.com:5432/team" } }),
    );
    expect(s.store).toEqual({
      kind: "postgres",
      url: "postgres://ana@db.example.com:5432/team",
      schema: "dagwood",
    });
    expect(describeStore("/p", s.store)).toBe(
      "PostgreSQL at db.example.com:5432, database team, schema dagwood",
    );
    expect(describeStore("/p", { kind: "sqlite" })).toBe("SQLite file /p/.dagwood/metadata.sqlite");
  });

  it("refuses a URL carrying a password, naming DAGWOOD_STORE_PASSWORD and never repeating the password", () => {
    const dir = projectWith({ store: { kind: "postgres", url: `postgres://ana:${SECRET}@db:5432/team` } });
    let err: unknown;
    try {
      readProjectSettings(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProjectSettingsError);
    const message = (err as Error).message;
    expect(message).toContain("store.url: the URL carries a password");
    expect(message).toContain("DAGWOOD_STORE_PASSWORD");
    expect(message).not.toContain(SECRET);
  });

  it("refuses other URLs, bad schema names and unknown keys with what to write", () => {
    const bad = (store: unknown) => () => readProjectSettings(projectWith({ store }));
    expect(bad({ kind: "postgres", url: "mysql://db/x" })).toThrow(/store\.url: a postgres:\/\/ URL, e\.g\./);
    expect(bad({ kind: "postgres", url: "postgres://db/x", schema: "Team-1" })).toThrow(
      /store\.schema: a lower-case schema name/,
    );
    expect(bad({ kind: "sqlite", url: "postgres://db/x" })).toThrow(/store: Unrecognized key/);
    expect(bad({ kind: "mongo" })).toThrow(/store\.kind/);
  });

  it("reads the artifacts location with the artifact module's schema", () => {
    const s = readProjectSettings(
      projectWith({ artifacts: { kind: "s3", bucket: "team-models", endpoint: "http://127.0.0.1:9000" } }),
    );
    expect(s.artifacts).toEqual({ kind: "s3", bucket: "team-models", endpoint: "http://127.0.0.1:9000" });
    expect(readProjectSettings(projectWith({})).artifacts).toBeUndefined();
    expect(() => readProjectSettings(projectWith({ artifacts: { kind: "s3", bucket: "A" } }))).toThrow(
      /artifacts\.bucket: an S3 bucket name/,
    );
  });
});

describe("the team store's password", () => {
  const url = "postgres://ana@db:5432/team";
  it("comes from DAGWOOD_STORE_PASSWORD first, without asking the keychain", () => {
    const run = vi.fn(() => "from-keychain\n");
    expect(storePassword(url, { env: { DAGWOOD_STORE_PASSWORD: "p1" }, platform: "linux", run })).toEqual({
      password: "p1",
      source: "env",
    });
    expect(run).not.toHaveBeenCalled();
  });

  it("else from the keychain entry of service dagwood named by the URL (secret-tool / security)", () => {
    const run = vi.fn((_c: string, _a: string[]) => "from-keychain\n");
    expect(storePassword(url, { env: {}, platform: "linux", run })).toEqual({
      password: "from-keychain",
      source: "keychain",
    });
    expect(run).toHaveBeenCalledWith("secret-tool", ["lookup", "service", "dagwood", "store", url]);
    storePassword(url, { env: {}, platform: "darwin", run });
    expect(run).toHaveBeenLastCalledWith("security", [
      "find-generic-password",
      "-s",
      "dagwood",
      "-a",
      `store:${url}`,
      "-w",
    ]);
  });

  it("else none: libpq's own PGPASSWORD / ~/.pgpass apply", () => {
    const run = () => {
      throw new Error("secret-tool: no such entry");
    };
    expect(storePassword(url, { env: {}, platform: "linux", run })).toBeNull();
  });
});

const emit = defineBlock({
  kind: "t.emit",
  version: 1,
  title: "Emit",
  category: "Test",
  description: "a table and a metric",
  inputs: {},
  outputs: { out: { type: "table" } },
  params: z.object({}),
  async run(ctx) {
    const out = ctx.newTable("out");
    await ctx.sql.run(`CREATE OR REPLACE TABLE "${out}" AS SELECT 1 AS a`);
    ctx.metric("rows", 1);
    return { out: { type: "table", name: out } };
  },
});
const count = defineBlock({
  kind: "t.count",
  version: 1,
  title: "Count",
  category: "Test",
  description: "a metric of its input",
  inputs: { in: { type: "table" } },
  outputs: {},
  params: z.object({}),
  async run(ctx, inputs) {
    requireTable(inputs, "in");
    ctx.metric("seen", 1);
    ctx.log("counted");
    return {};
  },
});
const PIPELINE = JSON.stringify({
  format: "dagwood.pipeline/1",
  name: "team",
  nodes: [
    { id: "emit", block: "t.emit", params: {} },
    { id: "count", block: "t.count", params: {} },
  ],
  edges: [{ from: "emit.out", to: "count.in" }],
});

describe("a team store unreachable at start", () => {
  it("is a clear error naming host and port, with no trace of the password", async () => {
    const port = await closedPort();
    const dir = projectWith({});
    let err: unknown;
    try {
      openProjectStore(
        dir,
        { store: { kind: "postgres", url: `postgres://ana@127.0.0.1:${port}/team`, schema: "dagwood" } },
        { env: { DAGWOOD_STORE_PASSWORD: SECRET }, platform: "linux" },
      );
    } catch (e) {
      err = e;
    }
    expect((err as Error).name).toBe("StoreError");
    expect((err as { kind: string }).kind).toBe("unreachable");
    const text = `${(err as Error).message} ${(err as Error).stack} ${JSON.stringify(err)}`;
    expect(text).toContain(`127.0.0.1:${port}`);
    expect(text).not.toContain(SECRET);
  });

  it("a project that runs pipelines keeps the run in the local journal, warns, and records no trace of the password", async () => {
    const port = await closedPort();
    vi.stubEnv("DAGWOOD_STORE_PASSWORD", SECRET);
    const dir = projectWith({ store: { kind: "postgres", url: `postgres://ana@127.0.0.1:${port}/team` } });
    const warnings: string[] = [];
    const project = await Project.open(dir, { threads: 1, onStoreWarning: (m) => warnings.push(m) });
    let runId: string;
    try {
      expect(project.metadata).toBeInstanceOf(JournalingStore);
      const { plan, problems } = validatePipelineText(PIPELINE, makeCatalog([emit, count]));
      expect(problems).toEqual([]);
      const summary = await runPlan({ project, plan: plan! });
      runId = summary.runId;
      expect(summary.status).toBe("succeeded");
      const run = project.metadata.getRun(runId)!;
      expect(run.status).toBe("succeeded");
      expect(run.tags[STORE_TAG]).toBe("pending");
      expect(
        project.metadata
          .metrics(runId)
          .map((m) => m.name)
          .sort(),
      ).toEqual(["rows", "seen"]);
      // The registry is never journalled: it says so.
      expect(() => project.metadata.registry.listModels()).toThrow(
        /The team store \(PostgreSQL at 127\.0\.0\.1:\d+, database team, schema dagwood\) is unreachable, and the model registry is kept only there/,
      );
      const record = JSON.stringify({
        run,
        nodes: project.metadata.nodeRuns(runId),
        logs: project.metadata.logs(runId),
        metrics: project.metadata.metrics(runId),
        text: project.metadata.pipelineText(runId),
        params: project.metadata.resolvedParams(runId),
        warnings,
      });
      expect(record).not.toContain(SECRET);
    } finally {
      project.close();
    }
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toMatch(
      /is unreachable: this run is recorded locally in \.dagwood\/pending\/journal\.sqlite/,
    );
    expect(warnings[0]).toContain(
      `The team store (PostgreSQL at 127.0.0.1:${port}, database team, schema dagwood) is unreachable`,
    );
    expect(warnings[0]).toMatch(/Check that the server is up and reachable from this machine/);
    expect(warnings[0]).toContain(`Runs go on locally meanwhile: they are kept in ${JOURNAL_FILE}`);
    expect(warnings[0]).toContain("dagwood store sync");
    // Nor anywhere in the journal file's bytes.
    expect(readFileSync(join(dir, JOURNAL_FILE)).includes(Buffer.from(SECRET))).toBe(false);
  }, 60_000);

  it("with journal off (commands that only read) is the error itself", async () => {
    const port = await closedPort();
    const dir = projectWith({ store: { kind: "postgres", url: `postgres://ana@127.0.0.1:${port}/team` } });
    await expect(Project.open(dir, { threads: 1, journal: false })).rejects.toThrow(`127.0.0.1:${port}`);
  });
});
