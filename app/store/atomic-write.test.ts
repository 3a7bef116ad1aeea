import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { writeFileAtomic } from "./atomic-write";

// Every handle the writer opens, with whether it was fsynced: the folder's fsync is the point.
const synced = vi.hoisted(() => [] as { path: string; synced: boolean }[]);
vi.mock(import("node:fs/promises"), async (original) => {
  const actual = await original();
  const open: typeof actual.open = async (path, ...rest) => {
    const handle = await actual.open(path, ...rest);
    const record = { path: String(path), synced: false };
    synced.push(record);
    const sync = handle.sync.bind(handle);
    handle.sync = async () => {
      await sync();
      record.synced = true;
    };
    return handle;
  };
  return { ...actual, open, default: { ...actual, open } };
});

describe("writeFileAtomic", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-atomic-"));
    synced.length = 0;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("replaces the file, leaves no temp file, and fsyncs the new file and then its folder", async () => {
    const file = join(dir, "pipeline.dag.json");
    await writeFileAtomic(file, "one");
    await writeFileAtomic(file, new TextEncoder().encode("two"));
    expect(readFileSync(file, "utf8")).toBe("two");
    expect(readdirSync(dir)).toEqual(["pipeline.dag.json"]);
    // Per write: the temp file beside the target, then the folder, both fsynced.
    expect(synced.map((s) => [s.path === dir ? "folder" : s.path.replace(dir, "~"), s.synced])).toEqual([
      [expect.stringMatching(/^~\/\.pipeline\.dag\.json\.[0-9a-f]{12}\.tmp$/), true],
      ["folder", true],
      [expect.stringMatching(/^~\/\.pipeline\.dag\.json\.[0-9a-f]{12}\.tmp$/), true],
      ["folder", true],
    ]);
  });

  it("keeps the old file and removes its temp file when the rename fails", async () => {
    const target = join(dir, "taken");
    mkdirSync(join(target, "inside"), { recursive: true });
    await expect(writeFileAtomic(target, "x")).rejects.toThrow(/EISDIR|ENOTEMPTY|EEXIST/);
    expect(readdirSync(dir)).toEqual(["taken"]);
    expect(readdirSync(target)).toEqual(["inside"]);
  });

  it("fails with the system's reason when the folder does not exist", async () => {
    await expect(writeFileAtomic(join(dir, "missing", "f.json"), "x")).rejects.toThrow(/ENOENT/);
  });
});
