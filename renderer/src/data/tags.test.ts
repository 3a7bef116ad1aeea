import { describe, expect, it } from "vitest";
import type { ColumnTag } from "../../../app/values/privacy";
import {
  columnsPatch,
  formatShare,
  groupByTag,
  mergeTags,
  originChain,
  originSteps,
  outputTags,
  personalColumns,
  personalTitle,
  sampleLine,
  tagProblem,
  tagTitle,
  untaggedFindings,
  withoutTag,
  withTag,
} from "./tags";

const atDataset: ColumnTag = { tag: "pii", origin: { dataset: "customers", column: "email" }, via: [] };
const derived: ColumnTag = {
  tag: "pii",
  origin: { dataset: "customers", column: "email" },
  via: [{ node: "domain", column: "email_domain" }],
};
const twoHops: ColumnTag = {
  tag: "pii",
  origin: { dataset: "customers", column: "email" },
  via: [
    { node: "domain", column: "email_domain" },
    { node: "features", column: "email_domain" },
  ],
};
const fromNode: ColumnTag = { tag: "sensitive", origin: { node: "read_db", column: "salary" }, via: [] };

describe("the origin chain", () => {
  it("reads column ← origin column (where it was set)", () => {
    expect(originChain("email_domain", derived)).toBe("email_domain ← email (dataset customers)");
    expect(originChain("pay", { ...fromNode, via: [{ node: "sql", column: "pay" }] })).toBe(
      "pay ← salary (node read_db)",
    );
  });

  it("names only the origin on the column it was set on", () => {
    expect(originChain("email", atDataset)).toBe("email (dataset customers)");
    expect(originChain("salary", fromNode)).toBe("salary (node read_db)");
  });

  it("names each renaming step, and a column passed on under its own name once", () => {
    const passed: ColumnTag = { ...atDataset, via: [{ node: "clean", column: "email" }] };
    expect(originChain("email", passed)).toBe("email (dataset customers)");
    expect(originChain("email_domain", twoHops)).toBe("email_domain ← email (dataset customers)");
    const renamed: ColumnTag = {
      tag: "pii",
      origin: { node: "read", column: "a" },
      via: [
        { node: "x", column: "b" },
        { node: "y", column: "c" },
      ],
    };
    expect(originChain("c", renamed)).toBe("c ← b ← a (node read)");
  });

  it("lists every step, oldest first, in the tooltip", () => {
    expect(originSteps(twoHops)).toEqual([
      "email (dataset customers)",
      "email_domain (node domain)",
      "email_domain (node features)",
    ]);
    expect(tagTitle("email_domain", twoHops)).toBe(
      "pii: email_domain ← email (dataset customers)\nemail (dataset customers)\n→ email_domain (node domain)\n→ email_domain (node features)",
    );
    expect(tagTitle("email", atDataset)).toBe("pii: email (dataset customers)");
  });
});

describe("merging tags", () => {
  it("keeps one tag per tag and origin, the shorter route of two", () => {
    expect(mergeTags([twoHops], [derived])).toEqual([derived]);
    expect(mergeTags([derived], [twoHops])).toEqual([derived]);
  });

  it("keeps the same tag from two origins, and two tags from one origin, ordered by tag then origin", () => {
    const phone: ColumnTag = { tag: "pii", origin: { dataset: "customers", column: "phone" }, via: [] };
    const merged = mergeTags([phone, fromNode], undefined, [derived]);
    expect(merged.map((t) => `${t.tag}:${t.origin.column}`)).toEqual([
      "pii:email",
      "pii:phone",
      "sensitive:salary",
    ]);
    const userTag: ColumnTag = { ...atDataset, tag: "contact" };
    expect(mergeTags([atDataset, userTag]).map((t) => t.tag)).toEqual(["contact", "pii"]);
  });

  it("does not take a dataset and a node of the same name for one origin", () => {
    const node: ColumnTag = { tag: "pii", origin: { node: "customers", column: "email" }, via: [] };
    expect(mergeTags([atDataset, node])).toHaveLength(2);
  });

  it("groups a column's tags by name for one chip each", () => {
    const phone: ColumnTag = { tag: "pii", origin: { dataset: "customers", column: "phone" }, via: [] };
    expect(groupByTag([fromNode, derived, phone]).map((g) => [g.tag, g.origins.length])).toEqual([
      ["pii", 2],
      ["sensitive", 1],
    ]);
  });

  it("merges the tags of a node's table outputs by column and finds the personal ones", () => {
    const outputs = {
      train: {
        type: "table",
        fingerprint: "a",
        tags: { email_domain: [derived], note: [{ ...atDataset, tag: "mine" }] },
      },
      test: { type: "table", fingerprint: "b", tags: { email_domain: [twoHops], salary: [fromNode] } },
      model: { type: "model", fingerprint: "c" },
    };
    const merged = outputTags(outputs);
    expect(merged.get("email_domain")).toEqual([derived]);
    expect([...merged.keys()]).toEqual(["email_domain", "note", "salary"]);
    expect(personalColumns(outputs)).toEqual(["email_domain", "salary"]);
    expect(personalTitle(outputs)).toBe(
      "Personal data in its output: email_domain (pii ← email), salary (sensitive)",
    );
    // A wide table's every column personal: the tooltip names the first 10 and counts the rest.
    const wide = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`c${i}`, [atDataset]]));
    const wideTitle = personalTitle({
      out: { type: "table", fingerprint: "w", rows: 1, columns: 200, tags: wide },
    });
    expect(wideTitle).toBe(
      `Personal data in its output: ${Array.from({ length: 10 }, (_, i) => `c${i} (pii ← email)`).join(", ")} and 190 more columns`,
    );
    expect(personalColumns({ model: { type: "model", fingerprint: "c" } })).toEqual([]);
    expect(personalColumns(undefined)).toEqual([]);
  });
});

