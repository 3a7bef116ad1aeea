/**
 * A deploy's own parity check is not traffic: its requests (to the version's
 * URL, with the registry's held-out rows) carry ids starting with
 * CHECK_REQUEST_PREFIX; the server logs them, and the monitoring's reader
 * leaves them out, while a user's own requests to a version's URL stay in.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployVersion } from "../deploy/deploy";
import { createDeployProject, registerTestVersion, type TestDeployProject } from "../deploy/testing";
import { createServer, type DagwoodServer } from "../serving/server";
import { testServers } from "../serving/test-servers";
import { CHECK_REQUEST_PREFIX } from "../values/deployment";
import { readInferenceLog } from "./inference-log";

const TOKEN = "check-token";
const { tempDir } = testServers("dagwood-log-checks-");
let server: DagwoodServer;
let url: string;
let project: TestDeployProject;
const tokens = { env: { DAGWOOD_TOKEN_SRV: TOKEN }, platform: "aix" as const };

beforeAll(async () => {
  server = createServer({ repository: tempDir(), token: TOKEN, log: () => {}, logAll: true });
  url = await server.listen(0);
  project = createDeployProject({ srv: { url, kind: "dagwood" } });
  await registerTestVersion(project);
});

afterAll(async () => {
  await server.close();
  project.close();
});

describe("the inference log and a deploy's parity check", () => {
  it("logs the check under its marked ids, and the monitoring reads only the user's requests", async () => {
    const record = await deployVersion({ project, target: "srv", name: "m", ref: 1, actor: null, tokens });
    expect(record.status).toBe("succeeded");
    const checked = record.parity?.rows ?? 0;
    expect(checked).toBeGreaterThan(0);

    // A user's own request to the version's URL, one row.
    const xType = project.registry.getVersion("m", 1)!.signature.inputs.find((i) => i.name === "x")!.dtype;
    const res = await fetch(`${url}/v2/models/m/versions/1/infer`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({
        id: "user-1",
        inputs: [
          { name: "x", datatype: xType, shape: [1, 1], data: [2] },
          { name: "color", datatype: "BYTES", shape: [1, 1], data: ["green"] },
        ],
      }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    await res.arrayBuffer();

    // The server logged both: the check's entry under a marked id, and the user's.
    const raw = await fetch(`${url}/v2/logs/models/m?limit=100`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const all = (await raw.json()) as { entries: { requestId: string; role: string }[] };
    const marked = all.entries.filter((e) => e.requestId.startsWith(CHECK_REQUEST_PREFIX));
    expect(marked.length).toBeGreaterThan(0);
    expect(marked.every((e) => e.role === "direct")).toBe(true);
    expect(all.entries.some((e) => e.requestId === "user-1")).toBe(true);

    // The monitoring's reader: the user's request only.
    const read = await readInferenceLog({ url, model: "m", token: TOKEN }, { since: "1h" });
    expect(read.entries.map((e) => e.requestId)).toEqual(["user-1"]);
  });
});
