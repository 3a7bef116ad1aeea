/**
 * `dagwood monitor drift --model NAME@ALIAS` and `--log TARGET:MODEL`: a
 * project whose pipeline registered a penguins classifier, its stored
 * reference profile as the reference, and the traffic a real `dagwood serve`
 * on loopback logged (read from the repository folder of the built-in
 * `local` target, and over HTTP from a target of dagwood.json).
 */
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type DagwoodServer } from "../serving/server";
import { SqliteMetadataStore } from "../store/metadata";
import { referenceProfilePath } from "../store/registry";
import type { DriftReport } from "../values/drift";
import { runDagwood as dagwood, ROOT } from "./testing";

const PENGUINS = join(ROOT, "resources", "examples", "starter", "data", "penguins.csv");
const TOKEN = "monitor-token";

const PIPELINE = {
  format: "dagwood.pipeline/1",
  name: "penguins-small",
  nodes: [
    { id: "penguins", block: "ingest.file", params: { path: "data/penguins.csv" } },
    { id: "split", block: "split", params: { strategy: "stratified", column: "species", seed: 3 } },
    { id: "tree", block: "train.tree", params: { target: "species", maxDepth: 4 } },
    { id: "register", block: "register", params: { name: "penguins", alias: "champion" } },
  ],
  edges: [
    { from: "penguins.out", to: "split.in" },
    { from: "split.train", to: "tree.train" },
    { from: "tree.model", to: "register.model" },
  ],
};

/** penguins.csv's rows as records (empty: null), numbers as numbers. */
function penguinRows(): Record<string, string | number | null>[] {
  const [head, ...lines] = readFileSync(PENGUINS, "utf8").trim().split("\n");
  const names = head!.split(",");
  return lines.map((line) =>
    Object.fromEntries(
      line.split(",").map((v, i) => {
        const name = names[i]!;
        if (v === "") return [name, null];
        return [name, name.endsWith("_mm") || name.endsWith("_g") ? Number(v) : v];
      }),
    ),
  );
}

function toCsv(rows: Record<string, string | number | null>[]): string {
  const names = Object.keys(rows[0]!);
  return `${names.join(",")}\n${rows.map((r) => names.map((n) => r[n] ?? "").join(",")).join("\n")}\n`;
}

