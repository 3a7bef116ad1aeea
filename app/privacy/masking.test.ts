import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { describeAudit } from "../api/audit";
import type { V2Tensor } from "../deploy/client";
import type { DagwoodModel } from "../ml/model";
import { SqliteMetadataStore } from "../store/metadata";
import type { ModelVersion } from "../store/types";
import type { ProfileReport } from "../values/profile";
import {
  CONFIRM_NEEDED,
  categoriesInClear,
  maskProfile,
  maskReport,
  maskRows,
  maskTensors,
  personalColumns,
  recordUnmasked,
  reportColumnsHit,
  unconfirmed,
  versionPersonalInputs,
} from "./masking";
import type { ColumnTag } from "./types";

const tag = (name: string, column = "email"): ColumnTag => ({
  tag: name,
  origin: { dataset: "customers", column },
  via: [],
});

describe("personalColumns", () => {
  it("takes the columns tagged pii or sensitive, in order; the user's own tags do not mask", () => {
    const cols = personalColumns([
      { name: "id" },
      { name: "email", tags: [tag("pii")] },
      { name: "region", tags: [tag("internal", "region")] },
      { name: "income", tags: [tag("finance", "income"), tag("sensitive", "income")] },
      { name: "empty", tags: [] },
    ]);
    expect([...cols.keys()]).toEqual(["email", "income"]);
  });
});

describe("versionPersonalInputs", () => {
  const version = (personalData: unknown) => ({ lineage: { personalData } }) as unknown as ModelVersion;
  it("names the inputs whose uses carry a personal tag", () => {
    const cols = versionPersonalInputs(
      version([
        { input: "email_domain", tags: [tag("pii")] },
        { input: "region", tags: [tag("internal", "region")] },
      ]),
    );
    expect([...cols.keys()]).toEqual(["email_domain"]);
  });
  it("names none for a version registered before tags (no personalData)", () => {
    expect(versionPersonalInputs(version(undefined)).size).toBe(0);
  });
});

describe("masking values", () => {
  const personal = new Map([["email", undefined]]);
  it("maskRows masks only the named columns, and copies", () => {
    const rows = [
      { email: "jane@example.com", n: 1 },
      { email: null, n: 2 },
    ];
    const masked = maskRows(rows, personal);
    expect(masked).toEqual([
      { email: "***", n: 1 },
      { email: null, n: 2 },
    ]);
    expect(rows[0]!.email).toBe("jane@example.com");
  });

  it("maskTensors masks a personal tensor's text and nulls its numbers, and leaves others as they are", () => {
    const tensors: V2Tensor[] = [
      { name: "email", datatype: "BYTES", shape: [2, 1], data: ["jane@example.com", ""] },
      { name: "age", datatype: "FP64", shape: [2, 1], data: [41, null] },
      { name: "spend", datatype: "FP64", shape: [2, 1], data: [3.5, 7] },
    ];
    const out = maskTensors(tensors, new Map([...personal, ["age", undefined]]));
    expect(out.map((t) => t.data)).toEqual([
      ["***", ""],
      [null, null],
      [3.5, 7],
    ]);
    expect(out[2]).toBe(tensors[2]);
    expect(tensors[0]!.data[0]).toBe("jane@example.com");
  });

  it("maskProfile hides a personal column's frequent values and extremes, keeps its counts, and others whole", () => {
    const column = (name: string, extra: Partial<ProfileReport["columns"][number]>) => ({
      name,
      type: "VARCHAR",
      kind: "categorical" as const,
      unit: null,
      nulls: 0,
      nullFraction: 0,
      distinct: 2,
      distinctApprox: false,
      nonFinite: 0,
      min: null,
      max: null,
      mean: null,
      std: null,
      quantiles: null,
      histogram: null,
      top: null,
      ...extra,
    });
    const report: ProfileReport = {
      kind: "profile",
      rows: 3,
      columns: [
        column("email", {
          top: [
            { value: "ann@x.org", count: 2 },
            { value: "bo@y.org", count: 1 },
          ],
        }),
        column("age", {
          type: "BIGINT",
          kind: "numeric",
          min: 19,
          max: 77,
          quantiles: { "0.5": 40 },
          histogram: { edges: [19, 77], counts: [3] },
        }),
        column("spend", { type: "DOUBLE", kind: "numeric", min: 1, max: 9 }),
      ],
      correlation: { method: "pearson", columns: [], matrix: [] },
    };
    const out = maskProfile(report, new Map([...personal, ["age", undefined]]));
    expect(out.columns[0]!.top).toEqual([
      { value: "***", count: 2 },
      { value: "***", count: 1 },
    ]);
    expect(out.columns[1]).toMatchObject({ min: null, max: null, quantiles: {}, histogram: null, nulls: 0 });
    expect(out.columns[2]).toBe(report.columns[2]);
    expect(maskProfile(report, new Map())).toBe(report);
  });
});

