/**
 * A deploy to a Dagwood server carries the model's log policy, the
 * version's tagged inputs (its lineage's personalData) and, only when they
 * are hashed, the project's key: the served log then holds hashes that
 * Python's hmac module computes from the key file and the values.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PRIVACY_FILE } from "../serving/privacy";
import { createServer, type DagwoodServer } from "../serving/server";
import { V2Client } from "./client";
import { deploymentStatus, deployVersion, upload } from "./deploy";
import { versionLogPrivacy } from "./log-privacy";
import { createDeployProject, registerTestVersion, type TestDeployProject } from "./testing";

const TOKEN = "s3cret";
const tokens = { env: { DAGWOOD_TOKEN_LOCAL: TOKEN }, platform: "aix" as const };
const PERSONAL = [
  { input: "color", tags: [{ tag: "pii", origin: { dataset: "customers", column: "color" }, via: [] }] },
];

function pythonHash(keyHex: string, value: string): string {
  const code =
    "import hmac, hashlib, sys\nprint('hmac:' + hmac.new(bytes.fromhex(sys.argv[1]), sys.argv[2].encode(), hashlib.sha256).hexdigest()[:32])";
  return execFileSync("/usr/bin/python3", ["-c", code, keyHex, value]).toString().trim();
}

async function inferRed(url: string, id: string): Promise<void> {
  const res = await fetch(`${url}/v2/models/m/infer`, {
    method: "POST",
    body: JSON.stringify({
      id,
      inputs: [
        { name: "x", datatype: "FP64", shape: [1, 1], data: [3] },
        { name: "color", datatype: "BYTES", shape: [1, 1], data: ["red"] },
      ],
    }),
  });
  expect(res.status).toBe(200);
}

// biome-ignore lint/suspicious/noExplicitAny: log entries are read freely
async function logged(url: string, id: string): Promise<any> {
  const res = await fetch(`${url}/v2/logs/models/m?since=0&limit=1000`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  // biome-ignore lint/suspicious/noExplicitAny: as above
  const body = (await res.json()) as { entries: any[] };
  return body.entries.find((e) => e.requestId === id);
}

describe("deploying with the log policy", () => {
  let repo: string;
  let server: DagwoodServer;
  let url: string;
  let project: TestDeployProject;

  beforeEach(async () => {
    repo = mkdtempSync(join(tmpdir(), "dagwood-deploy-privacy-"));
    server = createServer({ repository: repo, token: TOKEN, log: () => {}, logAll: true });
    url = await server.listen(0, "127.0.0.1");
    project = createDeployProject({ local: { url, kind: "dagwood" } });
  });
  afterEach(async () => {
    project.close();
    await server.close();
    rmSync(repo, { recursive: true, force: true });
  });

  it("hashes the version's tagged inputs with the project's key (made on first use), as Python's hmac does", async () => {
    writeFileSync(
      join(project.dir, "dagwood.json"),
      JSON.stringify({ privacy: { models: { m: { tagged: "hash", retentionDays: 30 } } } }),
    );
    await registerTestVersion(project, { personalData: PERSONAL });
    expect(existsSync(join(project.dir, ".dagwood", "privacy.key"))).toBe(false);
    const record = await deployVersion({ project, target: "local", name: "m", ref: 1, actor: "ana", tokens });
    expect(record.status).toBe("succeeded");
    const key = readFileSync(join(project.dir, ".dagwood", "privacy.key"), "utf8").trim();
    await inferRed(url, "q1");
    const entry = await logged(url, "q1");
    expect(entry.privacy).toEqual({ hashed: ["color"] });
    expect(entry.inputs.find((t: { name: string }) => t.name === "color").data).toEqual([
      pythonHash(key, "red"),
    ]);
    const served = JSON.parse(readFileSync(join(repo, "m", PRIVACY_FILE), "utf8"));
    expect(served).toMatchObject({
      policy: { tagged: "hash", retentionDays: 30 },
      tagged: { "1": ["color"] },
      key,
    });
    // The deployment's audit record never holds the key.
    expect(JSON.stringify(project.registry.audit({ model: "m" }))).not.toContain(key);
    expect(versionLogPrivacy(project.dir, project.registry.getVersion("m", 1)!).text).toBe(
      "personal inputs: color hashed · kept 30 days",
    );
    // The Deployments view's line, per served model: what the server applies.
    const [status] = await deploymentStatus(project, { tokens });
    expect(status!.models[0]!.logPolicy).toEqual({
      tagged: "hash",
      retentionDays: 30,
      inputs: ["color"],
      text: "personal inputs: color hashed · kept 30 days",
      source: "server",
    });
    // dagwood.json says clear now: the server still hashes until the next deploy, and the view says both.
    writeFileSync(
      join(project.dir, "dagwood.json"),
      JSON.stringify({ privacy: { models: { m: { tagged: "clear" } } } }),
    );
    const [pending] = await deploymentStatus(project, { tokens });
    expect(pending!.models[0]!.logPolicy).toMatchObject({
      tagged: "hash",
      text: "personal inputs: color hashed · kept 30 days",
      pending: "personal inputs: color logged IN CLEAR · kept until the log's size budget deletes them",
    });
    await registerTestVersion(project, { personalData: PERSONAL, shift: 1 });
    await deployVersion({ project, target: "local", name: "m", ref: 2, actor: "ana", tokens });
    const [clear] = await deploymentStatus(project, { tokens });
    expect(clear!.models[0]!.serving).toBe(2);
    expect(clear!.models[0]!.logPolicy).toEqual({
      tagged: "clear",
      inputs: ["color"],
      text: "personal inputs: color logged IN CLEAR · kept until the log's size budget deletes them",
      source: "server",
    });
    await inferRed(url, "q2");
    expect((await logged(url, "q2")).inputs.find((t: { name: string }) => t.name === "color").data).toEqual([
      "red",
    ]);
  });

  it("sends no key for a version without tagged inputs, and drops under a drop policy", async () => {
    writeFileSync(
      join(project.dir, "dagwood.json"),
      JSON.stringify({ privacy: { inferenceLog: { tagged: "drop" } } }),
    );
    await registerTestVersion(project);
    await deployVersion({ project, target: "local", name: "m", ref: 1, actor: "ana", tokens });
    expect(existsSync(join(project.dir, ".dagwood", "privacy.key"))).toBe(false);
    expect(JSON.parse(readFileSync(join(repo, "m", PRIVACY_FILE), "utf8")).key).toBeUndefined();
    await inferRed(url, "plain");
    expect(
      (await logged(url, "plain")).inputs.find((t: { name: string }) => t.name === "color").data,
    ).toEqual(["red"]);
    expect(versionLogPrivacy(project.dir, project.registry.getVersion("m", 1)!).text).toBe(
      "no personal inputs · kept until the log's size budget deletes them",
    );

    await registerTestVersion(project, { personalData: PERSONAL, shift: 1 });
    await deployVersion({ project, target: "local", name: "m", ref: 2, actor: "ana", tokens });
    await inferRed(url, "dropped");
    const entry = await logged(url, "dropped");
    expect(entry.version).toBe(2);
    expect(entry.inputs.map((t: { name: string }) => t.name)).toEqual(["x"]);
    expect(entry.privacy).toEqual({ dropped: ["color"] });

    // A later version whose lineage tags nothing: the server still drops color (an earlier version
    // tagged it, and every version takes the same requests), and the view promises no change.
    await registerTestVersion(project, { shift: 2 });
    await deployVersion({ project, target: "local", name: "m", ref: 3, actor: "ana", tokens });
    await inferRed(url, "later");
    const later = await logged(url, "later");
    expect(later.version).toBe(3);
    expect(later.privacy).toEqual({ dropped: ["color"] });
    const [status] = await deploymentStatus(project, { tokens });
    expect(status!.models[0]!.logPolicy).toEqual({
      tagged: "drop",
      inputs: ["color"],
      text: "personal inputs: color dropped · kept until the log's size budget deletes them",
      source: "server",
    });
  });

  it("refuses to deploy with a malformed DAGWOOD_PRIVACY_KEY, saying how to make one", async () => {
    await registerTestVersion(project, { personalData: PERSONAL });
    const saved = process.env.DAGWOOD_PRIVACY_KEY;
    process.env.DAGWOOD_PRIVACY_KEY = "abc";
    try {
      await expect(
        deployVersion({ project, target: "local", name: "m", ref: 1, actor: "ana", tokens }),
      ).rejects.toThrow(/DAGWOOD_PRIVACY_KEY must be 64 hex digits.*openssl rand -hex 32/);
    } finally {
      if (saved === undefined) delete process.env.DAGWOOD_PRIVACY_KEY;
      else process.env.DAGWOOD_PRIVACY_KEY = saved;
    }
    expect(existsSync(join(repo, "m", "1", "model.onnx"))).toBe(false);
  });
});

describe("a server that echoes the load request in its error", () => {
  it("does not get the project's key into the deploy's error", async () => {
    const project = createDeployProject({ echo: { url: "http://127.0.0.1:9", kind: "dagwood" } });
    try {
      writeFileSync(
        join(project.dir, "dagwood.json"),
        JSON.stringify({ privacy: { inferenceLog: { tagged: "hash" } } }),
      );
      const { version } = await registerTestVersion(project, { personalData: PERSONAL });
      // A server that is not Dagwood's, answering every request with the request's body.
      const echo = (async (_url: string, init?: RequestInit) =>
        new Response(JSON.stringify({ error: `bad request: ${String(init?.body ?? "")}` }), {
          status: 400,
        })) as typeof fetch;
      const client = new V2Client({ name: "echo", url: "http://127.0.0.1:9", token: TOKEN }, { fetch: echo });
      const error = (await upload(client, project, version, "dagwood").catch((e: unknown) => e)) as Error;
      const key = readFileSync(join(project.dir, ".dagwood", "privacy.key"), "utf8").trim();
      expect(error.message).toMatch(/failed with 400: bad request: .*\[redacted\]/);
      expect(error.message).not.toContain(key);
      expect(error.message).not.toContain(TOKEN);
    } finally {
      project.close();
    }
  });
});
