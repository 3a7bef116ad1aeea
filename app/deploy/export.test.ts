import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelFeeds } from "../ml/onnx/parity";
import { exportRepository } from "./export";
import { createDeployProject, registerTestVersion, type TestDeployProject, testRows } from "./testing";

describe("dagwood export triton: the label file", { timeout: 60_000 }, () => {
  let project: TestDeployProject;
  let out: string;
  beforeAll(async () => {
    project = createDeployProject();
    out = mkdtempSync(join(tmpdir(), "dagwood-export-"));
    await registerTestVersion(project, { name: "clf" });
    await registerTestVersion(project, { name: "reg", task: "regression" });
  });
  afterAll(() => {
    project.close();
    rmSync(out, { recursive: true, force: true });
  });

  it("names the probabilities' columns in the order the exported model labels its rows", async () => {
    const dir = join(out, "clf-triton");
    const files = await exportRepository({ project, name: "clf", ref: 1, format: "triton", outDir: dir });
    expect(files).toContain("clf/labels.txt");
    const labels = readFileSync(join(dir, "clf", "labels.txt"), "utf8").split("\n");
    expect(labels.pop()).toBe("");
    // Independently of how the file was written: the exported model's own label for each row is the
    // line of the label file at the column of its highest probability (Triton's classification answer).
    const model = JSON.parse(
      readFileSync(join(project.dir, project.registry.getVersion("clf", 1)!.nativePath), "utf8"),
    );
    const session = await ort.InferenceSession.create(readFileSync(join(dir, "clf", "1", "model.onnx")));
    try {
      const rows = testRows();
      const answer = await session.run(modelFeeds(model, rows));
      const probabilities = Array.from(answer.probabilities!.data as Float64Array);
      const label = Array.from(answer.label!.data as ArrayLike<string>);
      const width = probabilities.length / rows.rows;
      expect(width).toBe(labels.length);
      const seen = new Set<string>();
      for (let r = 0; r < rows.rows; r++) {
        const row = probabilities.slice(r * width, (r + 1) * width);
        const top = labels[row.indexOf(Math.max(...row))]!;
        expect(top, `row ${r}`).toBe(label[r]);
        seen.add(top);
      }
      // The rows reach both classes, so both lines are checked.
      expect(seen.size).toBe(2);
    } finally {
      await session.release();
    }
  });

  it("names the feature service of a version registered with one in config.pbtxt's parameters", async () => {
    await registerTestVersion(project, {
      name: "by_entity",
      task: "regression",
      featureService: "colour_stats",
    });
    const dir = join(out, "by-entity-triton");
    await exportRepository({ project, name: "by_entity", ref: 1, format: "triton", outDir: dir });
    const pbtxt = readFileSync(join(dir, "by_entity", "config.pbtxt"), "utf8");
    // Triton's ModelConfig.parameters, a map in protobuf text format (docs/user_guide/model_configuration.md,
    // "Model Parameters"): a key and a value with its string_value.
    expect(pbtxt).toMatch(
      /\nparameters: \{\s*key: "feature_service"\s*value: \{\s*string_value: "colour_stats"\s*\}\s*\}\n/,
    );
    // Without a service there are none.
    const plain = join(out, "plain-triton");
    await exportRepository({ project, name: "reg", ref: 1, format: "triton", outDir: plain });
    expect(readFileSync(join(plain, "reg", "config.pbtxt"), "utf8")).not.toContain("parameters");
  });

  it("writes no label file for a regression model", async () => {
    const dir = join(out, "reg-triton");
    const files = await exportRepository({ project, name: "reg", ref: 1, format: "triton", outDir: dir });
    expect(files).not.toContain("reg/labels.txt");
    expect(existsSync(join(dir, "reg", "labels.txt"))).toBe(false);
    expect(readFileSync(join(dir, "reg", "config.pbtxt"), "utf8")).not.toContain("label_filename");
  });
});
