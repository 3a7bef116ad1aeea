import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openRawSql, specOf } from "./fixtures/store-spec";
import { RegistryError, type SqliteMetadataStore } from "./metadata";
import { createTestStore, type TestStore } from "./testing";

describe("registered models: purpose, review date, deprecation", () => {
  let test: TestStore;
  let store: SqliteMetadataStore;
  let cleanup: () => void;
  beforeEach(() => {
    test = createTestStore();
    ({ store, cleanup } = test);
    store.registry.upsertModel("churn", { owner: "ana" }, "ana");
  });
  afterEach(() => cleanup());

  const updates = () =>
    store.registry
      .audit({ model: "churn" })
      .filter((e) => e.action === "model.updated")
      .reverse();

  it("a new model has none of them", () => {
    expect(store.registry.getModel("churn")).toMatchObject({
      owner: "ana",
      purpose: null,
      reviewBy: null,
      deprecated: null,
    });
  });

  it("deprecates and lifts it again, each change audited with what changed, kept in the database", () => {
    const { registry } = store;
    registry.upsertModel("churn", { purpose: "Weekly churn scores", reviewBy: "2027-03-31" }, "ana");
    const deprecated = { reason: "Trained on 2024 data", replacement: "churn-v2", since: "2026-12-01" };
    registry.upsertModel("churn", { deprecated }, "bo");
    expect(registry.getModel("churn")).toMatchObject({
      purpose: "Weekly churn scores",
      reviewBy: "2027-03-31",
      deprecated,
    });
    // The same deprecation again (its keys in another order) changes nothing and is not audited.
    registry.upsertModel(
      "churn",
      { deprecated: { since: "2026-12-01", replacement: "churn-v2", reason: "Trained on 2024 data" } },
      "bo",
    );
    registry.upsertModel("churn", { deprecated: null }, "cy");
    expect(registry.getModel("churn")!.deprecated).toBeNull();
    expect(updates().map((e) => [e.actor, e.details])).toEqual([
      ["ana", { purpose: "Weekly churn scores", reviewBy: "2027-03-31" }],
      ["bo", { deprecated }],
      ["cy", { deprecated: null, deprecatedBefore: deprecated }],
    ]);
    // What the database holds, read without the registry: the columns the migration added.
    const db = openRawSql(specOf(test));
    try {
      expect(db.get("SELECT purpose, review_by, deprecated FROM models WHERE name = 'churn'")).toEqual({
        purpose: "Weekly churn scores",
        review_by: "2027-03-31",
        deprecated: null,
      });
    } finally {
      db.close();
    }
  });

  it("null clears purpose and review date; other fields stay", () => {
    const { registry } = store;
    registry.upsertModel("churn", { purpose: "p", reviewBy: "2027-01-01", description: "d" }, "ana");
    registry.upsertModel("churn", { purpose: null, reviewBy: null }, "ana");
    expect(registry.getModel("churn")).toMatchObject({
      purpose: null,
      reviewBy: null,
      description: "d",
      owner: "ana",
    });
    expect(updates().at(-1)!.details).toEqual({ purpose: null, reviewBy: null });
  });

  it("refuses a malformed review date or deprecation with what to write, changing nothing", () => {
    const { registry } = store;
    const cases: [Parameters<typeof registry.upsertModel>[1], RegExp][] = [
      [{ reviewBy: "2027-02-30" }, /Invalid review date "2027-02-30": not a calendar date/],
      [{ reviewBy: "31.03.2027" }, /Invalid review date "31.03.2027": a date as YYYY-MM-DD/],
      [{ deprecated: { reason: "" } }, /Invalid deprecation: reason: .*Give a reason/],
      [{ deprecated: { reason: "old", since: "soon" } }, /Invalid deprecation: since: a date as YYYY-MM-DD/],
    ];
    for (const [fields, message] of cases) {
      let thrown: unknown;
      try {
        registry.upsertModel("churn", fields, "ana");
      } catch (e) {
        thrown = e;
      }
      expect(thrown, JSON.stringify(fields)).toBeInstanceOf(RegistryError);
      expect((thrown as RegistryError).code).toBe("invalid");
      expect((thrown as Error).message).toMatch(message);
    }
    expect(registry.getModel("churn")).toMatchObject({ reviewBy: null, deprecated: null });
    expect(updates()).toEqual([]);
  });
});