describe("dagwood monitor drift with a registered model and a serving log", () => {
  let dir: string;
  let shifted: string;
  let server: DagwoodServer;
  let url: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-monitor-model-"));
    mkdirSync(join(dir, "data"));
    copyFileSync(PENGUINS, join(dir, "data", "penguins.csv"));
    writeFileSync(join(dir, "dagwood.json"), JSON.stringify({ name: "monitor", targets: {} }));
    writeFileSync(join(dir, "penguins-small.dag.json"), JSON.stringify(PIPELINE));
    const run = await dagwood("run", join(dir, "penguins-small.dag.json"), "--project", dir, "--no-attach");
    expect(run.code, run.stderr + run.stdout).toBe(0);
    // Body mass scaled by 1.5: the one shifted input.
    const rows = penguinRows().map(
      (r): Record<string, string | number | null> => ({
        ...r,
        body_mass_g: r.body_mass_g === null ? null : Number(r.body_mass_g) * 1.5,
      }),
    );
    shifted = join(dir, "shifted.csv");
    writeFileSync(shifted, toCsv(rows));

    // The registered version served by a real dagwood serve on loopback, as the built-in local target
    // would: its repository is the project's .dagwood/serving folder.
    server = createServer({
      repository: join(dir, ".dagwood", "serving"),
      token: TOKEN,
      log: () => {},
      logAll: true,
    });
    url = await server.listen(0);
    const store = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"), { projectDir: dir });
    const v = store.registry.getVersion("penguins", "champion")!;
    store.close();
    const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
    const load = await fetch(`${url}/v2/repository/models/penguins/load`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({
        parameters: { "file:1/model.onnx": readFileSync(join(dir, v.onnxPath)).toString("base64") },
      }),
    });
    expect(load.status, await load.text()).toBe(200);
    // Shifted traffic: every complete row, 20 rows a request.
    const inputs = v.signature!.inputs;
    const complete = rows.filter((r) => inputs.every((t) => r[t.name] !== null));
    for (let start = 0; start < complete.length; start += 20) {
      const batch = complete.slice(start, start + 20);
      const res = await fetch(`${url}/v2/models/penguins/infer`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({
          inputs: inputs.map((t) => ({
            name: t.name,
            datatype: t.dtype,
            shape: [batch.length, 1],
            data: batch.map((r) => r[t.name]),
          })),
        }),
      });
      expect(res.status, await res.text()).toBe(200);
    }
    // Reading the log makes the server write what it holds to its files (it flushes once a second).
    const flushed = await fetch(`${url}/v2/logs/models/penguins?since=0`, { headers: auth });
    expect(flushed.status).toBe(200);
  }, 180_000);

  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const drifted = (r: DriftReport) => r.columns.filter((c) => c.drifted).map((c) => c.column);

  it("finds the shifted column against the version's profile, and none with the data it was trained on", async () => {
    const shift = await dagwood(
      "monitor",
      "drift",
      "--model",
      "penguins@champion",
      "--current",
      shifted,
      "--project",
      dir,
      "--json",
    );
    expect(shift.stderr).toBe("");
    const report = JSON.parse(shift.stdout) as DriftReport;
    expect(drifted(report)).toEqual(["body_mass_g"]);
    // The file has the target (tested as one) but no predictions: the profile's prediction column is left out.
    expect(report.columns.map((c) => [c.column, c.role])).toContainEqual(["species", "target"]);
    expect(report.columns.map((c) => c.column)).not.toContain("prediction");
    expect(shift.code).toBe(report.datasetDrift ? 1 : 0);

    const same = await dagwood(
      "monitor",
      "drift",
      "--model",
      "penguins@champion",
      "--current",
      PENGUINS,
      "--project",
      dir,
    );
    expect(same.stderr).toBe("");
    expect(same.code).toBe(0);
    expect(same.stdout).toMatch(/penguins@champion \(v1's reference profile\)/);
    expect(same.stdout).toMatch(/No dataset drift: 0 of 7 columns drifted/);
  });

  it("reads the current data from the built-in local target's log, predictions included", async () => {
    const r = await dagwood(
      "monitor",
      "drift",
      "--model",
      "penguins@champion",
      "--log",
      "local:penguins",
      "--since",
      "1h",
      "--project",
      dir,
      "--json",
    );
    expect(r.stderr).toBe("");
    const report = JSON.parse(r.stdout) as DriftReport;
    expect(report.rows.current).toBe(
      penguinRows().filter((x) => x.sex !== null && x.body_mass_g !== null).length,
    );
    expect(drifted(report)).toContain("body_mass_g");
    for (const c of ["island", "beak_length_mm", "beak_depth_mm", "flipper_length_mm", "sex"])
      expect(drifted(report)).not.toContain(c);
    // The served label is tested against the profile's predictions on the training rows: prediction drift.
    const prediction = report.columns.find((c) => c.role === "prediction")!;
    expect(prediction).toMatchObject({ column: "label", tested: true, test: "chisquare" });
    expect(prediction.rows).toEqual({ reference: 275, current: report.rows.current });
  });

  it("reads it over HTTP from a target of dagwood.json with its token", async () => {
    writeFileSync(
      join(dir, "dagwood.json"),
      JSON.stringify({
        name: "monitor",
        targets: { loop: { url, kind: "dagwood" }, gpu: { url: "http://127.0.0.1:9", kind: "triton" } },
      }),
    );
    process.env.DAGWOOD_TOKEN_LOOP = TOKEN;
    try {
      const http = await dagwood(
        "monitor",
        "drift",
        "--model",
        "penguins@1",
        "--log",
        "loop:penguins",
        "--project",
        dir,
        "--json",
      );
      const local = await dagwood(
        "monitor",
        "drift",
        "--model",
        "penguins@1",
        "--log",
        "local:penguins",
        "--project",
        dir,
        "--json",
      );
      expect(http.stderr).toBe("");
      const [a, b] = [http, local].map((x) => JSON.parse(x.stdout) as DriftReport);
      expect(a!.columns).toEqual(b!.columns);
      const triton = await dagwood(
        "monitor",
        "drift",
        "--model",
        "penguins@1",
        "--log",
        "gpu:penguins",
        "--project",
        dir,
      );
      expect(triton.code).toBe(2);
      expect(triton.stderr).toMatch(
        /target "gpu" is a Triton server, which keeps no inference log .*--current FILE/,
      );
      const unknown = await dagwood(
        "monitor",
        "drift",
        "--model",
        "penguins@1",
        "--log",
        "nope:penguins",
        "--project",
        dir,
      );
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/No deploy target "nope" in dagwood.json \(its targets: gpu, loop\)/);
      const since = await dagwood(
        "monitor",
        "drift",
        "--model",
        "penguins@1",
        "--log",
        "loop:penguins",
        "--since",
        "2099-01-01T00:00:00Z",
        "--project",
        dir,
      );
      expect(since.code).toBe(2);
      expect(since.stderr).toMatch(/the log holds no requests since 2099/);
    } finally {
      delete process.env.DAGWOOD_TOKEN_LOOP;
      writeFileSync(join(dir, "dagwood.json"), JSON.stringify({ name: "monitor", targets: {} }));
    }
  });

  it("says what is wrong: unknown model or alias, a version without a profile, both references", async () => {
    const unknown = await dagwood(
      "monitor",
      "drift",
      "--model",
      "walrus@champion",
      "--current",
      PENGUINS,
      "--project",
      dir,
    );
    expect([unknown.code, unknown.stderr]).toEqual([
      2,
      '--model walrus@champion: No registered model "walrus". `dagwood models list` shows them.\n',
    ]);
    const alias = await dagwood(
      "monitor",
      "drift",
      "--model",
      "penguins@prod",
      "--current",
      PENGUINS,
      "--project",
      dir,
    );
    expect(alias.code).toBe(2);
    expect(alias.stderr).toMatch(/Model "penguins" has no alias "prod" \(its aliases: champion\)/);
    const both = await dagwood(
      "monitor",
      "drift",
      "--model",
      "penguins@champion",
      "--reference",
      PENGUINS,
      "--current",
      PENGUINS,
      "--project",
      dir,
    );
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/one reference: --reference FILE or --model NAME@ALIAS, not both/);
    const sinceOnly = await dagwood(
      "monitor",
      "drift",
      "--reference",
      PENGUINS,
      "--current",
      PENGUINS,
      "--since",
      "1h",
    );
    expect(sinceOnly.code).toBe(2);
    expect(sinceOnly.stderr).toMatch(/--since goes with --log/);

    // A version registered before profiles were kept: its folder has no profile file.
    const store = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"), { projectDir: dir });
    const file = referenceProfilePath(dir, store.registry.getVersion("penguins", 1)!)!;
    store.close();
    const saved = readFileSync(file);
    unlinkSync(file);
    try {
      const none = await dagwood(
        "monitor",
        "drift",
        "--model",
        "penguins@champion",
        "--current",
        PENGUINS,
        "--project",
        dir,
      );
      expect(none.code).toBe(2);
      expect(none.stderr).toMatch(
        /--model penguins@champion: penguins v1 has no reference profile: it was registered before Dagwood kept one.*Run the pipeline that registered it again with --no-cache/,
      );
    } finally {
      writeFileSync(file, saved);
    }
  });
});
