// Port folders: a table through Parquet and back keeps its columns' DuckDB types and its fingerprint; a
// model's named files travel with it; what does not match its manifest is refused.
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Workspace } from "../data/workspace";
import { sha256, stableStringify } from "../engine/execute";
import type { PortValue } from "../engine/ports";
import { namedFiles, PortFileError, readPortFolder, writePortFolder } from "./port-files";

let dir: string;
let ws: Workspace;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dagwood-port-files-"));
  ws = await Workspace.open({ path: ":memory:", allowedDirs: [dir], threads: 1 });
});
afterAll(async () => {
  ws.close();
  await rm(dir, { recursive: true, force: true });
});

describe("a table as a port folder", () => {
  it("keeps types Parquet has no exact match for, and the fingerprint the engine computes", async () => {
    const sql = await ws.session();
    await sql.run(`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`).catch(() => undefined);
    await sql.run(`CREATE TABLE src AS SELECT
        i::UTINYINT AS small, i::HUGEINT AS huge, (i * 1.5)::DECIMAL(9, 2) AS price,
        (['sad', 'ok', 'happy'])[i % 3 + 1]::mood AS mood,
        TIMESTAMPTZ '2024-03-01 12:00:00+00' + INTERVAL (i) HOUR AS at, DATE '2024-01-01' + i::INTEGER AS day,
        {'a': i, 'b': 'x' || i} AS s, [i, i + 1] AS l, CASE WHEN i % 4 = 0 THEN NULL ELSE 'v' || i END AS maybe,
        i % 2 = 0 AS flag, INTERVAL (i) MINUTE AS span, ('\\x' || lpad(i::VARCHAR, 2, '0'))::BLOB AS raw
      FROM range(50) t(i)`);
    sql.close();
    const value = await ws.describeTable("src");
    const folder = join(dir, "typed");
    await writePortFolder(folder, value, { node: "n", port: "out" }, ws, dir);
    // Read in another workspace (another step's), where the ENUM type was never created.
    const other = await Workspace.open({ path: ":memory:", allowedDirs: [dir], threads: 1 });
    try {
      const back = await readPortFolder(folder, 'Input "in"', other, dir, "dest");
      expect(back.value).toMatchObject({ type: "table", name: "dest", rows: 50, columns: value.columns });
      expect(back.value.fingerprint).toBe(value.fingerprint);
    } finally {
      other.close();
    }
  });

  it("refuses a manifest that records other columns than the file holds", async () => {
    const sql = await ws.session();
    await sql.run("CREATE TABLE two AS SELECT range AS a FROM range(3)");
    sql.close();
    const folder = join(dir, "cols");
    await writePortFolder(folder, await ws.describeTable("two"), { node: "n", port: "out" }, ws, dir);
    const m = JSON.parse(await readFile(join(folder, "value.json"), "utf8"));
    m.columns = [{ name: "b", type: "BIGINT" }];
    await writeFile(join(folder, "value.json"), JSON.stringify(m));
    await expect(readPortFolder(folder, 'Input "in"', ws, dir, "two_back")).rejects.toThrow(
      /Input "in": .*table\.parquet does not hold the columns its value\.json records/,
    );
  });

  it("refuses a folder with no value.json, or one that is not a port manifest", async () => {
    const empty = join(dir, "empty");
    await mkdir(empty);
    await expect(readPortFolder(empty, 'Input "in"', ws, dir, "x")).rejects.toThrow(
      /Input "in": cannot read .*value\.json/,
    );
    await writeFile(join(empty, "value.json"), JSON.stringify({ format: "other" }));
    await expect(readPortFolder(empty, 'Input "in"', ws, dir, "x")).rejects.toThrow(PortFileError);
  });
});

