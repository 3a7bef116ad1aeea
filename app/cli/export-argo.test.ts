import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { main } from "./main";
import { captureIo, ROOT } from "./testing";

const PENGUINS = join(ROOT, "resources", "examples", "starter", "penguins.dag.json");
const dir = mkdtempSync(join(tmpdir(), "dagwood-export-argo-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...args: string[]) {
  const io = captureIo();
  const code = await main(["export", "argo", ...args], io);
  return { code, out: io.out(), err: io.err() };
}

describe("dagwood export argo", () => {
  it("writes YAML or JSON by the file's extension, a CronWorkflow with --schedule", async () => {
    const yamlFile = join(dir, "wf.yaml");
    const r = await cli(PENGUINS, "--image", "registry.example.com/starter:1", "--out", yamlFile);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/an Argo Workflow of \d+ steps in registry\.example\.com\/starter:1/);
    expect(r.out).toContain(`argo submit ${yamlFile}`);
    expect(r.out).not.toContain("Secrets");
    const text = readFileSync(yamlFile, "utf8");
    expect(text.startsWith("# Argo Workflows Workflow, exported by Dagwood")).toBe(true);
    expect(parse(text).kind).toBe("Workflow");

    // A pipeline that registers a model: the export says what a cluster run does not keep yet.
    const model = await cli(
      join(ROOT, "resources", "examples", "starter", "penguins-model.dag.json"),
      "--image",
      "x:1",
      "--out",
      join(dir, "model.yaml"),
    );
    expect(model.code).toBe(0);
    expect(model.err).toMatch(/^Note: gate \(gate\): its champion is looked up/m);
    expect(model.err).toMatch(/^Note: register \(register\): .*team store/m);

    const jsonFile = join(dir, "cron.json");
    const c = await cli(
      PENGUINS,
      "--image",
      "x:1",
      "--out",
      jsonFile,
      "--schedule",
      "0 2 * * *",
      "--artifacts",
      "s3://bkt/p",
    );
    expect(c.code).toBe(0);
    expect(c.out).toContain("argo cron create");
    const doc = JSON.parse(readFileSync(jsonFile, "utf8"));
    expect(doc.kind).toBe("CronWorkflow");
    expect(doc.spec.workflowSpec.templates[1].archiveLocation.s3).toMatchObject({
      bucket: "bkt",
      endpoint: "s3.amazonaws.com",
      useSDKCreds: true,
    });
  });

  it("with a team store: an exit handler, and credentials as Secret references (--store-secret, --artifacts-secret none)", async () => {
    const team = join(dir, "team");
    mkdirSync(team);
    const pipeline = join(team, "penguins-model.dag.json");
    copyFileSync(join(ROOT, "resources", "examples", "starter", "penguins-model.dag.json"), pipeline);
    const settings = {
      store: { kind: "postgres", url: "postgres://analyst@db.example.com/ml" },
      artifacts: { kind: "s3", bucket: "ml-artifacts" },
    };
    writeFileSync(join(team, "dagwood.json"), JSON.stringify(settings));
    const out = join(dir, "team.yaml");
    const r = await cli(
      pipeline,
      "--image",
      "x:1",
      "--out",
      out,
      "--store-secret",
      "ml-store",
      "--artifacts-secret",
      "none",
    );
    expect(r.code, r.err).toBe(0);
    // The team store keeps registrations and champions, S3 the version's files: nothing to note.
    expect(r.err).toBe("");
    const nodes = (JSON.parse(readFileSync(pipeline, "utf8")) as { nodes: unknown[] }).nodes.length;
    expect(r.out).toContain(`an Argo Workflow of ${nodes} steps`);
    // It names the Secret the pods read (the artifacts' is "none"), with the command that makes it.
    expect(r.out).toContain(
      "Its pods read these Secrets of the namespace; create them first:\n  kubectl create secret generic ml-store --from-file=password=./password\n",
    );
    const doc = parse(readFileSync(out, "utf8"));
    expect(doc.spec.onExit).toBe("dagwood-finish-run");
    const env = doc.spec.templates.find((t: { name: string }) => t.name === "dagwood-finish-run").container
      .env;
    expect(env).toEqual([
      { name: "ARGO_WORKFLOW_NAME", value: "{{workflow.name}}" },
      { name: "ARGO_WORKFLOW_UID", value: "{{workflow.uid}}" },
      { name: "DAGWOOD_STORE_PASSWORD", valueFrom: { secretKeyRef: { name: "ml-store", key: "password" } } },
    ]);
    // Without S3 artifacts, the note says where a version's files stay.
    writeFileSync(join(team, "dagwood.json"), JSON.stringify({ store: settings.store }));
    const noArtifacts = await cli(pipeline, "--image", "x:1", "--out", out);
    expect(noArtifacts.code).toBe(0);
    expect(noArtifacts.err).toMatch(
      /^Note: register \(register\): the version is recorded in the team store, but its files stay in the pod/m,
    );
    expect(
      parse(readFileSync(out, "utf8")).spec.templates[1].container.env[3].valueFrom.secretKeyRef.name,
    ).toBe("dagwood-store");
    // Invalid settings: the export refuses, saying what is wrong.
    writeFileSync(
      join(team, "dagwood.json"),
      JSON.stringify({ store: { kind: "postgres", url: "postgres://analyst:hunter2@db.example.com/ml" } }),
    );
    const invalid = await cli(pipeline, "--image", "x:1", "--out", out);
    expect(invalid.code).toBe(2);
    expect(invalid.err).toMatch(/the URL carries a password: .*DAGWOOD_STORE_PASSWORD/);
    expect(invalid.err).not.toContain("hunter2");
  });

  it("--help gives the usage with what each option does", async () => {
    const io = captureIo();
    expect(await main(["export", "argo", "--help"], io)).toBe(0);
    expect(io.out()).toMatch(
      /^Usage:\n {2}dagwood export argo <pipeline\.dag\.json> --image IMAGE --out FILE/,
    );
    expect(io.out()).toContain("argo submit -p name=value");
    // The general usage lists it too, beside the other exports.
    const all = captureIo();
    await main(["help"], all);
    expect(all.out()).toContain("dagwood export argo <pipeline.dag.json>");
  });

  it("exits 2 with a message for missing or bad arguments and for an invalid pipeline", async () => {
    const out = join(dir, "bad.yaml");
    const cases: [string[], RegExp][] = [
      [[PENGUINS, "--out", out], /needs --image IMAGE/],
      [[PENGUINS, "--image", "x:1"], /needs --out FILE/],
      [
        [PENGUINS, "--image", "x:1", "--out", join(dir, "wf.txt")],
        /--out must end in \.yaml, \.yml or \.json/,
      ],
      [[PENGUINS, "--image", "x:1", "--out", out, "--s3-secret", "s"], /go with --artifacts/],
      [
        [PENGUINS, "--image", "x:1", "--out", out, "--artifacts", "gs://b/p"],
        /--artifacts must be s3:\/\/BUCKET\/PREFIX/,
      ],
      [
        [PENGUINS, "--image", "x:1", "--out", out, "--schedule", "daily"],
        /--schedule must be a cron expression/,
      ],
      [[PENGUINS, "--image", "x:1", "--out", out, "--timezone", "UTC"], /--timezone goes with --schedule/],
      [[PENGUINS, "--image", "x:1", "--out", out, "--retries=-1"], /--retries takes a whole number/],
      [[PENGUINS, "--image", "x:1", "--out", out, "--retries", "11"], /--retries takes a whole number/],
      [
        [PENGUINS, "--image", "x:1", "--out", out, "--project-dir", "project"],
        /--project-dir is a full path/,
      ],
      [
        [PENGUINS, "--image", "x:1", "--out", join(dir, "no", "such", "wf.yaml")],
        /--out: cannot write .*ENOENT/,
      ],
      [[join(dir, "missing.dag.json"), "--image", "x:1", "--out", out], /No such file/],
      [
        [PENGUINS, "--image", "x:1", "--out", out, "--store-secret", "ml-store"],
        /--store-secret is for a project whose dagwood\.json has "store": \{"kind": "postgres", …\}; .*'s store is sqlite/,
      ],
      [
        [PENGUINS, "--image", "x:1", "--out", out, "--artifacts-secret", "none"],
        /--artifacts-secret is for a project whose dagwood\.json has "artifacts": \{"kind": "s3", …\}/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await cli(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err, args.join(" ")).toMatch(message);
    }
    const invalid = join(dir, "invalid.dag.json");
    const pipeline = JSON.parse(readFileSync(PENGUINS, "utf8"));
    pipeline.edges.push({ from: "nowhere.out", to: "split.in" });
    writeFileSync(invalid, JSON.stringify(pipeline));
    const r = await cli(invalid, "--image", "x:1", "--out", out);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/is not a valid pipeline:\n.*nowhere/);
  });
});
