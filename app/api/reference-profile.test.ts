/**
 * The Api's getReferenceProfile: a registered version's stored reference
 * profile, from a project whose pipeline registered it; a version without
 * one, and a damaged file, say what to do.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../../nodes/index";
import { PENGUINS_CSV, penguinTreePipeline } from "../tracking/testing";
import { ApiError } from "./api";
import { type CoreApi, createCoreApi } from "./core";

const PIPELINE = penguinTreePipeline({ csvPath: "data/penguins.csv", testFraction: 0.25 });

const failure = (p: Promise<unknown>) =>
  p.then(
    () => ({ status: 200, message: "" }),
    (e) =>
      e instanceof ApiError ? { status: e.status, message: e.message } : { status: 0, message: String(e) },
  );

describe("getReferenceProfile", () => {
  let dir: string;
  let api: CoreApi;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-reference-profile-"));
    mkdirSync(join(dir, "data"));
    writeFileSync(join(dir, "data", "penguins.csv"), readFileSync(PENGUINS_CSV));
    api = await createCoreApi({ catalog, projectDir: dir });
    const done = new Promise<string>((resolve) =>
      api.onEvent((e) => {
        if (e.type === "run.finished") resolve(e.status);
      }),
    );
    await api.startRun({ document: PIPELINE, path: "tree.dag.json", params: { depth: 3 } });
    expect(await done).toBe("succeeded");
  }, 120_000);
  afterAll(async () => {
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers the version's profile: its training columns and the model's predictions", async () => {
    const r = await api.getReferenceProfile({ name: "penguins", ref: "challenger" });
    expect(r).toMatchObject({
      name: "penguins",
      version: 1,
      file: ".dagwood/registry/penguins/1/reference-profile.json",
    });
    expect(r.bytes).toBe(statSync(join(dir, r.file)).size);
    expect(r.profile.target).toBe("species");
    expect(r.profile.prediction).toBe("prediction");
    const species = r.profile.columns.find((c) => c.name === "species")!;
    const prediction = r.profile.columns.find((c) => c.name === "prediction")!;
    // Predictions for every training row: as many as the target has values.
    const count = (c: typeof species) => c.frequencies!.reduce((a, f) => a + f.count, 0);
    expect(count(prediction)).toBe(count(species));
    expect(count(species)).toBe(r.profile.rows - species.missing);
    expect(await api.getReferenceProfile({ name: "penguins", ref: 1 })).toEqual(r);
  });

  it("404 for an unknown model, alias or version; says what to do when the version keeps no profile", async () => {
    expect(await failure(api.getReferenceProfile({ name: "walrus", ref: "champion" }))).toMatchObject({
      status: 404,
    });
    expect(await failure(api.getReferenceProfile({ name: "penguins", ref: "prod" }))).toMatchObject({
      status: 404,
      message: 'Model "penguins" has no alias "prod" (its aliases: challenger).',
    });
    expect(await failure(api.getReferenceProfile({ name: "penguins", ref: 9 }))).toMatchObject({
      status: 404,
    });
    const file = join(dir, ".dagwood", "registry", "penguins", "1", "reference-profile.json");
    const saved = readFileSync(file);
    try {
      writeFileSync(file, "{ not json");
      const damaged = await failure(api.getReferenceProfile({ name: "penguins", ref: 1 }));
      expect(damaged.status).toBe(409);
      expect(damaged.message).toMatch(/reference-profile\.json is not valid JSON .*re-register the model/);
      unlinkSync(file);
      const none = await failure(api.getReferenceProfile({ name: "penguins", ref: 1 }));
      expect(none.status).toBe(404);
      expect(none.message).toMatch(
        /^penguins v1 has no reference profile: it was registered before Dagwood kept one/,
      );
    } finally {
      writeFileSync(file, saved);
    }
  });
});
