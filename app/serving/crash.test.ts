/**
 * The server as a child process, killed with SIGKILL during an upload: after
 * a restart it serves the last good version, and no partial file is taken
 * for a version.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trainTestModel } from "./testing";

const ROOT = resolve(import.meta.dirname, "..", "..");
const TOKEN = "crash-token";
const children: ChildProcess[] = [];
const dirs: string[] = [];

function startChild(repository: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(ROOT, "app/serving/main.ts"), "--repository", repository, "--port", "0"],
    { cwd: ROOT, env: { ...process.env, DAGWOOD_SERVE_TOKEN: TOKEN }, stdio: ["ignore", "pipe", "pipe"] },
  );
  children.push(child);
  return new Promise((resolvePromise, reject) => {
    let out = "";
    let err = "";
    child.stdout!.on("data", (d) => {
      out += d;
      const match = /listening on (\S+)/.exec(out);
      if (match) resolvePromise({ child, url: match[1]! });
    });
    child.stderr!.on("data", (d) => {
      err += d;
    });
    child.on("exit", (code) => reject(new Error(`server exited with ${code}: ${err}`)));
  });
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((r) => {
    if (child.exitCode !== null || child.signalCode !== null) r();
    else {
      child.once("exit", () => r());
      child.kill("SIGKILL");
    }
  });
}

async function post(url: string, path: string, body: unknown) {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as { model_version?: string; error?: string } };
}

/** One row for the test model (x in the wire type its exporter declares). */
let ROW: { inputs: { name: string; datatype: string; shape: number[]; data: unknown[] }[] };

describe("SIGKILL during an upload", () => {
  let v1: Uint8Array;
  let v2: Uint8Array;
  beforeAll(async () => {
    const trained = await trainTestModel({ shift: 0 });
    v1 = trained.bytes;
    const xType = trained.model.signature.inputs.find((i) => i.name === "x")!.dtype;
    ROW = {
      inputs: [
        { name: "x", datatype: xType, shape: [1, 1], data: [4] },
        { name: "color", datatype: "BYTES", shape: [1, 1], data: ["red"] },
      ],
    };
    // A bigger model so the write takes a moment.
    v2 = (await trainTestModel({ shift: 100, trees: 200, maxDepth: 6, rows: 2000 })).bytes;
  });
  afterAll(async () => {
    await Promise.all(children.map(killed));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A fresh repository folder, removed after the tests. */
  function tempRepository(): string {
    const repository = mkdtempSync(join(tmpdir(), "dagwood-crash-"));
    dirs.push(repository);
    return repository;
  }

  /** Uploads v1 of m to the server at `url`. */
  const loadV1 = (url: string) =>
    post(url, "/v2/repository/models/m/load", {
      parameters: { "file:1/model.onnx": Buffer.from(v1).toString("base64") },
    });

  /** Every version folder holds a complete model onnxruntime loads. */
  async function checkRepository(repository: string): Promise<number[]> {
    const versions = readdirSync(join(repository, "m")).filter(
      (f) => /^\d+$/.test(f) && existsSync(join(repository, "m", f, "model.onnx")),
    );
    for (const v of versions) {
      const session = await ort.InferenceSession.create(readFileSync(join(repository, "m", v, "model.onnx")));
      await session.release();
    }
    expect(readdirSync(join(repository, "m")).filter((f) => f.startsWith(".upload-"))).toEqual([]);
    return versions.map(Number).sort();
  }

  it("mid-body: restarts serving the last good version", async () => {
    const repository = tempRepository();
    const first = await startChild(repository);
    expect((await loadV1(first.url)).status).toBe(200);

    // A 64 MiB upload, killed after the first megabytes are through.
    const u = new URL(first.url);
    const req = request({
      host: u.hostname,
      port: u.port,
      path: "/v2/repository/models/m/load",
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-length": 64 * 1024 * 1024 },
    });
    req.on("error", () => {});
    req.write('{"parameters": {"file:2/model.onnx": "');
    const chunk = "A".repeat(1024 * 1024);
    for (let i = 0; i < 8; i++) await new Promise((r) => req.write(chunk, r));
    await killed(first.child);
    req.destroy();

    const second = await startChild(repository);
    const answer = await post(second.url, "/v2/models/m/infer", ROW);
    expect(answer.status).toBe(200);
    expect(answer.json.model_version).toBe("1");
    expect(await checkRepository(repository)).toEqual([1]);
    await killed(second.child);
  });

  it("during validation and write: whatever survives is complete, and the server restarts serving", async () => {
    const repository = tempRepository();
    const first = await startChild(repository);
    expect((await loadV1(first.url)).status).toBe(200);
    const body = JSON.stringify({ parameters: { "file:2/model.onnx": Buffer.from(v2).toString("base64") } });
    // The body is sent at once; the kill lands while the server decodes, validates or writes it.
    void fetch(`${first.url}/v2/repository/models/m/load`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
      body,
    }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 15));
    await killed(first.child);

    const second = await startChild(repository);
    const answer = await post(second.url, "/v2/models/m/infer", ROW);
    expect(answer.status).toBe(200);
    const versions = await checkRepository(repository);
    expect(versions[0]).toBe(1);
    // It serves a version that is complete on disk: 1, or 2 if the load finished before the kill.
    expect(versions).toContain(Number(answer.json.model_version));
    await killed(second.child);
  });
});