describe("categoriesInClear", () => {
  it("lists the personal text inputs whose fitted categories the model holds", () => {
    const model = {
      preprocess: {
        features: [
          { name: "segment", kind: "categorical", categories: ["gold", "silver"] },
          { name: "age", kind: "numeric" },
          { name: "city", kind: "categorical", categories: ["Oslo"] },
          { name: "blank", kind: "categorical", categories: [] },
        ],
      },
    } as unknown as DagwoodModel;
    const cols = new Map([
      ["segment", undefined],
      ["age", undefined],
      ["blank", undefined],
    ]);
    expect(categoriesInClear(model, cols)).toEqual([{ input: "segment", categories: 2 }]);
  });
});

describe("the confirmation and the audit entry", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("an unmasked request counts only with confirm: true", () => {
    expect(unconfirmed({})).toBe(false);
    expect(unconfirmed({ unmasked: false })).toBe(false);
    expect(unconfirmed({ unmasked: true })).toBe(true);
    expect(unconfirmed({ unmasked: true, confirm: false })).toBe(true);
    expect(unconfirmed({ unmasked: true, confirm: true })).toBe(false);
    expect(CONFIRM_NEEDED).toContain("audit log");
  });

  it("records privacy.unmasked about the project as model *, and about a version with its model and version", () => {
    const dir = mkdtempSync(join(tmpdir(), "dagwood-unmasked-"));
    dirs.push(dir);
    const store = new SqliteMetadataStore(join(dir, "metadata.sqlite"), { projectDir: dir });
    try {
      recordUnmasked(store.registry, {
        actor: "ana",
        what: "table preview",
        where: "the app",
        columns: ["email"],
        details: { table: "t_1" },
      });
      recordUnmasked(store.registry, {
        actor: "bo",
        what: "models export",
        where: "exports/m-v2",
        columns: ["segment"],
        model: "m",
        version: 2,
      });
      const entries = store.registry.audit({ actions: ["privacy.unmasked"] });
      expect(entries.map(({ id: _id, at: _at, ...e }) => e)).toEqual([
        {
          actor: "bo",
          action: "privacy.unmasked",
          model: "m",
          version: 2,
          details: { what: "models export", where: "exports/m-v2", columns: ["segment"] },
        },
        {
          actor: "ana",
          action: "privacy.unmasked",
          model: "*",
          version: null,
          details: { what: "table preview", where: "the app", columns: ["email"], table: "t_1" },
        },
      ]);
      expect(entries.map((e) => describeAudit(e))).toEqual([
        "personal data shown in clear: segment (models export, exports/m-v2) by bo",
        "personal data shown in clear: email (table preview, the app) by ana",
      ]);
    } finally {
      store.close();
    }
  });
});

describe("a validation report's values", () => {
  const result = (type: string, kwargs: Record<string, unknown>, result: Record<string, unknown>) => ({
    expectation_type: type,
    kwargs,
    success: false,
    result,
    expectation_config: { expectation_type: type, kwargs },
    exception_info: { raised_exception: false, exception_message: null, exception_traceback: null },
  });
  const report = {
    kind: "validation",
    success: false,
    statistics: {
      evaluated_expectations: 5,
      successful_expectations: 0,
      unsuccessful_expectations: 5,
      success_percent: 0,
    },
    results: [
      result(
        "expect_column_values_to_match_regex",
        { column: "email", regex: "@example[.]com$" },
        {
          element_count: 3,
          unexpected_count: 2,
          partial_unexpected_list: ["jane@other.org", "bob@mail.net"],
        },
      ),
      result("expect_column_max_to_be_between", { column: "age", max_value: 90 }, { observed_value: 97 }),
      result(
        "expect_column_distinct_values_to_be_in_set",
        { column: "email", value_set: [] },
        {
          observed_value: ["bob@mail.net", "jane@other.org"],
          details: { value_counts: [{ value: "bob@mail.net", count: 1 }] },
        },
      ),
      result(
        "expect_column_unique_value_count_to_be_between",
        { column: "email", min_value: 5 },
        { observed_value: 2 },
      ),
      result(
        "expect_column_values_to_be_in_set",
        { column: "region", value_set: ["north"] },
        { unexpected_count: 1, partial_unexpected_list: ["south"] },
      ),
    ],
    meta: { expectation_suite_name: "s", rows: 3 },
  };
  const personal = new Map([
    ["email", undefined],
    ["age", undefined],
  ]);

  it("masks the unexpected values, observed values and details of personal columns, and counts and others stay", () => {
    expect(reportColumnsHit(report, personal)).toEqual(["email", "age"]);
    const masked = maskReport(report, personal) as typeof report;
    const text = JSON.stringify(masked);
    for (const clear of ["jane@other.org", "bob@mail.net", "97"]) expect(text).not.toContain(clear);
    expect(masked.results[0]!.result).toEqual({
      element_count: 3,
      unexpected_count: 2,
      partial_unexpected_list: ["***", "***"],
    });
    expect(masked.results[1]!.result).toEqual({ observed_value: null });
    expect(masked.results[2]!.result.observed_value).toEqual(["***", "***"]);
    // A count of values is no one's value.
    expect(masked.results[3]!.result).toEqual({ observed_value: 2 });
    expect(masked.results[4]).toEqual(report.results[4]);
    // The report itself is not changed.
    expect(report.results[0]!.result.partial_unexpected_list).toEqual(["jane@other.org", "bob@mail.net"]);
  });
});
