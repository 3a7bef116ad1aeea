/**
 * A monitor over a real `dagwood serve` on loopback: a trained model served
 * twice (as `calm` and `shifted`), traffic sent over HTTP, the log read back
 * from the server with its token through a dagwood.json target, against the
 * registered version's reference profile (its training data).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readProjectSettings } from "../project/project";
import { createServer, type DagwoodServer } from "../serving/server";
import { testServers } from "../serving/test-servers";
import { trainTestModel } from "../serving/testing";
import { createTempStore } from "../store/metadata";
import { checkMonitor } from "./monitors";
import { testVersionInput, writeTestModelFiles, writeTestReferenceProfile } from "./testing";

const TOKEN = "monitor-token";
const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
const COLORS = ["red", "green", "blue"];
const ROWS = 300;
const { tempDir } = testServers("dagwood-monitor-serve-");
let server: DagwoodServer;
let url: string;
let temp: ReturnType<typeof createTempStore>;
let xType: string;
const savedToken = process.env.DAGWOOD_TOKEN_SRV;

/** The training data of trainTestModel (app/serving/testing.ts): x spread over 0…10, colors in turn. */
const trainX = (i: number) => ((i * 7919) % 1000) / 100;

async function infer(model: string, xs: number[], colors: string[]) {
  const res = await fetch(`${url}/v2/models/${model}/infer`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({
      inputs: [
        { name: "x", datatype: xType, shape: [xs.length, 1], data: xs },
        { name: "color", datatype: "BYTES", shape: [colors.length, 1], data: colors },
      ],
    }),
  });
  expect(res.status, await res.clone().text()).toBe(200);
  await res.arrayBuffer();
}

beforeAll(async () => {
  const trained = await trainTestModel({ task: "classification" });
  xType = trained.model.signature.inputs.find((i) => i.name === "x")!.dtype;
  server = createServer({ repository: tempDir(), token: TOKEN, log: () => {}, logAll: true });
  url = await server.listen(0);
  for (const name of ["calm", "shifted"]) {
    const load = await fetch(`${url}/v2/repository/models/${name}/load`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({
        parameters: { "file:1/model.onnx": Buffer.from(trained.bytes).toString("base64") },
      }),
    });
    expect(load.status).toBe(200);
  }
  // The registered version: its reference profile is the training data's x and color.
  temp = createTempStore();
  mkdirSync(join(temp.dir, "out"));
  await writeTestReferenceProfile(temp.dir, join(temp.dir, "out"), ROWS);
  const files = writeTestModelFiles(join(temp.dir, "out"), { classes: ["low", "high"] }, trained.bytes);
  temp.store.registry.registerVersion(testVersionInput({ files, metrics: { accuracy: 0.95 } }));
  const monitor = (deployedModel: string) => ({
    model: "m@champion",
    target: "srv",
    deployedModel,
    window: "1d",
    minRows: 30,
    action: "alert",
  });
  writeFileSync(
    join(temp.dir, "dagwood.json"),
    JSON.stringify({
      targets: { srv: { url } },
      monitors: { calm: monitor("calm"), shifted: monitor("shifted") },
    }),
  );
  process.env.DAGWOOD_TOKEN_SRV = TOKEN;
  // 100 rows each, in batches of 10: as trained, and with x moved up by 20.
  for (let b = 0; b < 10; b++) {
    const idx = Array.from({ length: 10 }, (_, k) => b * 10 + k);
    const colors = idx.map((i) => COLORS[i % 3]!);
    await infer(
      "calm",
      idx.map((i) => trainX(i * 3)),
      colors,
    );
    await infer(
      "shifted",
      idx.map((i) => trainX(i * 3) + 20),
      colors,
    );
  }
}, 60_000);

afterAll(async () => {
  if (savedToken === undefined) delete process.env.DAGWOOD_TOKEN_SRV;
  else process.env.DAGWOOD_TOKEN_SRV = savedToken;
  await server?.close();
  temp?.cleanup();
});

describe("a monitor over dagwood serve", () => {
  // Checked just after today's 1-day window ends, so the traffic sent now is in the latest complete window.
  const DAY = 86400e3;
  const check = (name: string) =>
    checkMonitor({ dir: temp.dir, metadata: temp.store, settings: readProjectSettings(temp.dir) }, name, {
      now: Math.floor(Date.now() / DAY) * DAY + DAY + 1,
    });

  it("traffic as trained does not breach; shifted traffic does and is alerted once", async () => {
    const calm = await check("calm");
    expect([calm.rows, calm.tested, calm.breached]).toEqual([100, true, false]);
    expect(calm.summary.driftedColumns).toBe(0);

    const shifted = await check("shifted");
    expect([shifted.rows, shifted.tested, shifted.breached, shifted.alerted]).toEqual([
      100,
      true,
      true,
      true,
    ]);
    // x moved out of the training range; the colors did not change.
    expect(shifted.reasons).toEqual(["dataset drift: 1 of 2 columns (50 %) ≥ 50 %"]);
    const audit = temp.store.registry.audit({ model: "m" }).filter((e) => e.action === "monitor.alert");
    expect(audit.map((e) => [e.details.monitor, e.version])).toEqual([["shifted", 1]]);
    expect((await check("shifted")).alreadyAlerted).toBe(true);
  });
});
