import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeploymentRecord } from "../deploy/deploy";
import { inferenceServiceYaml, STORAGE_PLACEHOLDER } from "../deploy/export";
import { createDeployProject, registerTestVersion, type TestDeployProject } from "../deploy/testing";
import type { ColumnTable } from "../ml/dataset";
import { type DagwoodModel, predictTable } from "../ml/model";
import { configPbtxt } from "../serving/repository";
import { createServer, type DagwoodServer } from "../serving/server";
import { main } from "./main";
import { captureIo, runDagwood as dagwood } from "./testing";

const TOKEN = "cli-token";

async function readRows(file: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(`SELECT * FROM '${file}'`);
    return reader.getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

async function writeParquet(csv: string, parquet: string): Promise<void> {
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  await connection.run(`COPY (SELECT * FROM read_csv_auto('${csv}')) TO '${parquet}' (FORMAT parquet)`);
  connection.closeSync();
  instance.closeSync();
}

/** 2,500 rows of the test models' columns, with an id, a missing x and a missing color. */
function inputCsv(): { text: string; table: ColumnTable } {
  const colors = ["red", "green", "blue"];
  const lines = ["id,x,color"];
  const xs: number[] = [];
  const codes: number[] = [];
  for (let i = 0; i < 2500; i++) {
    const x = i === 7 ? Number.NaN : ((i * 37) % 1000) / 100;
    const c = i === 11 ? -1 : i % 3;
    xs.push(x);
    codes.push(c);
    lines.push(`${i},${Number.isNaN(x) ? "" : x},${c < 0 ? "" : colors[c]}`);
  }
  return {
    text: `${lines.join("\n")}\n`,
    table: {
      rows: xs.length,
      columns: [
        { name: "x", kind: "numeric", type: "DOUBLE", values: Float64Array.from(xs, (v) => Math.fround(v)) },
        {
          name: "color",
          kind: "categorical",
          type: "VARCHAR",
          codes: Int32Array.from(codes),
          dictionary: colors,
        },
      ],
    },
  };
}

describe("dagwood predict, export, deploy", { timeout: 60_000 }, () => {
  let project: TestDeployProject;
  let model: DagwoodModel;
  let regression: DagwoodModel;
  let repo: string;
  let server: DagwoodServer;
  let url: string;
  let work: string;
  const { text, table } = inputCsv();

  beforeAll(async () => {
    repo = mkdtempSync(join(tmpdir(), "dagwood-cli-repo-"));
    server = createServer({ repository: repo, token: TOKEN, log: () => {} });
    url = await server.listen(0, "127.0.0.1");
    project = createDeployProject();
    writeFileSync(join(project.dir, "dagwood.json"), JSON.stringify({ targets: { local: { url } } }));
    model = (await registerTestVersion(project)).model;
    await registerTestVersion(project, { shift: 1 });
    regression = (await registerTestVersion(project, { name: "reg", task: "regression" })).model;
    project.registry.setAlias("m", "champion", 1, null);
    work = mkdtempSync(join(tmpdir(), "dagwood-cli-files-"));
    writeFileSync(join(work, "in.csv"), text);
    await writeParquet(join(work, "in.csv"), join(work, "in.parquet"));
    process.env.DAGWOOD_TOKEN_LOCAL = TOKEN;
  });
  afterAll(async () => {
    delete process.env.DAGWOOD_TOKEN_LOCAL;
    project.close();
    await server.close();
    rmSync(repo, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it("predict scores a CSV with the version's ONNX file: input columns, label, probabilities", async () => {
    const out = join(work, "out.csv");
    const r = await dagwood(
      "predict",
      "--project",
      project.dir,
      "--model",
      "m@champion",
      "--input",
      join(work, "in.csv"),
      "--output",
      out,
      "--batch",
      "1000",
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Scored 2,500 rows with m v1 in .*out\.csv/);
    // Not a terminal: a line at every tenth, not a redrawn bar.
    expect(r.stderr).toMatch(/scored 1,000 \/ 2,500 rows \(40%\)\n/);
    expect(r.stderr).not.toContain("\r");
    const rows = await readRows(out);
    expect(rows).toHaveLength(2500);
    expect(Object.keys(rows[0]!)).toEqual([
      "id",
      "x",
      "color",
      "label",
      "probability_high",
      "probability_low",
    ]);
    const native = predictTable(model, table);
    rows.forEach((row, i) => {
      expect(Number(row.id)).toBe(i);
      expect(row.label).toBe(native.label![i]);
      expect(row.probability_high).toBeCloseTo(native.probabilities![i * 2]!, 5);
      expect(row.probability_low).toBeCloseTo(native.probabilities![i * 2 + 1]!, 5);
    });
  });

  it("predict scores Parquet to Parquet (regression: a prediction column), with a bar on a terminal", async () => {
    const out = join(work, "out.parquet");
    const io = captureIo(true);
    const code = await main(
      [
        "predict",
        "--project",
        project.dir,
        "--model",
        "reg:1",
        "--input",
        join(work, "in.parquet"),
        "--output",
        out,
      ],
      io,
    );
    expect(code, io.err()).toBe(0);
    expect(io.err()).toMatch(/\r█+ 100% 2,500 \/ 2,500 rows\n$/);
    const rows = await readRows(out);
    expect(rows).toHaveLength(2500);
    expect(Object.keys(rows[0]!)).toEqual(["id", "x", "color", "prediction"]);
    const native = predictTable(regression, table);
    rows.forEach((row, i) => {
      expect(row.prediction as number).toBeCloseTo(native.prediction![i]!, 4);
    });
  });

  it("predict says what is wrong: unknown model, bad file type, missing columns", async () => {
    const unknown = await dagwood(
      "predict",
      "--project",
      project.dir,
      "--model",
      "m:9",
      "--input",
      join(work, "in.csv"),
      "--output",
      join(work, "x.csv"),
    );
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/Model "m" has no version 9 \(its latest is v2\)/);
    const badType = await dagwood(
      "predict",
      "--project",
      project.dir,
      "--model",
      "m:1",
      "--input",
      join(work, "in.csv"),
      "--output",
      join(work, "x.json"),
    );
    expect(badType.code).toBe(2);
    expect(badType.stderr).toMatch(/--output .*x\.json: use a \.parquet or \.csv file/);
    writeFileSync(join(work, "narrow.csv"), "id,x\n1,2\n");
    const narrow = await dagwood(
      "predict",
      "--project",
      project.dir,
      "--model",
      "m:1",
      "--input",
      join(work, "narrow.csv"),
      "--output",
      join(work, "x.csv"),
    );
    expect(narrow.code).toBe(1);
    expect(narrow.stderr).toMatch(/lacks column\(s\) "color", which the model takes/);
  });

  it("export triton and kserve write the model repository folder (and the InferenceService)", async () => {
    const triton = join(work, "triton");
    const t = await dagwood("export", "triton", "m@champion", "--project", project.dir, "--out", triton);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toContain("m/config.pbtxt");
    const version = project.registry.getVersion("m", 1)!;
    expect(readFileSync(join(triton, "m", "1", "model.onnx"))).toEqual(
      readFileSync(join(project.dir, version.onnxPath)),
    );
    const pbtxt = readFileSync(join(triton, "m", "config.pbtxt"), "utf8");
    expect(pbtxt).toBe(
      configPbtxt(
        "m",
        {
          inputs: [
            { name: "x", datatype: "FP64", shape: [-1, 1] },
            { name: "color", datatype: "BYTES", shape: [-1, 1] },
          ],
          outputs: [
            { name: "label", datatype: "BYTES", shape: [-1] },
            { name: "probabilities", datatype: "FP64", shape: [-1, 2] },
          ],
        },
        0,
        "labels.txt",
      ),
    );
    expect(pbtxt).toContain('platform: "onnxruntime_onnx"');
    // Triton's ModelOutput.label_filename names the classifier's columns, one class per line of the file.
    expect(pbtxt).toMatch(
      /name: "probabilities"\n\s+data_type: TYPE_FP64\n\s+dims: \[ -1, 2 \]\n\s+label_filename: "labels.txt"\n/,
    );
    expect(pbtxt.match(/label_filename/g)).toHaveLength(1);
    const classes = (
      JSON.parse(readFileSync(join(project.dir, version.nativePath), "utf8")) as { classes: unknown[] }
    ).classes;
    expect(readFileSync(join(triton, "m", "labels.txt"), "utf8")).toBe(`${classes.join("\n")}\n`);
    expect(classes).toHaveLength(2);
    expect(existsSync(join(triton, "inference-service.yaml"))).toBe(false);

    const kserve = join(work, "kserve");
    const k = await dagwood("export", "kserve", "m:2", "--project", project.dir, "--out", kserve);
    expect(k.code, k.stderr).toBe(0);
    expect(existsSync(join(kserve, "m", "2", "model.onnx"))).toBe(true);
    const yaml = readFileSync(join(kserve, "inference-service.yaml"), "utf8");
    expect(yaml).toBe(inferenceServiceYaml("m", 2));
    // No YAML parser in the project: the manifest's structure, line by line.
    for (const line of [
      "apiVersion: serving.kserve.io/v1beta1",
      "kind: InferenceService",
      "  name: m-v2",
      "  predictor:",
      "    model:",
      "      modelFormat:",
      "        name: onnx",
      "      protocolVersion: v2",
      `      storageUri: "${STORAGE_PLACEHOLDER}"`,
    ]) {
      expect(yaml.split("\n")).toContain(line);
    }
    expect(yaml).not.toMatch(/\t/);

    const again = await dagwood("export", "kserve", "m:2", "--project", project.dir, "--out", kserve);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/is not empty/);
    expect((await dagwood("export", "onnx", "m:2", "--out", kserve)).code).toBe(2);
  });

  it("deploy, status and rollback against a dagwood serve", async () => {
    const first = await dagwood("deploy", "m:1", "--target", "local", "--project", project.dir, "--json");
    expect(first.code, first.stderr).toBe(0);
    const record = JSON.parse(first.stdout) as DeploymentRecord;
    expect(record).toMatchObject({
      status: "succeeded",
      version: 1,
      target: "local",
      parity: { passed: true },
    });
    expect(first.stderr).toMatch(/^upload: uploading m v1 to local/m);

    const second = await dagwood("deploy", "m:2", "--target", "local", "--project", project.dir);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(
      /^Deployed m v2 on local \(http:.*, dagwood\) in .*; parity on 9 heldout rows: max \|served − registry\| .*; v1 served before\.\n$/,
    );

    const status = await dagwood("deploy", "status", "--project", project.dir);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^local {2}http:.* {2}dagwood {2}token: env {2}ready\n/);
    expect(status.stdout).toMatch(/\nm\s+v2\s+v1 v2\s+—\s+\d+\s+\S+ ms\s+succeeded v2 /);
    const json = JSON.parse((await dagwood("deploy", "status", "--project", project.dir, "--json")).stdout);
    expect(json[0].models.find((m: { name: string }) => m.name === "m")).toMatchObject({ serving: 2 });

    const back = await dagwood(
      "deploy",
      "rollback",
      "m",
      "--target",
      "local",
      "--to",
      "1",
      "--project",
      project.dir,
    );
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toMatch(/^Rolled back m v1 on local .*; v2 served before\.\n$/);

    const unknown = await dagwood("deploy", "m:1", "--target", "prod", "--project", project.dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/No deploy target "prod" in dagwood.json \(its targets: local\)/);
    const noVersion = await dagwood("deploy", "m", "--target", "local", "--project", project.dir);
    expect(noVersion.code).toBe(2);
    expect(noVersion.stderr).toMatch(/Which version of m\?/);
  });

  it("deploy without a model version, or with an unknown subcommand, names the subcommands, canary among them", async () => {
    const subcommands = "(or a subcommand: canary promote|remove, rollback, status)";
    const bare = await dagwood("deploy");
    expect(bare.code).toBe(2);
    expect(bare.stderr.split("\n")[0]).toBe(
      `deploy needs a model version: name@alias or name:version ${subcommands}`,
    );
    // "promote" meant as `deploy canary promote`: a bare word is no model version and no subcommand.
    const unknown = await dagwood("deploy", "promote", "m", "--target", "local", "--project", project.dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.split("\n")[0]).toBe(
      `deploy takes one model version: name@alias or name:version ${subcommands}`,
    );
    const word = await dagwood("deploy", "stauts", "--project", project.dir);
    expect(word.code).toBe(2);
    expect(word.stderr.split("\n")[0]).toBe(
      `Which version of stauts? Write stauts@<alias> or stauts:<version>, e.g. stauts@champion ${subcommands}`,
    );
    const flagsOnly = await dagwood("deploy", "--json");
    expect(flagsOnly.code).toBe(2);
    expect(flagsOnly.stderr.split("\n")[0]).toBe(
      `deploy takes one model version: name@alias or name:version ${subcommands}`,
    );
  });

  it("refuses a token an HTTP header cannot carry, naming where it came from and never printing it", async () => {
    process.env.DAGWOOD_TOKEN_LOCAL = `${TOKEN}\r\n`;
    try {
      const r = await dagwood("deploy", "m:1", "--target", "local", "--project", project.dir);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(
        /The token for target "local" from the environment variable DAGWOOD_TOKEN_LOCAL contains a line break/,
      );
      expect(r.stderr).not.toContain(TOKEN);
      const status = await dagwood("deploy", "status", "--project", project.dir, "--json");
      expect(status.stdout).not.toContain(TOKEN);
      expect(JSON.parse(status.stdout)[0].health.error).toMatch(/DAGWOOD_TOKEN_LOCAL contains a line break/);
    } finally {
      process.env.DAGWOOD_TOKEN_LOCAL = TOKEN;
    }
  });

  it("status tells a refused token from an unreachable server, and never prints a URL's password or a token", async () => {
    // A server that refuses everything, echoing the Authorization header it got.
    const guard = createHttpServer((req, res) => {
      req.resume();
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: `refused ${req.headers.authorization ?? "no credentials"}` }));
    });
    await new Promise<void>((r) => guard.listen(0, "127.0.0.1", () => r()));
    const guardUrl = `http://127.0.0.1:${(guard.address() as AddressInfo).port}`;
    const closed = createHttpServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", () => r()));
    const downUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((r) => closed.close(() => r()));
    const other = createDeployProject();
    process.env.DAGWOOD_TOKEN_GUARDED = "guarded-s3cret";
    try {
      await registerTestVersion(other);
      writeFileSync(
        join(other.dir, "dagwood.json"),
        JSON.stringify({
          targets: {
            guarded: { url: guardUrl },
            down: { url: downUrl },
            creds: { url: url.replace("http://", "http://ana:hunter2@") },
          },
        }),
      );
      const status = await dagwood("deploy", "status", "--project", other.dir);
      expect(status.code, status.stderr).toBe(0);
      const line = (name: string) => status.stdout.split("\n").find((l) => l.startsWith(`${name}  `)) ?? "";
      expect(line("guarded")).toMatch(
        /^guarded {2}http:\S+ {2}dagwood {2}token: env {2}token refused: The target "guarded" refused the token \(401, from the environment variable DAGWOOD_TOKEN_GUARDED\): set DAGWOOD_TOKEN_GUARDED or the keychain entry/,
      );
      expect(line("guarded")).toContain("refused Bearer [redacted]");
      expect(line("down")).toMatch(/ {2}unreachable: Cannot reach target "down"/);
      expect(line("creds")).toContain(
        `creds  ${url}  dagwood  token: none  not contacted: The URL of target "creds"`,
      );
      expect(line("creds")).toContain("(http://***@127.0.0.1:");
      const json = await dagwood("deploy", "status", "--project", other.dir, "--json");
      const deploy = await dagwood("deploy", "m:1", "--target", "creds", "--project", other.dir);
      expect(deploy.code).toBe(2);
      expect(deploy.stderr).toMatch(/^The URL of target "creds" in dagwood.json has a user name or password/);
      const refused = await dagwood("deploy", "m:1", "--target", "guarded", "--project", other.dir);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/refused the token \(401, from the environment variable/);
      for (const shown of [status.stdout, json.stdout, deploy.stderr, refused.stderr]) {
        expect(shown).not.toContain("hunter2");
        expect(shown).not.toContain("guarded-s3cret");
      }
      expect(JSON.stringify(other.registry.audit({ limit: 100 }))).not.toMatch(/hunter2|guarded-s3cret/);
    } finally {
      delete process.env.DAGWOOD_TOKEN_GUARDED;
      other.close();
      await new Promise<void>((r) => guard.close(() => r()));
    }
  });

  it("--target local without a local in dagwood.json: the built-in target is the app's; says what to do instead", async () => {
    const bare = createDeployProject();
    try {
      await registerTestVersion(bare);
      const r = await dagwood("deploy", "m:1", "--target", "local", "--project", bare.dir);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^The target "local" is the app's built-in server: it runs inside Dagwood/);
      expect(r.stderr).toContain("dagwood serve --port 8000");
      expect(r.stderr).toContain(
        '"targets": { "local": { "url": "http://127.0.0.1:8000", "kind": "dagwood" } }',
      );
      expect(r.stderr).toContain("DAGWOOD_TOKEN_LOCAL=<token>");
      const back = await dagwood(
        "deploy",
        "rollback",
        "m",
        "--target",
        "local",
        "--to",
        "1",
        "--project",
        bare.dir,
      );
      expect(back.code).toBe(1);
      expect(back.stderr).toMatch(/app's built-in server/);
      const status = await dagwood("deploy", "status", "--project", bare.dir);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toMatch(/^local {2}built in \(app only\) /);
      expect(status.stdout).toContain("No deploy targets in dagwood.json");
      // A configured local is listed as usual, never as built in.
      expect((await dagwood("deploy", "status", "--project", project.dir)).stdout).not.toContain("built in");
    } finally {
      bare.close();
    }
  });

  it("serve prints its own usage", async () => {
    const r = await dagwood("serve", "--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: dagwood serve .*--max-load-bytes N/s);
  });
});