describe("a model as a port folder", () => {
  const data = {
    kind: "dagwood.model/1",
    onnx: { file: ".dagwood/artifacts/r1/train/model.onnx", bytes: 4 },
    referenceProfile: { file: ".dagwood/artifacts/r1/train/reference-profile.json" },
  };
  const model = {
    type: "model",
    data,
    fingerprint: sha256(stableStringify(data)).slice(0, 32),
  } as unknown as PortValue;

  it("carries the files the model names, restored at their path in the consumer's project", async () => {
    expect(namedFiles(data)).toEqual([data.onnx.file, data.referenceProfile.file]);
    const producer = join(dir, "producer");
    await mkdir(join(producer, ".dagwood", "artifacts", "r1", "train"), { recursive: true });
    await writeFile(join(producer, data.onnx.file), "ONNX");
    await writeFile(join(producer, data.referenceProfile.file), "{}");
    const folder = join(dir, "model");
    const m = await writePortFolder(folder, model, { node: "train", port: "model" }, ws, producer);
    expect(m.files![data.onnx.file]).toBe(sha256("ONNX"));
    const consumer = join(dir, "consumer");
    const back = await readPortFolder(folder, 'Input "model"', ws, consumer, "unused");
    expect(back.value).toEqual(model);
    expect(await readFile(join(consumer, data.onnx.file), "utf8")).toBe("ONNX");
  });

  it("refuses a named file whose bytes are not the ones recorded", async () => {
    const folder = join(dir, "model");
    await writeFile(join(folder, "files", data.onnx.file), "XXXX");
    await expect(readPortFolder(folder, 'Input "model"', ws, join(dir, "c2"), "unused")).rejects.toThrow(
      /Input "model": .*model\.onnx has sha256 \w+, but value\.json records \w+\. Run the upstream step again/,
    );
  });

  /**
   * A model port folder whose ONNX is `file` (written there under files/ when `bytes` is given; its
   * sha256 recorded as `recorded`'s), the manifest's fingerprint recomputed, as anyone who edits one can.
   */
  async function tamperedModel(
    name: string,
    file: string,
    bytes?: string,
    recorded = bytes ?? "",
  ): Promise<string> {
    const bad = { kind: data.kind, onnx: { file, bytes: 4 } };
    const folder = join(dir, name);
    await mkdir(folder, { recursive: true });
    if (bytes !== undefined) {
      await mkdir(dirname(join(folder, "files", file)), { recursive: true });
      await writeFile(join(folder, "files", file), bytes);
    }
    await writeFile(
      join(folder, "value.json"),
      JSON.stringify({
        format: "dagwood.port/1",
        type: "model",
        node: "n",
        port: "model",
        data: bad,
        fingerprint: sha256(stableStringify(bad)).slice(0, 32),
        files: { [file]: sha256(recorded) },
      }),
    );
    return folder;
  }

  it("refuses a manifest naming a file outside the folder", async () => {
    const folder = await tamperedModel("escape", ".dagwood/../../etc/passwd");
    await expect(readPortFolder(folder, 'Input "model"', ws, join(dir, "c3"), "unused")).rejects.toThrow(
      /names the path "\.dagwood\/\.\.\/\.\.\/etc\/passwd", which leaves its folder/,
    );
  });

  it("refuses a named file that stays in the project but leaves .dagwood/artifacts and .dagwood/registry", async () => {
    const consumer = join(dir, "c4");
    await mkdir(consumer, { recursive: true });
    await writeFile(join(consumer, "dagwood.json"), "{}");
    for (const file of [".dagwood/../dagwood.json", ".dagwood/metadata.sqlite"]) {
      const folder = await tamperedModel(`inside-${file.length}`, file, "ONNX");
      await expect(readPortFolder(folder, 'Input "model"', ws, consumer, "unused")).rejects.toThrow(
        /Input "model" names the path .*, which leaves its folder: a port value carries files under \.dagwood\/artifacts\/ or \.dagwood\/registry\/ only/,
      );
    }
    expect(await readFile(join(consumer, "dagwood.json"), "utf8")).toBe("{}");
  });

  it("refuses a named file reached through a link out of the port folder", async () => {
    const outside = join(dir, "outside");
    await mkdir(join(outside, "r1", "train"), { recursive: true });
    await writeFile(join(outside, "r1", "train", "model.onnx"), "ONNX");
    const folder = await tamperedModel("linked", data.onnx.file, undefined, "ONNX");
    await mkdir(join(folder, "files", ".dagwood"), { recursive: true });
    await symlink(outside, join(folder, "files", ".dagwood", "artifacts"));
    const consumer = join(dir, "c5");
    await expect(readPortFolder(folder, 'Input "model"', ws, consumer, "unused")).rejects.toThrow(
      /Input "model": .*model\.onnx is a link to .*outside\/r1\/train\/model\.onnx, outside its port folder/,
    );
    await expect(readFile(join(consumer, data.onnx.file))).rejects.toThrow(/ENOENT/);
  });
});
