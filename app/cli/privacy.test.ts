import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../../nodes/index";
import type { ScanReport } from "../privacy/types";
import { main } from "./main";
import { captureIo } from "./testing";

const GENERATOR = join(__dirname, "..", "privacy", "fixtures", "generate.py");

async function dagwood(cwd: string, ...args: string[]) {
  const io = captureIo();
  const before = process.cwd();
  process.chdir(cwd);
  try {
    const code = await main(args, io, catalog);
    return { code, stdout: io.out(), stderr: io.err() };
  } finally {
    process.chdir(before);
  }
}

describe("dagwood privacy scan", () => {
  let dir: string;
  let expected: { rows: number; columns: Record<string, Record<string, number>> };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-privacy-cli-"));
    writeFileSync(
      join(dir, "dagwood.json"),
      '{ "name": "privacy-test", "privacy": { "scanSample": 500 } }\n',
    );
    mkdirSync(join(dir, "data"));
    execFileSync("/usr/bin/python3", [GENERATOR, join(dir, "data"), "--rows", "1200", "--seed", "3"]);
    expected = JSON.parse(readFileSync(join(dir, "data", "expected.json"), "utf8"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("prints a table of columns, kinds, shares and masked examples, and the sample it read", async () => {
    const r = await dagwood(dir, "privacy", "scan", "data/people.csv", "--sample", "5000");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Personal data in data\/people.csv: 12 of 21 columns/);
    expect(r.stdout).toMatch(/column\s+kind\s+share\s+examples \(masked\)/);
    const share = (c: string, k: string) => `${(expected.columns[c]![k]! * 100).toFixed(1)} %`;
    expect(r.stdout).toMatch(
      new RegExp(`\\ncard\\s+card\\s+${share("card", "card")}\\s+\\*{4} \\*{4} \\*{4} \\d{4}`),
    );
    expect(r.stdout).toMatch(
      new RegExp(`\\niban\\s+iban\\s+${share("iban", "iban")}\\s+[A-Z]{2}\\*\\* \\*{4} [0-9A-Z]{4}`),
    );
    expect(r.stdout).toMatch(/\nfirst_name\s+personal_name\s+by name\s+[A-Z]\*\*\*/);
    expect(r.stdout).toContain(
      "Nothing found in: order_id, card_like, event_date, product_name, filename, amount",
    );
    expect(r.stdout).toContain("scanned all 1,200 rows");
  });

  it("--json gives { column, kinds: [{ kind, share, examples }] } per column, over dagwood.json's sample size", async () => {
    const r = await dagwood(dir, "privacy", "scan", "data/people.csv", "--json", "--seed", "9");
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as ScanReport;
    expect(report).toMatchObject({
      source: "data/people.csv",
      rows: 1200,
      sampled: 500,
      sampleSize: 500,
      seed: 9,
    });
    const header = readFileSync(join(dir, "data", "people.csv"), "utf8").split("\n")[0]!;
    expect(report.columns.map((c) => c.column)).toEqual(header.split(",").map((c) => JSON.parse(c)));
    const card = report.columns.find((c) => c.column === "card")!;
    expect(Object.keys(card.kinds[0]!).sort()).toEqual(["by", "examples", "kind", "share"]);
    // A 500-row sample of 1,200: the share is near the population's (standard error ≤ 0.02 × √(700/1199)).
    expect(Math.abs(card.kinds[0]!.share - expected.columns.card!.card!)).toBeLessThan(0.08);
    const again = await dagwood(dir, "privacy", "scan", "data/people.csv", "--json", "--seed", "9");
    expect(again.stdout).toBe(r.stdout);
    const human = await dagwood(dir, "privacy", "scan", "data/people.csv", "--seed", "9");
    expect(human.stdout).toContain("scanned 500 of 1,200 rows (reservoir sample, seed 9)");
  });

  it("scans a workspace table: a node's output", async () => {
    writeFileSync(
      join(dir, "p.dag.json"),
      JSON.stringify({
        format: "dagwood.pipeline/1",
        name: "people",
        params: {},
        nodes: [{ id: "people", block: "ingest.file", params: { path: "data/people.csv" } }],
        edges: [],
      }),
    );
    const run = await dagwood(dir, "run", "p.dag.json", "--json", "--no-attach");
    expect(run.code, run.stderr).toBe(0);
    const table = JSON.parse(run.stdout).nodes.find((n: { id: string }) => n.id === "people").outputs.out
      .table;
    const r = await dagwood(dir, "privacy", "scan", table, "--json");
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as ScanReport;
    expect(report.source).toBe(table);
    expect(report.columns.find((c) => c.column === "email")!.kinds.map((k) => k.kind)).toEqual(["email"]);
    const missing = await dagwood(dir, "privacy", "scan", "t_0123456789abcdef_out");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/No table t_0123456789abcdef_out in the workspace of .*dagwood runs show/);
  });

  it("bad arguments and missing data: exit 2 with what to do", async () => {
    const none = await dagwood(dir, "privacy", "scan");
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(
      /^privacy scan takes one data file or workspace table, e\.g\. dagwood privacy scan data\/customers\.csv/,
    );
    const two = await dagwood(dir, "privacy", "scan", "a.csv", "b.csv");
    expect(two.code).toBe(2);
    for (const [flag, value] of [
      ["--sample", "0"],
      ["--sample", "ten"],
      ["--seed", "x"],
      ["--seed", "1.5"],
    ]) {
      const bad = await dagwood(dir, "privacy", "scan", "data/people.csv", flag!, value!);
      expect(bad.code, `${flag} ${value}`).toBe(2);
      expect(bad.stderr).toContain(`${flag} takes a whole number`);
    }
    const missing = await dagwood(dir, "privacy", "scan", "data/nope.csv");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(
      /^No file data\/nope.csv \(looked in .*\)\. Give a CSV, TSV, Parquet, JSON or NDJSON file, or a node output table \(t_…\) of the project\.\n$/,
    );
    const folder = await dagwood(dir, "privacy", "scan", "data");
    expect(folder.code).toBe(2);
    expect(folder.stderr).toMatch(/data is a folder; give a data file/);
    const unknown = await dagwood(dir, "privacy", "scrub");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown command "privacy scrub"/);
    const help = await dagwood(dir, "privacy", "--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("dagwood privacy scan <file or table>");
  });

  it("a file with no personal data: exit 0 and says so", async () => {
    writeFileSync(join(dir, "data", "plain.csv"), "species,mass\nAdelie,3750\nGentoo,5000\n");
    const r = await dagwood(dir, "privacy", "scan", "data/plain.csv");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      "Personal data in data/plain.csv: 0 of 2 columns\n\nNothing found in: species, mass\nscanned all 2 rows\n",
    );
  });

  it("a dagwood.json with a bad privacy setting: exit 2 naming the key", async () => {
    const bad = mkdtempSync(join(tmpdir(), "dagwood-privacy-bad-"));
    try {
      writeFileSync(join(bad, "dagwood.json"), '{ "privacy": { "scanSample": 5 } }\n');
      writeFileSync(join(bad, "plain.csv"), "a\n1\n");
      const r = await dagwood(bad, "privacy", "scan", "plain.csv");
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/privacy\.scanSample/);
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });
});
