/**
 * resources/examples/scaling-out (the README's "Scaling out"): the committed workflow is what the command
 * its README gives writes today (so it never goes stale: re-run that command after changing the export or
 * the starter's pipeline), a valid Argo Workflow whose pods read exactly the Secrets and keys the Secret
 * template defines, and the template holds placeholders, never a credential.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { main } from "../cli/main";
import { captureIo } from "../cli/testing";
import { readProjectSettings } from "../project/project";
import { argoValidator, findings } from "./schemas/validate";
import { FINISH_TEMPLATE } from "./workflow";

const EXAMPLES = join(import.meta.dirname, "..", "..", "resources", "examples");
const FOLDER = join(EXAMPLES, "scaling-out");
const COMMITTED = join(FOLDER, "penguins-model.argo.yaml");
const IMAGE = "registry.example.com/penguins:1";

const work = mkdtempSync(join(tmpdir(), "dagwood-scaling-out-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The folder README's command: the starter's pipeline beside this folder's dagwood.json, exported. */
async function exportAsReadmeSays(out: string): Promise<void> {
  copyFileSync(join(EXAMPLES, "starter", "penguins-model.dag.json"), join(work, "penguins-model.dag.json"));
  copyFileSync(join(FOLDER, "dagwood.json"), join(work, "dagwood.json"));
  const io = captureIo();
  const code = await main(
    ["export", "argo", join(work, "penguins-model.dag.json"), "--image", IMAGE, "--out", out],
    io,
  );
  expect(io.err()).toBe("");
  expect(code).toBe(0);
}

describe("resources/examples/scaling-out", () => {
  it("holds the workflow its README's command writes today", async () => {
    const fresh = join(work, "penguins-model.argo.yaml");
    await exportAsReadmeSays(fresh);
    // On a difference: run the command in scaling-out/README.md ("Regenerate") and commit the file.
    expect(readFileSync(COMMITTED, "utf8")).toBe(readFileSync(fresh, "utf8"));
    const readme = readFileSync(join(FOLDER, "README.md"), "utf8");
    expect(readme).toContain(
      `--image ${IMAGE} --out resources/examples/scaling-out/penguins-model.argo.yaml`,
    );
  });

  it("is a valid Workflow whose pods read the Secrets and keys the template defines, which holds no value", () => {
    const doc = parseAllDocuments(readFileSync(COMMITTED, "utf8"), { version: "1.1" })[0]!.toJS() as {
      spec: {
        onExit: string;
        templates: {
          name: string;
          container?: {
            env: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
          };
        }[];
      };
    };
    expect(findings(argoValidator("Workflow", { strict: true }), doc)).toEqual([]);
    expect(doc.spec.onExit).toBe(FINISH_TEMPLATE);
    const refs = new Set<string>();
    for (const t of doc.spec.templates)
      for (const e of t.container?.env ?? [])
        if (e.valueFrom?.secretKeyRef)
          refs.add(`${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`);
    const secrets = parseAllDocuments(readFileSync(join(FOLDER, "secrets.yaml"), "utf8")).map(
      (d) =>
        d.toJS() as {
          apiVersion: string;
          kind: string;
          metadata: { name: string };
          stringData: Record<string, string>;
        },
    );
    const defined = new Set(
      secrets.flatMap((s) => Object.keys(s.stringData).map((k) => `${s.metadata.name}/${k}`)),
    );
    expect([...refs].sort()).toEqual([...defined].sort());
    for (const s of secrets) {
      expect([s.apiVersion, s.kind]).toEqual(["v1", "Secret"]);
      for (const value of Object.values(s.stringData)) expect(value).toMatch(/^REPLACE_WITH_[A-Z_]+$/);
    }
  });

  it("has a dagwood.json Dagwood reads as a team store on PostgreSQL with S3 artifacts, and no password in it", () => {
    const settings = readProjectSettings(FOLDER);
    expect(settings.store).toMatchObject({ kind: "postgres", schema: "penguins" });
    expect(settings.artifacts).toMatchObject({ kind: "s3", bucket: "ml-artifacts" });
    expect(new URL((settings.store as { url: string }).url).password).toBe("");
  });
});
