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

  it("refuses a new file whose folder is a link out of the project", () => {
    const outside = join(root, "elsewhere");
    mkdirSync(outside);
    symlinkSync(outside, join(project, "linked"));
    expect(() => resolveProjectPath(project, [project], "linked/new.dag.json")).toThrow(
      /links to a file outside the project/,
    );
    expect(() => resolveProjectPath(project, [project], "linked/deeper/still/new.csv")).toThrow(
      /links to a file outside the project/,
    );
    // A link whose target does not exist yet still leads out (a write would follow it).
    symlinkSync(join(outside, "not-yet"), join(project, "dangling"));
    expect(() => resolveProjectPath(project, [project], "dangling/new.dag.json")).toThrow(
      /links to a file outside the project/,
    );
    symlinkSync(join(outside, "new.csv"), join(project, "data", "dangling.csv"));
    expect(() => resolveProjectPath(project, [project], "data/dangling.csv")).toThrow(
      /links to a file outside the project/,
    );
    // A missing folder on its way is fine when no link leads out.
    expect(resolveProjectPath(project, [project], "new/folder/x.csv")).toBe(
      join(project, "new", "folder", "x.csv"),
    );
  });

  it("refuses anything inside .dagwood, however it is named", () => {
    mkdirSync(join(project, ".dagwood"));
    writeFileSync(join(project, ".dagwood", "serve-token"), "secret\n");
    for (const path of [
      ".dagwood/serve-token",
      ".dagwood",
      "./.dagwood/new.dag.json",
      "data/../.dagwood/serve-token",
      join(project, ".dagwood", "workspace.duckdb"),
      ".DAGWOOD/serve-token",
    ]) {
      expect(() => resolveProjectPath(project, [project], path), path).toThrow(
        /inside \.dagwood\/.*Dagwood's own state/,
      );
    }
    // A link elsewhere in the project that leads into it.
    symlinkSync(join(project, ".dagwood"), join(project, "data", "state"));
    expect(() => resolveProjectPath(project, [project], "data/state/serve-token")).toThrow(
      /inside \.dagwood/,
    );
    symlinkSync(join(project, ".dagwood", "serve-token"), join(project, "token.txt"));
    expect(() => resolveProjectPath(project, [project], "token.txt")).toThrow(/inside \.dagwood/);
    // Through a data folder that holds the project.
    expect(() => resolveProjectPath(project, [project, root], "../project/.dagwood/serve-token")).toThrow(
      /inside \.dagwood/,
    );
    // A name that only starts the same way is an ordinary file.
    expect(resolveProjectPath(project, [project], ".dagwood-notes.txt")).toBe(
      join(project, ".dagwood-notes.txt"),
    );
  });
});
