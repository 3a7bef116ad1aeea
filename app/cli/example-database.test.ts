/**
 * The starter example's database pipeline (resources/examples/starter/penguins-db.dag.json): its
 * SQLite file is what data/make-penguins-sqlite.mjs builds from data/penguins.csv, and the pipeline
 * reads it in full, then only the rows added since.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Io, main } from "./main";

const STARTER = resolve(import.meta.dirname, "../../resources/examples/starter");
const sqliteJson = (file: string, query: string): Record<string, unknown>[] =>
  JSON.parse(execFileSync("sqlite3", ["-json", "-readonly", file, query], { encoding: "utf8" }) || "[]");

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "dagwood-dbexample-"));
  cpSync(STARTER, join(dir, "starter"), { recursive: true, filter: (src) => !src.includes(".dagwood") });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(file: string): Promise<{
  code: number;
  out: { nodes: { id: string; status: string; outputs: Record<string, { rows?: number }> }[] };
}> {
  let stdout = "";
  const io = {
    stdout: {
      write: (t: string) => {
        stdout += t;
        return true;
      },
    },
    stderr: { write: () => true },
  } as unknown as Io;
  const code = await main(["run", file, "--json"], io);
  return { code, out: JSON.parse(stdout) };
}

describe("the starter's penguins database", () => {
  it("is what the script builds from penguins.csv, row for row", () => {
    const rebuilt = join(dir, "rebuilt.sqlite");
    execFileSync("node", [join(STARTER, "data", "make-penguins-sqlite.mjs"), rebuilt]);
    const query = "SELECT * FROM penguins ORDER BY id";
    const shipped = sqliteJson(join(STARTER, "data", "penguins.sqlite"), query);
    expect(shipped).toEqual(sqliteJson(rebuilt, query));
    // And the CSV's rows, in order (its numbers and empty fields as the database holds them).
    const lines = readFileSync(join(STARTER, "data", "penguins.csv"), "utf8")
      .trim()
      .split("\n")
      .slice(1);
    expect(shipped).toHaveLength(lines.length);
    expect(
      shipped.map((r) => [r.species, r.island, r.beak_length_mm, r.body_mass_g, r.sex].join(",")),
    ).toEqual(
      lines.map((l) => {
        const f = l.split(",");
        const n = (v: string) => (v === "" ? "" : String(Number(v)));
        return [f[0], f[1], n(f[2]!), n(f[5]!), f[6]].join(",");
      }),
    );
  });

  it("penguins-db.dag.json reads it, then only the rows added since", async () => {
    const file = join(dir, "starter", "penguins-db.dag.json");
    const first = await run(file);
    expect(first.code).toBe(0);
    const rows = (r: typeof first) => r.out.nodes.find((n) => n.id === "penguins")!;
    expect(rows(first).outputs.out!.rows).toBe(344);
    execFileSync("sqlite3", [
      join(dir, "starter", "data", "penguins.sqlite"),
      "INSERT INTO penguins SELECT id + 344, species, island, beak_length_mm, beak_depth_mm, flipper_length_mm, body_mass_g, sex FROM penguins WHERE id <= 5",
    ]);
    const second = await run(file);
    expect(second.code).toBe(0);
    expect(rows(second).status).toBe("ran");
    expect(rows(second).outputs.out!.rows).toBe(349);
    const third = await run(file);
    expect(rows(third).status).toBe("cached");
  });
});
