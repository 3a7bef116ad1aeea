import { execFileSync, spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { deployVersion } from "../deploy/deploy";
import { exportRepository } from "../deploy/export";
import { rowsFor } from "../deploy/heldout";
import { testRows } from "../deploy/testing";
import { createServer, type DagwoodServer } from "../serving/server";
import { trainTestModel } from "../serving/testing";
import { SqliteMetadataStore } from "../store/metadata";
import { RegistryError } from "../store/types";
import { startTestRun } from "../tracking/testing";
import type { ModelVersion } from "../values/registry";
import { type ArtifactSettings, openArtifactLocation } from "./location";
import { failingAfter, startTestS3, type TestS3, useTestS3Credentials } from "./testing";
import { ensureProjectVersionFiles, projectArtifactLocation, stageVersionFiles } from "./version-files";

const ROOT = join(import.meta.dirname, "..", "..");
const ONCE = join(import.meta.dirname, "fixtures", "register-once.ts");
const TOKEN = "s3cret";
const tokens = { env: { DAGWOOD_TOKEN_LOCAL: TOKEN }, platform: "aix" as const };

/** sha256 by coreutils: an independent computation. */
const sha256sum = (path: string) => execFileSync("sha256sum", [path], { encoding: "utf8" }).split(" ")[0]!;

let s3: TestS3;
beforeAll(async () => {
  useTestS3Credentials();
  s3 = await startTestS3();
});
afterAll(() => s3.stop());

let root: string;
/** Two checkouts of one project on two "machines": each its own folder, one shared store (SQLite file). */
let machineA: string;
let machineB: string;
let dbPath: string;
let storeA: SqliteMetadataStore;
let storeB: SqliteMetadataStore;
/** Where each test's objects go, so tests never see each other's objects. */
let prefix: string;

function settle(dir: string, artifacts: ArtifactSettings | undefined): void {
  writeFileSync(join(dir, "dagwood.json"), JSON.stringify(artifacts ? { artifacts } : {}));
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "dagwood-shared-"));
  machineA = join(root, "a");
  machineB = join(root, "b");
  mkdirSync(join(machineA, ".dagwood"), { recursive: true });
  mkdirSync(join(machineB, ".dagwood"), { recursive: true });
  prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  settle(machineA, s3.settings(prefix));
  settle(machineB, s3.settings(prefix));
  dbPath = join(root, "team.sqlite");
  storeA = new SqliteMetadataStore(dbPath, { projectDir: machineA });
  storeB = new SqliteMetadataStore(dbPath, { projectDir: machineB });
});
afterEach(() => {
  storeA.close();
  storeB.close();
  rmSync(root, { recursive: true, force: true });
});

/** A trained model's files (native, ONNX, held-out rows) in a scratch folder. */
async function modelFiles(shift = 0) {
  const { model, bytes } = await trainTestModel({ task: "classification", shift });
  const dir = mkdtempSync(join(root, "files-"));
  const files = {
    native: join(dir, "model.json"),
    onnx: join(dir, "model.onnx"),
    heldout: join(dir, "heldout.json"),
  };
  writeFileSync(files.native, JSON.stringify(model));
  writeFileSync(files.onnx, bytes);
  writeFileSync(files.heldout, JSON.stringify(rowsFor(model, testRows())));
  return { model, bytes, files };
}

function registerInput(
  model: Awaited<ReturnType<typeof modelFiles>>["model"],
  files: Record<string, string>,
  fp: string,
) {
  const runId = `run-${fp}-${Math.random().toString(36).slice(2, 8)}`;
  startTestRun(storeA, runId);
  return {
    name: "m",
    runId,
    nodeId: "train",
    modelFingerprint: fp,
    estimator: model.estimator,
    task: model.task,
    signature: model.signature,
    metrics: {},
    parity: null,
    files: files as { native: string; onnx: string; heldout?: string },
    lineage: {
      run: {
        id: runId,
        pipeline: "test",
        pipelinePath: null,
        pipelineHash: null,
        startedAt: "",
        user: "tester",
      },
      nodeId: "train",
      datasets: [],
      params: {},
      environment: {},
    },
    actor: "tester",
  };
}

/** Registers on machine A as the register block does: upload and verify, then the row. */
async function registerOnA(fp = "fp1", shift = 0) {
  const { model, bytes, files } = await modelFiles(shift);
  const artifacts = await stageVersionFiles(projectArtifactLocation(machineA)!, files);
  const { version } = storeA.registry.registerVersion({ ...registerInput(model, files, fp), artifacts });
  return { version, bytes, files };
}

const versionFolder = (machine: string, v: ModelVersion) => join(machine, dirname(v.nativePath));

