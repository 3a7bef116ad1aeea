/**
 * Tags at work in real pipeline runs (issue 19): set in dagwood.json or on the ingest node, carried
 * by transform.sql to the columns derived from the tagged one, warned about where a model trains on
 * them, recorded on the registered version, and never left stale on a cached output.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import featuresTrainingSet from "../../nodes/features-training-set";
import featuresView from "../../nodes/features-view";
import { catalog } from "../../nodes/index";
import { governanceCommand } from "../cli/governance";
import { captureIo } from "../cli/testing";
import { runPlan } from "../engine/engine";
import type { OutputSummary, RunEvent } from "../engine/events";
import type { TableValue } from "../engine/ports";
import { closeTempProject, createTestProject, openTempProject } from "../engine/testing";
import { FEATURES_FORMAT } from "../features/types";
import { validatePipelineText } from "../pipeline/validate";
import type { Project } from "../project/project";
import { describeTagOrigin } from "../values/privacy-tags";
import type { ColumnTag } from "./types";

/** 120 customers: churn follows the e-mail domain (and age a little). */
function customersCsv(): string {
  const domains = ["example.com", "mail.org", "corp.net"];
  const lines = ["id,email,age,plan,churn"];
  for (let i = 0; i < 120; i++) {
    const domain = domains[i % 3]!;
    const churn = domain === "corp.net" || (domain === "mail.org" && i % 5 === 0) ? "yes" : "no";
    lines.push(`${i},user${i}@${domain},${20 + (i % 40)},${i % 2 ? "basic" : "pro"},${churn}`);
  }
  return `${lines.join("\n")}\n`;
}

const pipeline = (ingestParams: Record<string, unknown> = {}) =>
  JSON.stringify({
    format: "dagwood.pipeline/1",
    name: "churn",
    params: {},
    nodes: [
      { id: "customers", block: "ingest.file", params: { path: "customers.csv", ...ingestParams } },
      {
        id: "derive",
        block: "transform.sql",
        params: {
          query: "SELECT split_part(email, '@', 2) AS email_domain, age, plan, churn FROM input",
        },
      },
      { id: "tree", block: "train.tree", params: { target: "churn", maxDepth: 3 } },
      { id: "register", block: "register", params: { name: "churn" } },
    ],
    edges: [
      { from: "customers.out", to: "derive.in" },
      { from: "derive.out", to: "tree.train" },
      { from: "tree.model", to: "register.model" },
    ],
  });

const settings = (tags?: string[]) =>
  `{
  // the customers table
  "datasets": {
    "customers": {
      "path": "customers.csv"${tags ? `,\n      "columns": { "email": { "tags": ${JSON.stringify(tags)} } }` : ""}
    }
  }
}
`;

let project: Project;
let dir: string;
beforeEach(async () => {
  ({ dir, project } = await openTempProject("dagwood-tags-", {
    "customers.csv": customersCsv(),
    "dagwood.json": settings(),
  }));
});
afterEach(() => closeTempProject(project));

async function run(text: string) {
  const { plan, problems } = validatePipelineText(text, catalog);
  expect(problems).toEqual([]);
  const events: RunEvent[] = [];
  const summary = await runPlan({ project, plan: plan!, onEvent: (e) => events.push(e) });
  expect(summary.nodes.filter((n) => n.error)).toEqual([]);
  const warnings = (node: string) =>
    events.flatMap((e) =>
      e.type === "node.log" && e.nodeId === node && e.level === "warn" ? [e.message] : [],
    );
  const node = (id: string) => summary.nodes.find((n) => n.id === id)!;
  return { summary, warnings, node };
}

