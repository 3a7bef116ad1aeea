import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTempStore, type SqliteMetadataStore } from "../store/metadata";
import { startTestRun } from "../tracking/testing";
import { ApiError, type ApiMethod, parseApiArgs } from "./api";
import { TRACKING_METHODS } from "./api-methods";
import { describeAudit } from "./audit";
import { createTrackingHandlers, toApiError } from "./tracking";

describe("production through the Api", () => {
  let store: SqliteMetadataStore;
  let dir: string;
  let cleanup: () => void;
  let handlers: ReturnType<typeof createTrackingHandlers>;
  const previousUser = process.env.DAGWOOD_USER;

  /** The method as the transports call it: arguments parsed, store errors as ApiErrors. */
  const call = async (method: (typeof TRACKING_METHODS)[number], args: unknown): Promise<unknown> => {
    try {
      return await (handlers[method] as (a: unknown) => Promise<unknown>)(
        parseApiArgs(method as ApiMethod, args),
      );
    } catch (e) {
      throw toApiError(e);
    }
  };
  const status = (p: Promise<unknown>) =>
    p.then(
      () => 200,
      (e) => (e instanceof ApiError ? e.status : Promise.reject(e)),
    );

  beforeEach(() => {
    process.env.DAGWOOD_USER = "ana";
    ({ store, dir, cleanup } = createTempStore());
    handlers = createTrackingHandlers(() => ({ dir, metadata: store }));
    mkdirSync(join(dir, "out"));
    writeFileSync(join(dir, "out", "model.json"), "{}");
    writeFileSync(join(dir, "out", "model.onnx"), "onnx");
    // A run without a gate node registers v1.
    startTestRun(store, "r1");
    store.registry.registerVersion({
      name: "penguins",
      runId: "r1",
      nodeId: "tree",
      modelFingerprint: "f1",
      estimator: "tree",
      task: "classification",
      signature: { inputs: [], outputs: [] },
      metrics: {},
      parity: null,
      files: { native: join(dir, "out", "model.json"), onnx: join(dir, "out", "model.onnx") },
      lineage: {
        run: {
          id: "r1",
          pipeline: "test",
          pipelinePath: null,
          pipelineHash: null,
          startedAt: "",
          user: null,
        },
        nodeId: "tree",
        datasets: [],
        params: {},
        environment: {},
      },
      actor: "ana",
    });
  });
  afterEach(() => {
    cleanup();
    if (previousUser === undefined) delete process.env.DAGWOOD_USER;
    else process.env.DAGWOOD_USER = previousUser;
  });

  it("are tracking methods", () => {
    expect(TRACKING_METHODS).toContain("productionCheck");
    expect(TRACKING_METHODS).toContain("aliasHistory");
  });

  it("productionCheck lists what is missing without moving anything; 404 for an unknown version", async () => {
    const check = (await call("productionCheck", { name: "penguins", version: 1 })) as { missing: string[] };
    expect(check.missing).toEqual([
      expect.stringContaining("run r1, which registered v1, has no gate node"),
      expect.stringContaining('a successful deploy to the "staging" target'),
    ]);
    expect(store.registry.getModel("penguins")!.aliases).toEqual({});
    expect(await status(call("productionCheck", { name: "penguins", version: 2 }))).toBe(404);
    expect(await status(call("productionCheck", { name: "nope", version: 1 }))).toBe(404);
  });

  it("setAlias: 409 without the requirements, 400 for a blank or overlong reason, moved with a reason", async () => {
    const refused = call("setAlias", { name: "penguins", alias: "production", version: 1 });
    await expect(refused).rejects.toMatchObject({
      status: 409,
      message: expect.stringContaining("the reason field of the alias dialog"),
    });
    expect(
      await status(call("setAlias", { name: "penguins", alias: "production", version: 1, reason: " " })),
    ).toBe(400);
    expect(
      await status(
        call("setAlias", { name: "penguins", alias: "production", version: 1, reason: "x".repeat(2001) }),
      ),
    ).toBe(400);
    const entry = (await call("setAlias", {
      name: "penguins",
      alias: "production",
      version: 1,
      reason: "the gate was added after this version; reviewed by bo",
    })) as Parameters<typeof describeAudit>[0];
    expect(entry.actor).toBe("ana");
    expect(describeAudit(entry)).toBe(
      'alias production set on v1 (override: "the gate was added after this version; reviewed by bo")',
    );
    const history = (await call("aliasHistory", { name: "penguins" })) as {
      alias: string;
      production: unknown;
    }[];
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({
      alias: "production",
      change: "set",
      to: 1,
      production: { reason: "the gate was added after this version; reviewed by bo" },
    });
    expect(await status(call("aliasHistory", { name: "nope" }))).toBe(404);
    expect(await status(call("aliasHistory", { name: "penguins", alias: "3" }))).toBe(400);
  });

  it("removeAlias production: 409 saying how to give a reason, 400 for a blank one, removed with one", async () => {
    await call("setAlias", { name: "penguins", alias: "production", version: 1, reason: "first release" });
    await expect(call("removeAlias", { name: "penguins", alias: "production" })).rejects.toMatchObject({
      status: 409,
      message: expect.stringContaining('--remove --override-reason "…"'),
    });
    expect(await status(call("removeAlias", { name: "penguins", alias: "production", reason: "  " }))).toBe(
      400,
    );
    expect(
      await status(call("removeAlias", { name: "penguins", alias: "production", reason: "x".repeat(2001) })),
    ).toBe(400);
    expect(store.registry.getModel("penguins")!.aliases).toEqual({ production: 1 });
    const entry = (await call("removeAlias", {
      name: "penguins",
      alias: "production",
      reason: "v1 mislabels chinstraps; incident 9",
    })) as Parameters<typeof describeAudit>[0];
    expect(entry.actor).toBe("ana");
    expect(entry.details).toMatchObject({
      alias: "production",
      from: 1,
      reason: "v1 mislabels chinstraps; incident 9",
    });
    expect(describeAudit(entry)).toBe(
      'alias production removed from v1 (reason: "v1 mislabels chinstraps; incident 9")',
    );
    const [latest] = (await call("aliasHistory", { name: "penguins", alias: "production" })) as {
      change: string;
      reason: string | null;
    }[];
    expect(latest).toMatchObject({
      change: "removed",
      from: 1,
      reason: "v1 mislabels chinstraps; incident 9",
    });
  });

  it("archiveVersion of the production version: 409 without a reason, archived with one", async () => {
    await call("setAlias", { name: "penguins", alias: "production", version: 1, reason: "first release" });
    await expect(call("archiveVersion", { name: "penguins", version: 1 })).rejects.toMatchObject({
      status: 409,
      message: expect.stringContaining("the reason field of the archive dialog"),
    });
    expect(await status(call("archiveVersion", { name: "penguins", version: 1, reason: "" }))).toBe(400);
    expect(store.registry.getVersion("penguins", 1)!.status).toBe("ready");
    const entry = (await call("archiveVersion", {
      name: "penguins",
      version: 1,
      reason: "retired with the old sensor",
    })) as Parameters<typeof describeAudit>[0];
    expect(describeAudit(entry)).toBe(
      'v1 archived (alias production removed) (reason: "retired with the old sensor")',
    );
    const [latest] = (await call("aliasHistory", { name: "penguins" })) as {
      change: string;
      reason: string;
    }[];
    expect(latest).toMatchObject({
      alias: "production",
      change: "archived",
      reason: "retired with the old sensor",
    });
  });
});