describe("a shared artifact location", () => {
  it("registers on one machine; another deploys and exports the version from the location", async () => {
    const { version, bytes, files } = await registerOnA();
    // The row names every file by its content key and sha256 (checked with coreutils).
    expect(version.artifacts).toEqual({
      location: `s3://${s3.bucket}/${prefix} at ${s3.endpoint}`,
      files: Object.fromEntries(
        [
          ["model.json", files.native],
          ["model.onnx", files.onnx],
          ["heldout.json", files.heldout],
        ].map(([name, path]) => {
          const sha = sha256sum(path!);
          return [name, { key: `sha256/${sha}`, sha256: sha, bytes: readFileSync(path!).length }];
        }),
      ),
    });
    // Machine B sees the row through the shared store, and has none of the files.
    const onB = storeB.registry.getVersion("m", 1)!;
    expect(onB.artifacts).toEqual(version.artifacts);
    expect(existsSync(versionFolder(machineB, onB))).toBe(false);

    // Deploying on B fetches the files (verified) and serves them: the deploy's parity check passes.
    const repo = mkdtempSync(join(root, "repo-"));
    const server: DagwoodServer = createServer({ repository: repo, token: TOKEN, log: () => {} });
    const url = await server.listen(0, "127.0.0.1");
    try {
      const record = await deployVersion({
        project: {
          dir: machineB,
          settings: { targets: { local: { url, kind: "dagwood" } } },
          registry: storeB.registry,
        },
        name: "m",
        ref: 1,
        target: "local",
        actor: "analyst-b",
        tokens,
      });
      expect(record.parity?.passed).toBe(true);
      expect(record.parity?.source).toBe("heldout");
    } finally {
      await server.close();
    }
    expect(readFileSync(join(machineB, onB.onnxPath)).equals(Buffer.from(bytes))).toBe(true);
    for (const name of ["model.json", "heldout.json"])
      expect(sha256sum(join(versionFolder(machineB, onB), name))).toBe(
        version.artifacts!.files[name]!.sha256,
      );

    // Export on a third checkout: the Triton repository holds the registered ONNX bytes.
    const machineC = join(root, "c");
    mkdirSync(machineC);
    settle(machineC, s3.settings(prefix));
    const out = join(root, "export");
    const written = await exportRepository({
      project: { dir: machineC, registry: storeB.registry },
      name: "m",
      ref: 1,
      format: "triton",
      outDir: out,
    });
    expect(written).toContain("m/1/model.onnx");
    expect(readFileSync(join(out, "m", "1", "model.onnx")).equals(Buffer.from(bytes))).toBe(true);
  });

  it("works the same with a folder (a network share)", async () => {
    const share = join(root, "share");
    mkdirSync(share);
    settle(machineA, { kind: "folder", path: share });
    settle(machineB, { kind: "folder", path: share });
    const { version, bytes } = await registerOnA();
    expect(version.artifacts!.location).toBe(`folder ${share}`);
    expect(readdirSync(join(share, "sha256")).sort()).toEqual(
      Object.values(version.artifacts!.files)
        .map((f) => f.sha256)
        .sort(),
    );
    const onB = storeB.registry.getVersion("m", 1)!;
    expect(await ensureProjectVersionFiles(machineB, onB)).toEqual([
      "model.json",
      "model.onnx",
      "heldout.json",
    ]);
    expect(readFileSync(join(machineB, onB.onnxPath)).equals(Buffer.from(bytes))).toBe(true);
    // Present and intact: nothing is fetched again.
    expect(await ensureProjectVersionFiles(machineB, onB)).toEqual([]);
    // A local copy with other bytes is replaced by the registered one.
    writeFileSync(join(machineB, onB.onnxPath), "tampered");
    expect(await ensureProjectVersionFiles(machineB, onB)).toEqual(["model.onnx"]);
    expect(readFileSync(join(machineB, onB.onnxPath)).equals(Buffer.from(bytes))).toBe(true);
  });

  it("an interrupted upload leaves no version, and the next registration succeeds", async () => {
    const { model, files } = await modelFiles();
    const cut = openArtifactLocation(s3.settings(prefix), machineA, {
      readFile: (p) => failingAfter(readFileSync(p), 1000),
    });
    await expect(stageVersionFiles(cut, files)).rejects.toThrow(/connection lost after 1000 bytes/);
    expect(storeA.registry.getModel("m")).toBeUndefined();
    expect(storeA.registry.audit({ model: "m" })).toEqual([]);
    // Nothing half-written is left where the version would be.
    expect(existsSync(join(machineA, ".dagwood", "registry", "m", "1"))).toBe(false);
    const artifacts = await stageVersionFiles(projectArtifactLocation(machineA)!, files);
    const { version, created } = storeA.registry.registerVersion({
      ...registerInput(model, files, "fp1"),
      artifacts,
    });
    expect([version.version, created]).toEqual([1, true]);
    expect(storeB.registry.listVersions("m").map((v) => v.version)).toEqual([1]);
  });

  it("a process killed mid-upload leaves no version, and the next registration succeeds", async () => {
    const { model, files } = await modelFiles();
    const child = spawn(
      process.execPath,
      ["--import", "tsx", ONCE, dbPath, machineA, files.native, files.onnx],
      {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, DAGWOOD_FAULT: "artifacts:mid-upload" },
      },
    );
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const signal = await new Promise<string | null>((r) => child.on("exit", (_c, s) => r(s)));
    expect(signal, output).toBe("SIGKILL");
    expect(storeA.registry.getModel("shared")).toBeUndefined();
    expect(storeA.registry.listModels()).toEqual([]);
    // The same files register from here (the same keys: the cut-off object is not taken for complete).
    const artifacts = await stageVersionFiles(projectArtifactLocation(machineA)!, files);
    const { version } = storeA.registry.registerVersion({
      ...registerInput(model, files, "fp1"),
      name: "shared",
      artifacts,
    });
    expect(version.version).toBe(1);
    const onB = storeB.registry.getVersion("shared", 1)!;
    expect(await ensureProjectVersionFiles(machineB, onB)).toEqual([
      "model.json",
      "model.onnx",
      "heldout.json",
    ]);
    expect(sha256sum(join(machineB, onB.onnxPath))).toBe(sha256sum(files.onnx));
  });

  it("refuses to record files that are not the ones uploaded", async () => {
    const { model, files } = await modelFiles();
    const artifacts = await stageVersionFiles(projectArtifactLocation(machineA)!, files);
    writeFileSync(files.onnx, "changed after the upload");
    let error: unknown;
    try {
      storeA.registry.registerVersion({ ...registerInput(model, files, "fp1"), artifacts });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as Error).message).toMatch(
      /Cannot register "m": its files are not the ones uploaded to s3:\/\/.* \(model.onnx hashes to [0-9a-f]{64} \(24 bytes\), not the uploaded/,
    );
    expect(storeA.registry.getModel("m")).toBeUndefined();
    expect(readdirSync(join(machineA, ".dagwood", "registry", "m"))).toEqual([]);
  });

  it("a machine without the location says where the files are", async () => {
    await registerOnA();
    settle(machineB, undefined);
    const out = join(root, "export");
    await expect(
      exportRepository({
        project: { dir: machineB, registry: storeB.registry },
        name: "m",
        ref: 1,
        format: "kserve",
        outDir: out,
      }),
    ).rejects.toThrow(
      new RegExp(
        `m v1 was registered with its files in s3://${s3.bucket}/${prefix} at http://127\\.0\\.0\\.1:\\d+, and this machine lacks model\\.json, model\\.onnx, heldout\\.json; this project has no "artifacts" location in dagwood\\.json`,
      ),
    );
  });

  it("a damaged object is refused on the other machine, naming it", async () => {
    const { version } = await registerOnA();
    const onnx = version.artifacts!.files["model.onnx"]!;
    const client = new S3Client({ region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true });
    await client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: `${prefix}/${onnx.key}`, Body: "garbage" }),
    );
    client.destroy();
    const onB = storeB.registry.getVersion("m", 1)!;
    await expect(ensureProjectVersionFiles(machineB, onB)).rejects.toThrow(
      `Cannot fetch model.onnx of m v1 (registered in s3://${s3.bucket}/${prefix} at ${s3.endpoint}): The artifact ${onnx.key}`,
    );
    expect(existsSync(join(machineB, onB.onnxPath))).toBe(false);
  });

  it("a version registered before the location was set gets its manifest when the same model is uploaded again", async () => {
    settle(machineA, undefined);
    const { model, files } = await modelFiles();
    storeA.registry.registerVersion(registerInput(model, files, "fp1"));
    settle(machineA, s3.settings(prefix));
    // Other held-out rows than the version keeps: its files are not these, so nothing is recorded.
    const otherRows = join(root, "other-heldout.json");
    writeFileSync(otherRows, "[]");
    const other = { ...files, heldout: otherRows };
    const refused = await stageVersionFiles(projectArtifactLocation(machineA)!, other);
    const first = storeA.registry.registerVersion({
      ...registerInput(model, other, "fp1"),
      artifacts: refused,
    });
    expect([first.created, first.version.artifacts]).toEqual([false, undefined]);
    // The same files: the version (still v1) now names them, and machine B can fetch them.
    const artifacts = await stageVersionFiles(projectArtifactLocation(machineA)!, files);
    const again = storeA.registry.registerVersion({ ...registerInput(model, files, "fp1"), artifacts });
    expect([again.created, again.version.version, again.version.artifacts]).toEqual([false, 1, artifacts]);
    const onB = storeB.registry.getVersion("m", 1)!;
    expect(await ensureProjectVersionFiles(machineB, onB)).toEqual([
      "model.json",
      "model.onnx",
      "heldout.json",
    ]);
  });

  it("without a location nothing changes: no manifest, nothing to fetch", async () => {
    settle(machineA, undefined);
    const { model, files } = await modelFiles();
    expect(projectArtifactLocation(machineA)).toBeNull();
    const { version } = storeA.registry.registerVersion(registerInput(model, files, "fp1"));
    expect(version.artifacts).toBeUndefined();
    expect(await ensureProjectVersionFiles(machineA, version)).toEqual([]);
    expect(readFileSync(join(machineA, version.onnxPath)).equals(readFileSync(files.onnx))).toBe(true);
  });
});