describe("dataset tag patches", () => {
  const current = { email: ["pii"], phone: ["pii", "contact"] };

  it("adds a tag and undoes it to the list before", () => {
    const { patch, undo } = columnsPatch(current, withTag(current, ["name"], "pii"));
    expect(patch).toEqual({ name: { tags: ["pii"] } });
    expect(undo).toEqual({ name: null });
  });

  it("removes a tag, the last one removing the column's entry; the undo puts it back", () => {
    expect(columnsPatch(current, withoutTag(current, "phone", "pii"))).toEqual({
      patch: { phone: { tags: ["contact"] } },
      undo: { phone: { tags: ["pii", "contact"] } },
    });
    expect(columnsPatch(current, withoutTag(current, "email", "pii"))).toEqual({
      patch: { email: null },
      undo: { email: { tags: ["pii"] } },
    });
  });

  it("accepts many columns in one patch, leaving those already tagged out of it", () => {
    const { patch, undo } = columnsPatch(current, withTag(current, ["email", "name", "ip"], "pii"));
    expect(patch).toEqual({ name: { tags: ["pii"] }, ip: { tags: ["pii"] } });
    expect(undo).toEqual({ name: null, ip: null });
  });

  it("lists the scan's findings not yet tagged pii", () => {
    const scan = [
      { column: "email", kinds: [{ kind: "email" as const, share: 1, examples: [] }] },
      {
        column: "name",
        kinds: [{ kind: "personal_name" as const, share: 1, examples: [], by: "name" as const }],
      },
      { column: "age", kinds: [] },
      { column: "phone", kinds: [{ kind: "phone" as const, share: 0.5, examples: ["***45"] }] },
    ];
    expect(untaggedFindings(scan, { email: ["pii"], phone: ["contact"] })).toEqual(["name", "phone"]);
  });

  it("refuses a tag name with the reason and an example", () => {
    expect(tagProblem("pii", [])).toBeNull();
    expect(tagProblem("my-tag_2", [])).toBeNull();
    expect(tagProblem("", [])).toBe("Type a tag, e.g. pii.");
    expect(tagProblem("PII", [])).toMatch(/^"PII" is not a tag: lower-case letters/);
    expect(tagProblem("2fa", [])).toMatch(/starting with a letter/);
    expect(tagProblem("a".repeat(33), [])).toMatch(/at most 32/);
    expect(tagProblem("pii", ["pii"])).toBe("The column is already tagged pii.");
  });
});

describe("scan figures", () => {
  it("formats shares without claiming 100% of a column that is not all matches", () => {
    expect(formatShare(1)).toBe("100%");
    expect(formatShare(0.999)).toBe("99%");
    expect(formatShare(0.87)).toBe("87%");
    expect(formatShare(0.004)).toBe("0.4%");
    expect(formatShare(0.0001)).toBe("<0.1%");
    expect(formatShare(0)).toBe("0%");
  });

  it("says what the scan read", () => {
    expect(sampleLine({ rows: 3_000_000, sampled: 10_000, seed: 42 })).toBe(
      "scanned 10,000 of 3,000,000 rows (reservoir sample, seed 42)",
    );
    expect(sampleLine({ rows: 344, sampled: 344, seed: 42 })).toBe("scanned all 344 rows");
    expect(sampleLine({ rows: 1, sampled: 1, seed: 1 })).toBe("scanned all 1 row");
  });
});
