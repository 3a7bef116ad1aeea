/**
 * An S3-compatible server for tests: s3rver (npm devDependency), in this process, on a free port, in
 * its own folder, with one bucket. It checks neither ChecksumSHA256 nor If-None-Match, which is why
 * the artifact location verifies sha256 itself (app/artifacts/location.ts).
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import type { ModelVersion, Registry } from "../store/types";
import type { ArtifactLocation, ArtifactSettings } from "./location";
import { stageVersionFiles, VERSION_FILE_NAMES } from "./version-files";

interface S3rverInstance {
  run(): Promise<{ port: number; address: string }>;
  close(): Promise<void>;
}
type S3rverClass = new (opts: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string }[];
}) => S3rverInstance;

export interface TestS3 {
  endpoint: string;
  bucket: string;
  /** The settings of an s3 location on this server (path-style, as s3rver needs). */
  settings(prefix?: string): Extract<ArtifactSettings, { kind: "s3" }>;
  stop(): Promise<void>;
}

/** s3rver accepts any well-formed signature with its own key pair; the SDK reads it from the environment. */
export function useTestS3Credentials(): void {
  process.env.AWS_ACCESS_KEY_ID = "S3RVER";
  process.env.AWS_SECRET_ACCESS_KEY = "S3RVER";
}

export async function startTestS3(bucket = "dagwood-test"): Promise<TestS3> {
  const S3rver = createRequire(import.meta.url)("s3rver") as S3rverClass;
  const directory = mkdtempSync(join(tmpdir(), "dagwood-s3-"));
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    settings: (prefix) => ({
      kind: "s3",
      bucket,
      endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      ...(prefix ? { prefix } : {}),
    }),
    async stop() {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** A readable that yields the first `bytes` of `data`, then fails (all of it when shorter): an upload cut off part-way (tests). */
export function failingAfter(data: Buffer, bytes: number): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(data.subarray(0, bytes));
      } else if (bytes >= data.length) this.push(null);
      else this.destroy(new Error(`connection lost after ${bytes} bytes`));
    },
  });
}

/**
 * Puts a version registered without a shared location into `location`, as registering the same model
 * again once the project has one does (the register block): its files uploaded, then the row given
 * their manifest. Answers the version as the registry now has it (with `artifacts`).
 */
export async function shareTestVersion(
  registry: Registry,
  projectDir: string,
  location: ArtifactLocation,
  name: string,
  version: number,
): Promise<ModelVersion> {
  const v = registry.getVersion(name, version);
  if (!v) throw new Error(`shareTestVersion: no version ${name} v${version}`);
  const dir = join(projectDir, dirname(v.nativePath));
  const files: { native: string; onnx: string; heldout?: string; profile?: string } = {
    native: join(dir, VERSION_FILE_NAMES.native),
    onnx: join(dir, VERSION_FILE_NAMES.onnx),
  };
  for (const what of ["heldout", "profile"] as const) {
    const path = join(dir, VERSION_FILE_NAMES[what]);
    if (existsSync(path)) files[what] = path;
  }
  const artifacts = await stageVersionFiles(location, files);
  const { version: again, created } = registry.registerVersion({
    name,
    runId: v.runId,
    nodeId: v.nodeId,
    modelFingerprint: v.modelFingerprint,
    estimator: v.estimator,
    task: v.task,
    signature: v.signature,
    metrics: v.metrics,
    parity: v.parity,
    files,
    artifacts,
    lineage: v.lineage,
    featureService: v.featureService,
    actor: v.createdBy,
  });
  if (created || again.version !== version || !again.artifacts)
    throw new Error(`shareTestVersion: ${name} v${version} did not record its files' manifest`);
  return again;
}
