import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveProjectPath } from "./paths";

describe("resolveProjectPath", () => {
  let root: string;
  let project: string;
  let data: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "dagwood-paths-"));
    project = join(root, "project");
    data = join(root, "shared-data");
    mkdirSync(join(project, "data"), { recursive: true });
    mkdirSync(data);
    writeFileSync(join(project, "data", "a.csv"), "x\n1\n");
    writeFileSync(join(root, "secret.csv"), "x\n1\n");
    writeFileSync(join(data, "b.csv"), "x\n1\n");
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("resolves paths relative to the project", () => {
    expect(resolveProjectPath(project, [project], "data/a.csv")).toBe(join(project, "data", "a.csv"));
    expect(resolveProjectPath(project, [project], join(project, "data", "a.csv"))).toBe(
      join(project, "data", "a.csv"),
    );
  });

  it("refuses paths that leave the project, and sibling folders sharing a prefix", () => {
    expect(() => resolveProjectPath(project, [project], "../secret.csv")).toThrow(
      /outside the project folder/,
    );
    expect(() => resolveProjectPath(project, [project], "/etc/passwd")).toThrow(/dataFolders/);
    mkdirSync(`${project}-evil`);
    writeFileSync(`${project}-evil/x.csv`, "x\n");
    expect(() => resolveProjectPath(project, [project], `${project}-evil/x.csv`)).toThrow(/outside/);
  });

  it("allows the data folders the project adds", () => {
    expect(resolveProjectPath(project, [project, data], "../shared-data/b.csv")).toBe(join(data, "b.csv"));
  });

  it("refuses a link inside the project that points outside it", () => {
    symlinkSync(join(root, "secret.csv"), join(project, "data", "link.csv"));
    expect(() => resolveProjectPath(project, [project], "data/link.csv")).toThrow(
      /links to a file outside the project/,
    );
  });
});
