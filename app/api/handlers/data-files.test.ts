import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { catalog } from "../../../nodes/index";
import type { DataFileList } from "../api";
import { createCoreApi } from "../core";
import { listDataFiles } from "./data-files";

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** A folder holding `files` (path → text), made in a fresh temporary root. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "dagwood-datafiles-"));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const paths = (list: DataFileList) => list.files.map((f) => f.path);

describe("listDataFiles", () => {
  it("lists files ingest.file reads, in the project and its data folders, as ingest paths", async () => {
    const root = tree({
      "project/data/a.csv": "x\n1\n",
      "project/data/b.TSV": "x\n",
      "project/data/c.parquet": "",
      "project/rows.ndjson": "{}\n",
      "project/logs.jsonl.gz": "",
      "project/deep/1/2/3/d.json": "[]",
      "project/notes.txt": "not data",
      "project/model.dag.json": "{}",
      "project/tests/model.test.json": "{}",
      "project/tests/fixtures/small.csv": "x\n",
      "project/dagwood.json": "{}",
      "project/.dagwood/workspace.csv": "state",
      "project/.git/x.csv": "hidden",
      "project/node_modules/pkg/e.csv": "dependency",
      "shared/s.csv": "x\n",
    });
    const list = await listDataFiles(join(root, "project"), ["../shared"]);
    expect(list.truncated).toBe(false);
    expect(paths(list)).toEqual([
      "data/a.csv",
      "data/b.TSV",
      "data/c.parquet",
      "deep/1/2/3/d.json",
      "logs.jsonl.gz",
      "rows.ndjson",
      "tests/fixtures/small.csv",
      "../shared/s.csv",
    ]);
    expect(list.files.find((f) => f.path === "data/a.csv")).toEqual({
      path: "data/a.csv",
      folder: "",
      name: "data/a.csv",
      bytes: 4,
    });
    expect(list.files.at(-1)).toEqual({
      path: "../shared/s.csv",
      folder: "../shared",
      name: "s.csv",
      bytes: 2,
    });
  });

  it("follows no link out of the project and its data folders", async () => {
    const root = tree({
      "project/data/in.csv": "x\n",
      "secret/passwords.csv": "x\n",
      "secret/dir/more.csv": "x\n",
    });
    const project = join(root, "project");
    symlinkSync(join(root, "secret/passwords.csv"), join(project, "data/escape.csv"));
    symlinkSync(join(root, "secret/dir"), join(project, "linked-dir"));
    symlinkSync(join(project, "data/in.csv"), join(project, "alias.csv"));
    // A loop: the folder links to its parent.
    symlinkSync(project, join(project, "data/loop"));
    const list = await listDataFiles(project, []);
    expect(paths(list)).toEqual(["alias.csv", "data/in.csv"]);
  });

  it("never offers Dagwood's own state, also when a link or a data folder leads into it", async () => {
    const root = tree({ "project/data/in.csv": "x\n", "project/.dagwood/state.csv": "secret\n" });
    const project = join(root, "project");
    symlinkSync(join(project, ".dagwood/state.csv"), join(project, "data/state.csv"));
    symlinkSync(join(project, ".dagwood"), join(project, "kept"));
    const list = await listDataFiles(project, ["kept"]);
    expect(paths(list)).toEqual(["data/in.csv"]);
  });

  it("skips a data folder that does not exist, and does not list a file twice", async () => {
    const root = tree({ "project/data/a.csv": "x\n" });
    const project = join(root, "project");
    const list = await listDataFiles(project, ["../missing", "data"]);
    // data/ is a data folder inside the project: listed once, under its own name.
    expect(list.files).toEqual([{ path: "data/a.csv", folder: "data", name: "a.csv", bytes: 2 }]);
  });

  it("stops at the file cap and the depth, and says it was cut", async () => {
    const files: Record<string, string> = { "p/1/2/3/4/5/too-deep.csv": "" };
    for (let i = 0; i < 12; i++) files[`p/f${String(i).padStart(2, "0")}.csv`] = "";
    const project = join(tree(files), "p");
    const list = await listDataFiles(project, [], { files: 10, depth: 4, entries: 1000 });
    expect(list.files).toHaveLength(10);
    expect(list.truncated).toBe(true);
    const all = await listDataFiles(project, [], { files: 100, depth: 4, entries: 1000 });
    expect(all.truncated).toBe(false);
    expect(paths(all)).not.toContain("1/2/3/4/5/too-deep.csv");
    expect(all.files).toHaveLength(12);
  });
});

describe("the listDataFiles Api method", { timeout: 60_000 }, () => {
  it("answers for the open project, with its dagwood.json data folders", async () => {
    const root = tree({
      "project/dagwood.json": JSON.stringify({ name: "t", dataFolders: ["../shared"] }),
      "project/data/a.csv": "x\n1\n",
      "shared/s.parquet": "",
    });
    const api = await createCoreApi({ catalog, projectDir: join(root, "project") });
    try {
      const list = (await api.call("listDataFiles", {})) as DataFileList;
      expect(paths(list)).toEqual(["data/a.csv", "../shared/s.parquet"]);
    } finally {
      await api.close();
    }
  });

  it("says to open a project when none is open", async () => {
    const api = await createCoreApi({ catalog });
    try {
      await expect(api.call("listDataFiles", {})).rejects.toThrow(/No project is open/);
    } finally {
      await api.close();
    }
  });
});
