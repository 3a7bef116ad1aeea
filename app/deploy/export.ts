/**
 * `dagwood export triton|kserve`: a registered version as a Triton model
 * repository folder (`<name>/config.pbtxt`, `<name>/<version>/model.onnx`,
 * and for a classifier `<name>/labels.txt`, the class names Triton's
 * `label_filename` points at),
 * the layout `dagwood serve` keeps too, and for KServe an InferenceService
 * manifest that serves that folder from object storage with Triton (ONNX
 * runtime, V2 protocol) — for Kubernetes on AKS, EKS or GKE.
 */
import { copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { asModel } from "../ml/model";
import { categoriesInClear, recordUnmasked, versionPersonalInputs } from "../privacy/masking";
import { CLASSIFICATION_OUTPUT, configPbtxt, LABEL_FILE, labelFileText } from "../serving/repository";
import type { Registry } from "../store/types";
import { requireVersionFiles, v2Signature } from "./deploy";
import { DeployError } from "./targets";

export type ExportFormat = "triton" | "kserve";

export const STORAGE_PLACEHOLDER = "s3://REPLACE-WITH-YOUR-BUCKET/model-repository";

/** A Kubernetes name: lowercase letters, digits and "-", starting and ending alphanumeric, ≤ 63. */
function kubernetesName(name: string, version: number): string {
  const base = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return `${base || "model"}-v${version}`.slice(0, 63).replace(/-+$/, "");
}

/** The InferenceService: Triton (ONNX runtime) serving the repository folder at `storageUri`, over V2. */
export function inferenceServiceYaml(name: string, version: number): string {
  return `# KServe InferenceService for ${name} v${version}, exported by Dagwood.
# 1. Copy this folder's model repository (the "${name}" folder) to a bucket:
#      aws s3 cp --recursive ${name} s3://<bucket>/model-repository/${name}        (EKS)
#      gsutil -m cp -r ${name} gs://<bucket>/model-repository/                     (GKE)
#      az storage blob upload-batch -d <container> --destination-path model-repository/${name} -s ${name}   (AKS)
# 2. Replace storageUri below with the folder holding "${name}" (s3://, gs:// or https://<account>.blob.core.windows.net/...).
# 3. kubectl apply -f inference-service.yaml
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: ${kubernetesName(name, version)}
  annotations:
    dagwood.dev/model: "${name}"
    dagwood.dev/version: "${version}"
spec:
  predictor:
    model:
      modelFormat:
        name: onnx
      protocolVersion: v2
      runtime: kserve-tritonserver
      # The folder that holds "${name}/" (Triton loads every model in it; V2 path /v2/models/${name}/infer).
      storageUri: "${STORAGE_PLACEHOLDER}"
      resources:
        requests:
          cpu: "1"
          memory: 1Gi
        limits:
          cpu: "2"
          memory: 2Gi
`;
}

export interface ExportRepositoryOptions {
  project: { dir: string; registry: Registry };
  name: string;
  ref: number | string;
  format: ExportFormat;
  /** Absolute; must be new or empty. */
  outDir: string;
  /**
   * Export a model whose files hold personal values (a personal text input's fitted categories) in
   * clear: the caller has had the user confirm it, and the export records `privacy.unmasked` by `actor`.
   */
  unmasked?: boolean;
  actor?: string | null;
}

/** What the folder holds in clear of the version's personal inputs (app/privacy/masking.ts). */
export interface ExportedRepository {
  /** Written, relative to the folder, with `/` separators. */
  files: string[];
  /** Personal inputs whose fitted categories the model files hold, exported at the user's request; absent when none. */
  unmasked?: string[];
}

/**
 * Writes the folder; returns the files written. A Triton folder holds the model and no rows: the only
 * personal values it can hold are a personal text input's fitted categories, which model.onnx needs
 * to encode that input, so such a version exports only when asked for in clear (and audited).
 */
export async function exportRepositoryFolder(opts: ExportRepositoryOptions): Promise<ExportedRepository> {
  const { project, name } = opts;
  const version = await requireVersionFiles(project, name, opts.ref);
  const existing = await readdir(opts.outDir).catch(() => []);
  if (existing.length > 0) {
    throw new DeployError(`${opts.outDir} is not empty: choose a new folder for the export.`, "invalid");
  }
  const model = asModel(JSON.parse(await readFile(join(project.dir, version.nativePath), "utf8")));
  const inClear = categoriesInClear(model, versionPersonalInputs(version));
  if (inClear.length > 0 && !opts.unmasked) {
    const list = inClear.map((c) => `${c.input} (${c.categories} values)`).join(", ");
    throw new DeployError(
      `${name} v${version.version}'s model.onnx holds personal data that cannot be masked: the fitted categories of ${list}, which the model needs to predict. Export it in clear (the command line: --unmasked; the app asks to confirm), which the audit log records, or train without that input.`,
      "invalid",
    );
  }
  const versionDir = join(opts.outDir, name, String(version.version));
  await mkdir(versionDir, { recursive: true });
  await copyFile(join(project.dir, version.onnxPath), join(versionDir, "model.onnx"));
  const files = [`${name}/config.pbtxt`, `${name}/${version.version}/model.onnx`];
  // A classifier's class names go in Triton's label file, named by the probabilities output.
  const { classes } = model;
  const labelled =
    classes !== undefined && version.signature.outputs.some((o) => o.name === CLASSIFICATION_OUTPUT);
  if (labelled) {
    await writeFile(join(opts.outDir, name, LABEL_FILE), labelFileText(classes));
    files.push(`${name}/${LABEL_FILE}`);
  }
  await writeFile(
    join(opts.outDir, name, "config.pbtxt"),
    configPbtxt(name, v2Signature(version), 0, labelled ? LABEL_FILE : undefined, {
      ...(version.featureService ? { feature_service: version.featureService } : {}),
      // Informational: model.onnx itself labels by the version's decision (app/ml/onnx/decision.ts).
      ...(version.decision
        ? {
            decision_threshold: String(version.decision.threshold),
            positive_class: version.decision.positiveClass,
          }
        : {}),
    }),
  );
  if (opts.format === "kserve") {
    await writeFile(join(opts.outDir, "inference-service.yaml"), inferenceServiceYaml(name, version.version));
    files.push("inference-service.yaml");
  }
  if (inClear.length === 0) return { files };
  const columns = inClear.map((c) => c.input);
  recordUnmasked(project.registry, {
    actor: opts.actor ?? null,
    what: `export ${opts.format}`,
    where: opts.outDir,
    columns,
    model: name,
    version: version.version,
  });
  return { files, unmasked: columns };
}

/** exportRepositoryFolder's files. */
export async function exportRepository(opts: ExportRepositoryOptions): Promise<string[]> {
  return (await exportRepositoryFolder(opts)).files;
}
