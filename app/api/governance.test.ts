import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Project } from "../project/project";
import { createTempStore, type SqliteMetadataStore } from "../store/metadata";
import { GovernanceFinding } from "../values/governance";
import { ApiError, parseApiArgs } from "./api";
import { describeAudit } from "./audit";
import { governanceHandlers } from "./handlers/governance";
import type { CoreState } from "./handlers/state";
import { createTrackingHandlers } from "./tracking";

/** The error `attempt` rejects with. */
async function rejection(attempt: () => Promise<unknown>): Promise<unknown> {
  try {
    await attempt();
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

describe("the Api's governance", () => {
  let store: SqliteMetadataStore;
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => {
    ({ store, dir, cleanup } = createTempStore());
    store.registry.upsertModel("churn", { owner: "ana" }, "ana");
  });
  afterEach(() => cleanup());

  it("updateModel takes purpose, reviewBy and deprecated (null clears) and refuses bad ones with a 400 naming the field", async () => {
    const api = createTrackingHandlers(() => ({ dir, metadata: store }));
    const call = (args: unknown) => api.updateModel(parseApiArgs("updateModel", args));
    const updated = await call({
      name: "churn",
      purpose: "Weekly churn scores",
      reviewBy: "2027-03-31",
      deprecated: { reason: "Replaced", replacement: "churn-v2" },
    });
    expect(updated).toMatchObject({
      purpose: "Weekly churn scores",
      reviewBy: "2027-03-31",
      deprecated: { reason: "Replaced", replacement: "churn-v2" },
    });
    expect(await call({ name: "churn", deprecated: null, reviewBy: null })).toMatchObject({
      purpose: "Weekly churn scores",
      reviewBy: null,
      deprecated: null,
    });
    for (const [args, message] of [
      [{ name: "churn", reviewBy: "2027-02-29" }, /reviewBy: not a calendar date/],
      [{ name: "churn", deprecated: { reason: "x", replacment: "y" } }, /deprecated: Unrecognized key/],
      [{ name: "churn", deprecated: {} }, /deprecated\.reason/],
    ] as const) {
      const e = await rejection(() => call(args));
      expect(e, JSON.stringify(args)).toBeInstanceOf(ApiError);
      expect((e as ApiError).status).toBe(400);
      expect((e as Error).message).toMatch(message);
    }
  });

  it("the audit log says a deprecation and its lifting in words", () => {
    const registry = store.registry;
    registry.upsertModel(
      "churn",
      { purpose: "p", deprecated: { reason: "old", replacement: "churn-v2" } },
      "ana",
    );
    registry.upsertModel("churn", { deprecated: { reason: "old" } }, "ana");
    registry.upsertModel("churn", { deprecated: null }, "ana");
    const said = registry
      .audit({ model: "churn" })
      .filter((e) => e.action === "model.updated")
      .map((e) => describeAudit(e))
      .reverse();
    expect(said).toEqual([
      "model purpose updated; model deprecated (use churn-v2)",
      "model deprecated",
      "deprecation lifted",
    ]);
  });

  it("governanceReport answers the findings and the policy, re-reading dagwood.json; a broken one is a 400", async () => {
    const state = { requireProject: () => ({ dir, metadata: store }) as unknown as Project } as CoreState;
    const api = governanceHandlers(state, () => new Date("2026-12-06T09:00:00Z"));
    store.registry.upsertModel("churn", { reviewBy: "2026-12-05" }, "ana");
    writeFileSync(
      join(dir, "dagwood.json"),
      JSON.stringify({ datasets: { flights: { path: "f.csv" } }, governance: { failOn: ["noOwner"] } }),
    );
    const report = await api.governanceReport(parseApiArgs("governanceReport", {}));
    expect(report.failOn).toEqual(["noOwner"]);
    expect(report.findings.map((f) => `${f.kind} ${f.artifact.kind} ${f.artifact.name}`)).toEqual([
      "noOwner dataset flights",
      "pastReview model churn",
    ]);
    for (const f of report.findings) expect(GovernanceFinding.parse(f)).toEqual(f);
    writeFileSync(join(dir, "dagwood.json"), JSON.stringify({ governance: { failOn: ["noOwners"] } }));
    const e = await rejection(() => api.governanceReport({}));
    expect((e as ApiError).status).toBe(400);
    expect((e as Error).message).toMatch(/governance\.failOn\.0/);
  });
});
