import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Io, main } from "./main";

/** Runs `dagwood <args>` in this process, capturing what it prints. */
async function dagwood(...given: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  // validate takes no --project: the tests pass one for both commands.
  const at = given.indexOf("--project");
  const args = given[0] === "validate" && at >= 0 ? [...given.slice(0, at), ...given.slice(at + 2)] : given;
  let stdout = "";
  let stderr = "";
  const io = {
    stdout: {
      write: (s: string) => {
        stdout += s;
        return true;
      },
    },
    stderr: {
      write: (s: string) => {
        stderr += s;
        return true;
      },
    },
  } as unknown as Io;
  const code = await main(args, io);
  return { code, stdout, stderr };
}

const pipeline = (nodes: unknown[], extra: object = {}) => ({
  format: "dagwood.pipeline/1",
  name: "small",
  params: { seed: 3 },
  nodes,
  edges: nodes.length > 1 ? [{ from: "rows.out", to: "mix.in" }] : [],
  ...extra,
});

const NODES = [
  { id: "rows", block: "ingest.file", params: { path: "rows.csv" } },
  { id: "mix", block: "shuffle", params: { seed: "${seed}" } },
];

describe("dagwood validate and run on bad input", { timeout: 60_000 }, () => {
  let dir: string;
  const write = (name: string, content: string | object) => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
    return path;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-cli-input-"));
    writeFileSync(join(dir, "dagwood.json"), '{ "name": "cli-input" }\n');
    writeFileSync(join(dir, "rows.csv"), "x,y\n1,a\n2,b\n3,c\n");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("exits 2 with a message, not a stack trace, on a file nested 3,000 levels deep", async () => {
    const deep = `${"[".repeat(3000)}${"]".repeat(3000)}`;
    const file = write(
      "deep.dag.json",
      JSON.stringify(pipeline([{ id: "mix", block: "shuffle", params: { seed: 1 } }])).replace(
        '"seed":1',
        `"seed":${deep}`,
      ),
    );
    expect(readFileSync(file).length).toBeLessThan(7 * 1024);
    for (const command of ["validate", "run"]) {
      const r = await dagwood(command, file, "--project", dir);
      expect(r.code, command).toBe(2);
      expect(r.stderr, command).toMatch(/nested more than 64 levels deep/);
      expect(r.stderr, command).not.toMatch(/\n\s+at /);
    }
  });

  it("accepts a UTF-8 byte order mark", async () => {
    const file = write("bom.dag.json", `\uFEFF${JSON.stringify(pipeline(NODES))}`);
    const r = await dagwood("validate", file);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("refuses a pipeline file over 16 MiB and a description over 10,000 characters (exit 2)", async () => {
    const huge = write("huge.dag.json", pipeline(NODES, { description: "d".repeat(17 * 1024 * 1024) }));
    const big = await dagwood("run", huge, "--project", dir);
    expect(big.code).toBe(2);
    expect(big.stderr).toMatch(/The file is 17\.0 MiB; a pipeline file may be at most 16\.0 MiB/);
    expect(existsSync(join(dir, ".dagwood", "metadata.sqlite"))).toBe(false);
    const long = write("long.dag.json", pipeline(NODES, { description: "d".repeat(10_001) }));
    const r = await dagwood("validate", long);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\$\.description: a description is at most 10,000 characters/);
  });

  it("refuses a misspelled block param, naming the nearest one", async () => {
    const file = write(
      "typo.dag.json",
      pipeline([NODES[0], { id: "mix", block: "shuffle", params: { sede: 4 } }]),
    );
    for (const command of ["validate", "run"]) {
      const r = await dagwood(command, file, "--project", dir);
      expect(r.code, command).toBe(2);
      expect(r.stderr, command).toMatch(
        /\$\.nodes\[1\]\.params\.sede: Unknown param "sede" for shuffle: did you mean "seed"\?/,
      );
    }
  });

  it("refuses --param __proto__=1 like any other name the pipeline does not declare", async () => {
    const file = write("p.dag.json", pipeline(NODES));
    for (const name of ["__proto__", "nope"]) {
      for (const command of ["validate", "run"]) {
        const r = await dagwood(command, file, "--param", `${name}=1`, "--project", dir);
        expect(r.code, `${command} ${name}`).toBe(2);
        expect(r.stderr).toContain(`the pipeline has no parameter "${name}"`);
      }
    }
    expect((await dagwood("validate", file, "--param", "seed=1")).code).toBe(0);
  });

  it("refuses a register name the registry would refuse, in validate as in run", async () => {
    const file = write(
      "con.dag.json",
      pipeline([
        { id: "rows", block: "ingest.file", params: { path: "rows.csv" } },
        { id: "tree", block: "train.tree", params: { target: "y" } },
        { id: "register", block: "register", params: { name: "CON" } },
      ]),
    );
    const doc = JSON.parse(readFileSync(file, "utf8"));
    doc.edges = [
      { from: "rows.out", to: "tree.train" },
      { from: "tree.model", to: "register.model" },
    ];
    writeFileSync(file, JSON.stringify(doc));
    for (const command of ["validate", "run"]) {
      const r = await dagwood(command, file, "--project", dir);
      expect(r.code, command).toBe(2);
      expect(r.stderr, command).toMatch(
        /params\.name: Invalid model name "CON": Windows reserves it for a device/,
      );
    }
  });

  it("reports an unwritable --junit as an argument error: a folder before the run, a full disk after it", async () => {
    const file = write("p.dag.json", pipeline(NODES));
    mkdirSync(join(dir, "reports"));
    const folder = await dagwood("run", file, "--junit", join(dir, "reports"));
    expect(folder.code).toBe(2);
    expect(folder.stderr).toMatch(/--junit: .*reports is a folder; name a file/);
    expect(folder.stdout).toBe("");
    const missing = await dagwood("run", file, "--junit", join(dir, "none", "j.xml"));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--junit: the folder of .* does not exist/);

    if (existsSync("/dev/full")) {
      const full = await dagwood("run", file, "--junit", "/dev/full");
      expect(full.code).toBe(2);
      expect(full.stderr).toMatch(
        /--junit: could not write \/dev\/full \(ENOSPC\); the run itself succeeded and is recorded as \d{8}T\d{6}-[0-9a-f]{6}/,
      );
      expect(full.stdout).toMatch(/succeeded in/);
    }
    const ok = await dagwood("run", file, "--junit", join(dir, "reports", "j.xml"));
    expect(ok.code).toBe(0);
    expect(readFileSync(join(dir, "reports", "j.xml"), "utf8")).toMatch(/<testsuite name="small"/);
  });
});