describe("column tags in pipeline runs", () => {
  it("carries a dagwood.json tag from email to email_domain, warns at training and records it on the version", async () => {
    writeFileSync(join(dir, "dagwood.json"), settings(["pii"]));
    const { node, warnings } = await run(pipeline());
    expect(node("customers").outputs.out!.tags).toEqual({
      email: [{ tag: "pii", origin: { dataset: "customers", column: "email" }, via: [] }],
    });
    const derived = node("derive").outputs.out!.tags!;
    expect(Object.keys(derived)).toEqual(["email_domain"]);
    expect(derived.email_domain).toEqual([
      {
        tag: "pii",
        origin: { dataset: "customers", column: "email" },
        via: [{ node: "derive", column: "email_domain" }],
      },
    ]);
    expect(describeTagOrigin(derived.email_domain![0]!, "email_domain")).toBe(
      "email_domain ← email (dataset customers)",
    );
    expect(warnings("tree")).toEqual(["trains on personal data: email_domain ← email (pii)"]);
    const version = project.metadata.registry.getVersion("churn", 1)!;
    expect(version.lineage.personalData).toEqual([
      {
        input: "email_domain",
        tags: [
          {
            tag: "pii",
            origin: { dataset: "customers", column: "email" },
            via: [{ node: "derive", column: "email_domain" }],
          },
        ],
      },
    ]);
  });

  it("a tag set after a run re-runs what it reaches: no stale tag on a cached output, and the model records it", async () => {
    const first = await run(pipeline());
    expect(first.node("derive").outputs.out!.tags).toBeUndefined();
    expect(project.metadata.registry.getVersion("churn", 1)!.lineage.personalData).toBeUndefined();
    expect(first.warnings("tree")).toEqual([]);
    // Unchanged: everything from the cache.
    const again = await run(pipeline());
    expect(again.summary.nodes.map((n) => n.status)).toEqual(["cached", "cached", "cached", "cached"]);

    writeFileSync(join(dir, "dagwood.json"), settings(["pii"]));
    const tagged = await run(pipeline());
    expect(tagged.summary.nodes.map((n) => n.status)).toEqual(["ran", "ran", "ran", "ran"]);
    expect(tagged.node("derive").outputs.out!.tags?.email_domain?.[0]?.tag).toBe("pii");
    // The same trees, now known to read personal data: a new version that records it.
    const v2 = project.metadata.registry.getVersion("churn", 2)!;
    expect(v2.lineage.personalData?.map((u) => u.input)).toEqual(["email_domain"]);

    // Taken off again: the outputs made without the tag come back from the cache, without it.
    writeFileSync(join(dir, "dagwood.json"), settings([]));
    const untagged = await run(pipeline());
    expect(untagged.node("derive").status).toBe("cached");
    expect(untagged.node("derive").outputs.out!.tags).toBeUndefined();
    expect(untagged.warnings("tree")).toEqual([]);
  });

  it("tags a column with the ingest node's columnTags param, and warns of a tag on a column the file lacks", async () => {
    const { node, warnings } = await run(
      pipeline({ columnTags: { EMAIL: ["sensitive", "contact"], phone: ["pii"] } }),
    );
    expect(node("customers").outputs.out!.tags).toEqual({
      email: [
        { tag: "sensitive", origin: { node: "customers", column: "email" }, via: [] },
        { tag: "contact", origin: { node: "customers", column: "email" }, via: [] },
      ],
    });
    expect(warnings("customers")).toEqual([
      expect.stringMatching(
        /^"columnTags" tags the column "phone" \(pii\), which the table does not have: its columns are id, email, age, plan, churn\./,
      ),
    ]);
    expect(warnings("tree")).toEqual(["trains on personal data: email_domain ← email (sensitive, contact)"]);
  });

  it("dagwood governance lists the model and its versions with the use; failOn can include personalData", async () => {
    writeFileSync(join(dir, "dagwood.json"), settings(["pii"]));
    await run(pipeline());
    const json = captureIo();
    expect(await governanceCommand(["--project", dir, "--json"], json)).toBe(0);
    const report = JSON.parse(json.out());
    const found = report.findings.filter((f: { kind: string }) => f.kind === "personalData");
    expect(found).toEqual([
      {
        kind: "personalData",
        artifact: { kind: "model", name: "churn" },
        message: expect.stringMatching(
          /^Model "churn" uses personal data: email_domain ← email \(pii\) in v1\. /,
        ),
        personalData: [{ version: 1, uses: ["email_domain ← email (pii)"] }],
      },
    ]);
    const text = captureIo();
    expect(await governanceCommand(["--project", dir], text)).toBe(0);
    expect(text.out()).toMatch(/Uses personal data \(1\)\n/);
    expect(text.out()).toContain("email_domain ← email (pii) in v1");

    const policy = JSON.parse(readFileSync(join(dir, "dagwood.json"), "utf8").replace(/^\s*\/\/.*$/m, ""));
    writeFileSync(
      join(dir, "dagwood.json"),
      JSON.stringify({ ...policy, governance: { failOn: ["personalData"] } }),
    );
    const failing = captureIo();
    expect(await governanceCommand(["--project", dir], failing)).toBe(1);
    expect(failing.out()).toMatch(/Uses personal data \(1\) {2}— fails the project's policy/);
  });

  it("tags a database table's columns with ingest.database's columnTags: origin the node", async () => {
    const db = new Database(join(dir, "crm.sqlite"));
    db.exec("CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, age INTEGER)");
    db.exec("INSERT INTO people VALUES (1, 'ann@example.com', 34), (2, 'bob@mail.org', 28)");
    db.close();
    writeFileSync(
      join(dir, "dagwood.json"),
      JSON.stringify({ connections: { crm: { kind: "sqlite", path: "crm.sqlite" } } }),
    );
    const text = JSON.stringify({
      format: "dagwood.pipeline/1",
      name: "crm",
      params: {},
      nodes: [
        {
          id: "people",
          block: "ingest.database",
          params: { connection: "crm", table: "people", columnTags: { email: ["pii"], phone: ["pii"] } },
        },
        {
          id: "sql",
          block: "transform.sql",
          params: { query: "SELECT id, md5(email) AS hashed FROM input" },
        },
      ],
      edges: [{ from: "people.out", to: "sql.in" }],
    });
    const { node, warnings } = await run(text);
    expect(node("people").outputs.out!.tags).toEqual({
      email: [{ tag: "pii", origin: { node: "people", column: "email" }, via: [] }],
    });
    expect(warnings("people")).toEqual([
      expect.stringContaining('tags the column "phone" (pii), which the table does not have'),
    ]);
    expect(describeTagOrigin(node("sql").outputs.out!.tags!.hashed![0]!, "hashed")).toBe(
      "hashed ← email (node people)",
    );
  });

  it("a bad tag in dagwood.json fails the read, naming where it is and what a tag is", async () => {
    writeFileSync(join(dir, "dagwood.json"), settings(["Email Address"]));
    const { plan } = validatePipelineText(pipeline(), catalog);
    const summary = await runPlan({ project, plan: plan! });
    const failed = summary.nodes.find((n) => n.id === "customers")!;
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(
      /datasets\.customers\.columns\.email\.tags\.0: a tag: lower-case letters, digits, _ or -, e\.g\. pii/,
    );
  });

  it("the run's record keeps each output's tags (what the app reads after a run)", async () => {
    writeFileSync(join(dir, "dagwood.json"), settings(["pii"]));
    const { summary } = await run(pipeline());
    const derive = project.metadata.nodeRuns(summary.runId).find((n) => n.nodeId === "derive")!;
    const out = derive.outputs.out as OutputSummary;
    expect(out.tags?.email_domain?.[0]?.via).toEqual([{ node: "derive", column: "email_domain" }]);
  });

  it("refuses a bad tag or a tag list that is not a list, saying what a tag is", () => {
    const bad = validatePipelineText(pipeline({ columnTags: { email: ["PII!"] } }), catalog).problems;
    expect(bad.map((p) => p.message).join("\n")).toMatch(
      /a tag: lower-case letters, digits, _ or -, e.g. pii/,
    );
    const notList = validatePipelineText(pipeline({ columnTags: { email: "pii" } }), catalog).problems;
    expect(notList.map((p) => `${p.path}: ${p.message}`).join("\n")).toMatch(/columnTags\.email.*array/i);
    expect(readFileSync(join(dir, "dagwood.json"), "utf8")).toContain("// the customers table");
  });
});

describe("tags through the feature store", () => {
  it("features.view writes its columns' tags beside the offline table; a training set's feature columns take them", async () => {
    const p = await createTestProject();
    try {
      mkdirSync(join(p.dir, "features"));
      writeFileSync(
        join(p.dir, "features", "users.json"),
        JSON.stringify({
          format: FEATURES_FORMAT,
          entities: [{ name: "user", joinKeys: ["user_id"] }],
          featureViews: [
            {
              name: "activity",
              entities: ["user"],
              ttl: "0",
              source: { block: true, timestampField: "day" },
              features: [
                { name: "domain", type: "String" },
                { name: "clicks", type: "Int64" },
              ],
            },
          ],
        }),
      );
      const raw = await p.table(
        "activity",
        `SELECT * FROM (VALUES (1, TIMESTAMP '2024-03-01', 'example.com', 3), (2, TIMESTAMP '2024-03-02', 'mail.org', 1))
           t(user_id, day, domain, clicks)`,
      );
      const viaSql = { node: "sql", column: "domain" };
      const domainTag: ColumnTag = {
        tag: "pii",
        origin: { dataset: "customers", column: "email" },
        via: [viaSql],
      };
      const activity = {
        ...raw,
        columns: raw.columns.map((c) => (c.name === "domain" ? { ...c, tags: [domainTag] } : c)),
      };
      const before = await p.fingerprint(featuresView, { view: "activity" });
      const { out } = await p.run(featuresView, { in: activity }, { view: "activity" });
      expect((out as TableValue).columns.find((c) => c.name === "domain")!.tags).toEqual([domainTag]);
      const after = await p.fingerprint(featuresView, { view: "activity" });
      expect(after).not.toBe(before);

      const labels = await p.table(
        "labels",
        `SELECT * FROM (VALUES (1, TIMESTAMP '2024-03-04', true), (2, TIMESTAMP '2024-03-05', false)) t(user_id, event_timestamp, churned)`,
      );
      const tagged = {
        ...labels,
        columns: labels.columns.map((c) =>
          c.name === "user_id" ? { ...c, tags: [{ ...domainTag, tag: "key", via: [] }] } : c,
        ),
      };
      const keyBefore = await p.fingerprint(featuresTrainingSet, {
        features: ["activity"],
        fullFeatureNames: true,
      });
      const set = (
        await p.run(
          featuresTrainingSet,
          { entities: tagged },
          { features: ["activity"], fullFeatureNames: true },
        )
      ).out as TableValue;
      const tagsOf = (name: string) => set.columns.find((c) => c.name === name)!.tags;
      expect(tagsOf("activity__domain")).toEqual([
        { ...domainTag, via: [viaSql, { node: "test-node", column: "activity__domain" }] },
      ]);
      expect(describeTagOrigin(tagsOf("activity__domain")![0]!, "activity__domain")).toBe(
        "activity__domain ← domain ← email (dataset customers)",
      );
      expect(tagsOf("activity__clicks")).toBeUndefined();
      // The entity table's own tags still travel by name.
      expect(tagsOf("user_id")?.map((t) => t.tag)).toEqual(["key"]);

      // Written again without tags: the file goes, and the training set's key changes with it.
      await p.run(featuresView, { in: raw }, { view: "activity" });
      expect(existsSync(join(p.dir, ".dagwood", "features", "activity", "tags.json"))).toBe(false);
      expect(
        await p.fingerprint(featuresTrainingSet, { features: ["activity"], fullFeatureNames: true }),
      ).not.toBe(keyBefore);
    } finally {
      await p.close();
    }
  });
});

describe("no stale tag survives a change upstream", () => {
  const entry = (name: string, columns: string) => `{
  "datasets": {
    "${name}": { "path": "customers.csv", "columns": ${columns} }
  }
}
`;
  it("a tag moved to another column, and the dataset entry renamed, re-run what they reach", async () => {
    writeFileSync(join(dir, "dagwood.json"), entry("customers", `{ "email": { "tags": ["pii"] } }`));
    const first = await run(pipeline());
    expect(Object.keys(first.node("derive").outputs.out!.tags!)).toEqual(["email_domain"]);

    // Moved from email to age: email_domain loses it, age gains it; the model's uses follow.
    writeFileSync(join(dir, "dagwood.json"), entry("customers", `{ "age": { "tags": ["pii"] } }`));
    const moved = await run(pipeline());
    expect(moved.node("derive").status).toBe("ran");
    expect(Object.keys(moved.node("derive").outputs.out!.tags!)).toEqual(["age"]);
    expect(moved.warnings("tree")).toEqual(["trains on personal data: age (pii)"]);

    // The entry renamed: the origin names the new entry, not the old one from the cache.
    writeFileSync(join(dir, "dagwood.json"), entry("clients", `{ "age": { "tags": ["pii"] } }`));
    const renamed = await run(pipeline());
    expect(renamed.node("derive").outputs.out!.tags!.age).toEqual([
      { tag: "pii", origin: { dataset: "clients", column: "age" }, via: [] },
    ]);
    const latest = project.metadata.registry.getVersion("churn", 3)!;
    expect(latest.lineage.personalData?.[0]?.tags[0]?.origin).toEqual({ dataset: "clients", column: "age" });
  });
});

describe("a renamed node is not named by a cached output's tags", () => {
  it("the ingest's and the SQL node's new ids are the origin and the step, not the ids they had", async () => {
    const renamed = (text: string) =>
      text
        .replaceAll('"customers"', '"people"')
        .replaceAll("customers.out", "people.out")
        .replaceAll('"derive"', '"domain"')
        .replaceAll("derive.", "domain.");
    const first = await run(pipeline({ columnTags: { email: ["pii"] } }));
    expect(first.node("derive").outputs.out!.tags!.email_domain![0]).toMatchObject({
      origin: { node: "customers", column: "email" },
      via: [{ node: "derive", column: "email_domain" }],
    });
    const again = await run(renamed(pipeline({ columnTags: { email: ["pii"] } })));
    const tag = again.node("domain").outputs.out!.tags!.email_domain![0]!;
    expect(tag).toMatchObject({
      origin: { node: "people", column: "email" },
      via: [{ node: "domain", column: "email_domain" }],
    });
    expect(again.node("people").outputs.out!.tags!.email![0]!.origin).toEqual({
      node: "people",
      column: "email",
    });
  });
});
