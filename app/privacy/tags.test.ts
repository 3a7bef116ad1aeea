/** Column tags: where they are set, how they merge and travel, and the dataset patch that sets them. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Workspace } from "../data/workspace";
import { dataFingerprint } from "../engine/execute";
import type { ColumnInfo, PortValue, TableValue } from "../engine/ports";
import { DatasetSettingsError, updateDatasetSettings } from "../project/datasets";
import { readPortFolder, writePortFolder } from "../step/port-files";
import { describeTagOrigin, describeUseWithTags } from "../values/privacy-tags";
import { inputTagsKey, mergeTags, originTags, personalDataUses, propagateTags } from "./tags";
import type { ColumnTag } from "./types";

const cols = (...names: string[]): ColumnInfo[] => names.map((name) => ({ name, type: "VARCHAR" }));
const pii = (column: string): ColumnTag => ({
  tag: "pii",
  origin: { dataset: "customers", column },
  via: [],
});
const table = (columns: ColumnInfo[]): TableValue => ({
  type: "table",
  name: "t",
  columns,
  rows: 1,
  fingerprint: "f",
});

describe("originTags", () => {
  it("takes the dataset entry's and the node's tags, matching column names regardless of case, and warns of missing columns", () => {
    const { tags, warnings } = originTags("read", cols("Email", "age"), {
      dataset: {
        name: "customers",
        columns: { email: { tags: ["pii"] }, ssn: { tags: ["pii"] }, age: { tags: [] } },
      },
      columnTags: { email: ["pii", "contact"], age: ["sensitive"] },
    });
    expect(tags).toEqual({
      Email: [
        { tag: "pii", origin: { dataset: "customers", column: "Email" }, via: [] },
        { tag: "pii", origin: { node: "read", column: "Email" }, via: [] },
        { tag: "contact", origin: { node: "read", column: "Email" }, via: [] },
      ],
      age: [{ tag: "sensitive", origin: { node: "read", column: "age" }, via: [] }],
    });
    expect(warnings).toEqual([
      'dataset "customers" (dagwood.json) tags the column "ssn" (pii), which the table does not have: its columns are Email, age. Fix or remove the tag.',
    ]);
  });
});

describe("mergeTags and propagateTags", () => {
  it("a model input's uses take the tags of every table input's column of that name, not the last one's", () => {
    const tagged = { name: "email", type: "VARCHAR", tags: [pii("email")] };
    const plain = { name: "EMAIL", type: "VARCHAR" };
    expect(personalDataUses(["email"], [tagged, plain])).toEqual([{ input: "email", tags: [pii("email")] }]);
    expect(personalDataUses(["email"], [plain, tagged])).toEqual([{ input: "email", tags: [pii("email")] }]);
  });
  it("keeps one tag per tag and origin, the shorter chain", () => {
    const long = { ...pii("email"), via: [{ node: "a", column: "x" }] };
    expect(mergeTags([long], [pii("email"), { ...pii("email"), tag: "sensitive" }])).toEqual([
      pii("email"),
      { ...pii("email"), tag: "sensitive" },
    ]);
  });

  it("own tags join carried ones: from lineage, a renamed column adding a step; else the same-named input column", () => {
    const inputs = { in: table([{ name: "email", type: "VARCHAR", tags: [pii("email")] }, ...cols("age")]) };
    const out = cols("email", "domain", "age");
    expect(propagateTags("n", out, inputs, {})).toEqual([
      { name: "email", type: "VARCHAR", tags: [pii("email")] },
      { name: "domain", type: "VARCHAR" },
      { name: "age", type: "VARCHAR" },
    ]);
    expect(
      propagateTags("n", out, inputs, {
        lineage: { domain: [{ port: "in", column: "EMAIL" }], email: [] },
      })[1],
    ).toEqual({
      name: "domain",
      type: "VARCHAR",
      tags: [{ ...pii("email"), via: [{ node: "n", column: "domain" }] }],
    });
    expect(
      propagateTags("n", out, inputs, { own: { age: [pii("age")] } }).map((c) => c.tags?.length ?? 0),
    ).toEqual([1, 0, 1]);
  });

  it("inputTagsKey is undefined without tags (cache keys unchanged), the tags otherwise", () => {
    expect(inputTagsKey({ in: table(cols("a")) })).toBeUndefined();
    const t = table([{ name: "a", type: "VARCHAR", tags: [pii("a")] }]);
    expect(inputTagsKey({ in: t, m: { type: "model" } })).toEqual({ in: { a: [pii("a")] } });
  });
});

describe("describing tags", () => {
  it("names every rename from the origin and where the tag was set", () => {
    const t: ColumnTag = {
      tag: "pii",
      origin: { node: "read_db", column: "email" },
      via: [
        { node: "sql", column: "mail" },
        { node: "sql2", column: "domain" },
      ],
    };
    expect(describeTagOrigin(t, "domain")).toBe("domain ← mail ← email (node read_db)");
    expect(describeTagOrigin(pii("email"), "email")).toBe("email (dataset customers)");
    const uses = personalDataUses(
      ["domain", "age"],
      [{ name: "domain", type: "VARCHAR", tags: [t] }, ...cols("age")],
    );
    expect(uses).toEqual([{ input: "domain", tags: [t] }]);
    expect(describeUseWithTags(uses[0]!)).toBe("domain ← email (pii)");
  });
});

describe("updateDatasetSettings: column tags in dagwood.json", () => {
  const withProject = async (text: string, body: (dir: string) => Promise<void>) => {
    const dir = mkdtempSync(join(tmpdir(), "dagwood-tags-json-"));
    try {
      writeFileSync(join(dir, "dagwood.json"), text);
      await body(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const original = `{
  // our customers
  "datasets": {
    "customers": {
      "path": "customers.csv", // the export
      "owner": "ana"
    }
  }
}
`;

  it("sets, replaces and removes a column's tags in place, comments kept", async () => {
    await withProject(original, async (dir) => {
      const file = join(dir, "dagwood.json");
      let entry = await updateDatasetSettings(dir, "customers", { columns: { email: { tags: ["pii"] } } });
      expect(entry.columns).toEqual({ email: { tags: ["pii"] } });
      let text = readFileSync(file, "utf8");
      expect(text).toContain("// our customers");
      expect(text).toContain('"path": "customers.csv", // the export');
      entry = await updateDatasetSettings(dir, "customers", {
        columns: { phone: { tags: ["pii", "contact", "pii"] } },
      });
      expect(entry.columns).toEqual({ email: { tags: ["pii"] }, phone: { tags: ["pii", "contact"] } });
      entry = await updateDatasetSettings(dir, "customers", {
        columns: { email: null, phone: { tags: [] } },
      });
      expect(entry.columns).toEqual({});
      text = readFileSync(file, "utf8");
      expect(text).not.toContain('"columns"');
      expect(text).toBe(original);
    });
  });

  it("refuses a bad tag and leaves the file as it was", async () => {
    await withProject(original, async (dir) => {
      const err = await updateDatasetSettings(dir, "customers", {
        columns: { email: { tags: ["PII"] } },
      }).catch((e) => e);
      expect(err).toBeInstanceOf(DatasetSettingsError);
      expect(err.code).toBe("invalid");
      expect(err.message).toMatch(
        /columns\.email\.tags\.0: a tag: lower-case letters, digits, _ or -, e\.g\. pii/,
      );
      expect(readFileSync(join(dir, "dagwood.json"), "utf8")).toBe(original);
    });
  });
});

describe("dagwood step carries tags through its port folders", () => {
  it("a table's column tags and a model's personal data come back, fingerprints equal", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dagwood-tags-step-"));
    const ws = await Workspace.open({ path: ":memory:", allowedDirs: [dir], threads: 1 });
    const other = await Workspace.open({ path: ":memory:", allowedDirs: [dir], threads: 1 });
    try {
      const sql = await ws.session();
      await sql.run("CREATE TABLE src AS SELECT 'a@b.c' AS email, 3 AS n");
      sql.close();
      const described = await ws.describeTable("src");
      const value: TableValue = {
        ...described,
        columns: described.columns.map((c) => (c.name === "email" ? { ...c, tags: [pii("email")] } : c)),
      };
      await writePortFolder(join(dir, "t"), value, { node: "n", port: "out" }, ws, dir);
      const back = await readPortFolder(join(dir, "t"), 'Input "in"', other, dir, "dest");
      expect(back.value).toMatchObject({ fingerprint: described.fingerprint, columns: value.columns });

      const data = { kind: "dagwood.model/1", preprocess: { features: [{ name: "email" }] } };
      const uses = [{ input: "email", tags: [pii("email")] }];
      const model = { type: "model", data, fingerprint: dataFingerprint(data, uses), personalData: uses };
      // Without uses, the fingerprint a model always had: its data's.
      expect(dataFingerprint(data)).toBe(dataFingerprint(data, []));
      expect(dataFingerprint(data)).not.toBe(model.fingerprint);
      await writePortFolder(join(dir, "m"), model as PortValue, { node: "n", port: "model" }, ws, dir);
      const m = await readPortFolder(join(dir, "m"), 'Input "model"', other, dir, "unused");
      expect(m.value).toEqual(model);
    } finally {
      ws.close();
      other.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
