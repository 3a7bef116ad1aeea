import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ensureStoreDir, Project, STORE_GITIGNORE } from "./project";

describe("the project's store folder", () => {
  const dirs: string[] = [];
  const folder = () => {
    const dir = mkdtempSync(join(tmpdir(), "dagwood-project-"));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("is created with a .gitignore holding * (nothing in it is committed)", async () => {
    const dir = folder();
    const project = await Project.open(dir);
    project.close();
    const ignore = readFileSync(join(dir, ".dagwood", ".gitignore"), "utf8");
    expect(ignore.split("\n")).toContain("*");
    expect(ignore).toBe(STORE_GITIGNORE);
  });

  it("gets one when an older store folder has none; an existing one is kept", () => {
    const dir = folder();
    mkdirSync(join(dir, ".dagwood"));
    ensureStoreDir(dir);
    expect(readFileSync(join(dir, ".dagwood", ".gitignore"), "utf8")).toBe(STORE_GITIGNORE);
    writeFileSync(join(dir, ".dagwood", ".gitignore"), "*\n!keep\n");
    ensureStoreDir(dir);
    expect(readFileSync(join(dir, ".dagwood", ".gitignore"), "utf8")).toBe("*\n!keep\n");
  });
});
