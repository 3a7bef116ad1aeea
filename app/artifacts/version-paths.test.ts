import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ModelVersion } from "../values/registry";
import { ArtifactError, FolderLocation } from "./location";
import { ensureVersionFiles } from "./version-files";

// A version's row comes from a shared database: the folder and file names it records must never
// take a fetch out of the project's .dagwood/registry folder, whatever the row says.

let root: string;
let project: string;
let share: FolderLocation;
let key: string;
let sha256: string;
const BYTES = Buffer.from("not a model, written where the row says\n");

beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), "dagwood-paths-"));
  project = join(root, "project");
  mkdirSync(project);
  mkdirSync(join(root, "share"));
  share = new FolderLocation(join(root, "share"));
  const src = join(root, "payload");
  writeFileSync(src, BYTES);
  ({ key, sha256 } = await share.putFile(src));
  // Independent of the location's own hashing.
  expect(sha256).toBe(createHash("sha256").update(BYTES).digest("hex"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const version = (nativePath: string, files: Record<string, string>) =>
  ({
    name: "m",
    version: 1,
    nativePath,
    artifacts: {
      location: share.description,
      files: Object.fromEntries(
        Object.entries(files).map(([n, k]) => [n, { key: k, sha256, bytes: BYTES.length }]),
      ),
    },
  }) as Pick<ModelVersion, "name" | "version" | "nativePath" | "artifacts">;

describe("ensureVersionFiles and a row that points outside the registry", () => {
  it("fetches a well-formed version into its folder", async () => {
    const got = await ensureVersionFiles(
      project,
      version(".dagwood/registry/m/1/model.json", { "model.json": key }),
      share,
    );
    expect(got).toEqual(["model.json"]);
    expect(readFileSync(join(project, ".dagwood/registry/m/1/model.json"))).toEqual(BYTES);
  });

  it("refuses a file name that climbs out of the version folder", async () => {
    const v = version(".dagwood/registry/m/1/model.json", { "../../../../outside.txt": key });
    await expect(ensureVersionFiles(project, v, share)).rejects.toThrow(ArtifactError);
    await expect(ensureVersionFiles(project, v, share)).rejects.toThrow(/not one a registered version has/);
    expect(existsSync(join(project, "outside.txt"))).toBe(false);
  });

  it("refuses a file name that is not one a version has", async () => {
    const v = version(".dagwood/registry/m/1/model.json", { ".bashrc": key });
    await expect(ensureVersionFiles(project, v, share)).rejects.toThrow(/not one a registered version has/);
    expect(existsSync(join(project, ".dagwood/registry/m/1/.bashrc"))).toBe(false);
  });

  it("refuses a version folder outside .dagwood/registry (relative or absolute)", async () => {
    for (const nativePath of [
      "../elsewhere/model.json",
      "pipelines/model.json",
      join(root, "abs", "model.json"),
      ".dagwood/registry/model.json",
    ]) {
      const v = version(nativePath, { "model.json": key });
      await expect(ensureVersionFiles(project, v, share)).rejects.toThrow(
        /outside the project's .dagwood\/registry folder/,
      );
    }
    expect(existsSync(join(root, "elsewhere"))).toBe(false);
    expect(existsSync(join(project, "pipelines"))).toBe(false);
    expect(existsSync(join(root, "abs"))).toBe(false);
  });
});
