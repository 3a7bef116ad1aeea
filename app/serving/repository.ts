/**
 * The model repository on disk, in Triton's layout so Triton can serve the
 * same folder:
 *
 *   <repo>/<name>/config.pbtxt          generated (platform onnxruntime_onnx)
 *   <repo>/<name>/config.json           the config JSON the deploy sent, if any
 *   <repo>/<name>/<version>/model.onnx
 *   <repo>/.dagwood-state.json          what `dagwood serve` had loaded, and the traffic policy
 *
 * Every write is atomic (temp file in the same folder, fsync, rename, fsync
 * the folder), so a crash leaves either the old file or the new one. A model
 * upload is written under a temp name and only renamed into its version
 * folder once onnxruntime has accepted it; a version is a folder holding
 * model.onnx, so an interrupted upload is never taken for a version.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { fsyncDir, writeFileAtomic, writeSynced } from "../store/atomic-write";
import { MODEL_NAME } from "../store/types";
import { RequestError, type TensorMeta, TRITON_TYPES } from "./tensors";

export const STATE_FILE = ".dagwood-state.json";
const STATE_FORMAT = "dagwood.serve-state/1";
const UPLOAD_PREFIX = ".upload-";

/** Windows device names, which cannot be folder names there (with or without an extension). */
const RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

/** Throws a 400 unless `name` can be a model folder on every OS (the registry's rule, minus device names). */
export function checkModelName(name: string): string {
  if (!MODEL_NAME.test(name) || RESERVED.test(name) || name.endsWith(".")) {
    throw new RequestError(
      `invalid model name ${JSON.stringify(name)}: use letters, digits, "_", "-", "." (starting with a letter or digit, at most 128, not a device name)`,
    );
  }
  return name;
}

/** Versions are positive integers (folder names "1", "2", …). */
export function parseVersion(text: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new RequestError(`invalid version ${JSON.stringify(text)}: versions are positive integers`);
  }
  return Number(text);
}

export interface TrafficPolicy {
  /** The version infer-by-model answers with; default the latest loaded. */
  primary?: number;
  canary?: { version: number; percent: number };
  shadow?: { version: number };
}

export interface ServingState {
  format: typeof STATE_FORMAT;
  models: Record<string, { versions: number[]; policy: TrafficPolicy }>;
}

/** The output whose columns are the classes (Dagwood classifiers), which a label file names. */
export const CLASSIFICATION_OUTPUT = "probabilities";
/** Triton's label file beside config.pbtxt: one class name per line, line i naming column i. */
export const LABEL_FILE = "labels.txt";

/** A label file's text for these classes (a name with a line break could not be one line: refused). */
export function labelFileText(classes: readonly (string | number)[]): string {
  const bad = classes.find((c) => /[\r\n]/.test(String(c)));
  if (bad !== undefined)
    throw new Error(
      `The class name ${JSON.stringify(bad)} has a line break: a Triton label file cannot hold it`,
    );
  return `${classes.map(String).join("\n")}\n`;
}

/**
 * Triton's text config for an ONNX model with this signature. Without
 * `maxBatchSize` (or 0) the dims are the model's own, -1 for a variable one.
 * With it, Triton's batching form: `max_batch_size`, `dynamic_batching`, and
 * dims without the batch dimension; a tensor that is only the batch
 * dimension gets `dims: [ 1 ]` and `reshape: { shape: [ ] }`, as Triton's
 * model_configuration.md ("Reshape") asks (on Triton it then travels as [N, 1]).
 * With `labelFile`, the `probabilities` output names it in `label_filename`
 * (ModelOutput.label_filename in Triton's model_config.proto: the file, in the
 * model's folder, that names a classification output's columns; Triton's
 * classification extension answers with those names).
 */
export function configPbtxt(
  name: string,
  signature: { inputs: TensorMeta[]; outputs: TensorMeta[] },
  maxBatchSize = 0,
  labelFile?: string,
  /** ModelConfig.parameters (name → string_value), e.g. the feature service of a model called by entity. */
  parameters?: Record<string, string>,
): string {
  const batching = maxBatchSize > 0;
  const tensors = (list: TensorMeta[]) =>
    list
      .map((t) => {
        const dims = batching ? t.shape.slice(1) : t.shape;
        const shape =
          dims.length === 0 && batching ? "[ 1 ]\n    reshape: { shape: [ ] }" : `[ ${dims.join(", ")} ]`;
        const labels =
          labelFile && t.name === CLASSIFICATION_OUTPUT
            ? `\n    label_filename: ${JSON.stringify(labelFile)}`
            : "";
        return `  {\n    name: ${JSON.stringify(t.name)}\n    data_type: ${TRITON_TYPES[t.datatype]}\n    dims: ${shape}${labels}\n  }`;
      })
      .join(",\n");
  return [
    `name: ${JSON.stringify(name)}`,
    'platform: "onnxruntime_onnx"',
    `max_batch_size: ${batching ? Math.min(maxBatchSize, 2 ** 31 - 1) : 0}`,
    ...(batching ? ["dynamic_batching { }"] : []),
    `input [\n${tensors(signature.inputs)}\n]`,
    `output [\n${tensors(signature.outputs)}\n]`,
    // A protobuf map in text format: one `parameters` entry per key.
    ...Object.entries(parameters ?? {}).map(
      ([key, value]) =>
        `parameters: {\n  key: ${JSON.stringify(key)}\n  value: {\n    string_value: ${JSON.stringify(value)}\n  }\n}`,
    ),
    "",
  ].join("\n");
}

/** The identity of a version: the sha256 of its model.onnx, as lowercase hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A model's config files as they were (undefined: absent), to put back if a load fails. */
export interface ConfigSnapshot {
  json?: Buffer;
  pbtxt?: Buffer;
}

export class ModelRepository {
  /** sha256 of model files by path, valid while size and mtime are unchanged. */
  private readonly hashes = new Map<string, { size: number; mtimeMs: number; sha256: string }>();

  constructor(readonly dir: string) {}

  modelDir(name: string): string {
    return join(this.dir, checkModelName(name));
  }

  modelFile(name: string, version: number): string {
    return join(this.modelDir(name), String(version), "model.onnx");
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    // Uploads a crash interrupted: never a version, only litter.
    for (const name of await this.modelNames()) {
      for (const entry of await readdir(this.modelDir(name))) {
        if (entry.startsWith(UPLOAD_PREFIX)) await rm(join(this.modelDir(name), entry), { force: true });
      }
    }
  }

  /** Model folders with a valid name (others are left alone and not listed). */
  async modelNames(): Promise<string[]> {
    const entries = await readdir(this.dir, { withFileTypes: true }).catch(() => []);
    return entries
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .filter((n) => {
        try {
          checkModelName(n);
          return true;
        } catch {
          return false;
        }
      })
      .sort();
  }

  /** The versions on disk: numbered folders that hold a model.onnx, ascending. */
  async versions(name: string): Promise<number[]> {
    const entries = await readdir(this.modelDir(name), { withFileTypes: true }).catch(() => []);
    const versions: number[] = [];
    for (const e of entries) {
      if (!e.isDirectory() || !/^[1-9][0-9]*$/.test(e.name)) continue;
      const file = join(this.modelDir(name), e.name, "model.onnx");
      if (
        await stat(file).then(
          (s) => s.isFile(),
          () => false,
        )
      )
        versions.push(Number(e.name));
    }
    return versions.sort((a, b) => a - b);
  }

  async readModel(name: string, version: number): Promise<Uint8Array> {
    return readFile(this.modelFile(name, version));
  }

  /** The sha256 of a version's model.onnx on disk (cached while the file is unchanged). */
  async sha256(name: string, version: number): Promise<string> {
    const file = this.modelFile(name, version);
    const s = await stat(file);
    const cached = this.hashes.get(file);
    if (cached && cached.size === s.size && cached.mtimeMs === s.mtimeMs) return cached.sha256;
    const sha256 = sha256Hex(await readFile(file));
    this.hashes.set(file, { size: s.size, mtimeMs: s.mtimeMs, sha256 });
    return sha256;
  }

  /** Deletes a version folder (undoing a load that wrote it). */
  async removeVersion(name: string, version: number): Promise<void> {
    await rm(join(this.modelDir(name), String(version)), { recursive: true, force: true });
    this.hashes.delete(this.modelFile(name, version));
    await fsyncDir(this.modelDir(name)).catch(() => {});
  }

  /** The config.json a load sent (parsed), or undefined if there is none. */
  async readConfig(name: string): Promise<unknown> {
    let text: string;
    try {
      text = await readFile(join(this.modelDir(name), "config.json"), "utf8");
    } catch {
      return undefined;
    }
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new RequestError(
        `the config.json of ${name} in the repository is not JSON (${(e as Error).message}); load it with a "config" parameter`,
      );
    }
  }

  async snapshotConfig(name: string): Promise<ConfigSnapshot> {
    const read = (file: string) => readFile(join(this.modelDir(name), file)).catch(() => undefined);
    const [json, pbtxt] = await Promise.all([read("config.json"), read("config.pbtxt")]);
    return { ...(json ? { json } : {}), ...(pbtxt ? { pbtxt } : {}) };
  }

  /** Puts the config files back as `snapshotConfig` found them. */
  async restoreConfig(name: string, snapshot: ConfigSnapshot): Promise<void> {
    for (const [file, data] of [
      ["config.json", snapshot.json],
      ["config.pbtxt", snapshot.pbtxt],
    ] as const) {
      const path = join(this.modelDir(name), file);
      if (data) await writeFileAtomic(path, data);
      else await rm(path, { force: true });
    }
  }

  /**
   * Writes a model version that has already been validated: temp file in the
   * model folder (fsynced), then renamed into `<version>/model.onnx`.
   */
  async writeModel(name: string, version: number, bytes: Uint8Array): Promise<void> {
    const modelDir = this.modelDir(name);
    const versionDir = join(modelDir, String(version));
    await mkdir(versionDir, { recursive: true });
    const temp = join(modelDir, `${UPLOAD_PREFIX}${randomBytes(6).toString("hex")}.onnx`);
    try {
      await writeSynced(temp, bytes);
      await rename(temp, join(versionDir, "model.onnx"));
    } catch (e) {
      await rm(temp, { force: true });
      throw e;
    }
    await fsyncDir(versionDir);
    await fsyncDir(modelDir);
    await fsyncDir(this.dir);
  }

  async writeConfig(
    name: string,
    signature: { inputs: TensorMeta[]; outputs: TensorMeta[] },
    configJson?: unknown,
    maxBatchSize?: number,
  ): Promise<void> {
    await mkdir(this.modelDir(name), { recursive: true });
    if (configJson !== undefined) {
      await writeFileAtomic(
        join(this.modelDir(name), "config.json"),
        `${JSON.stringify(configJson, null, 2)}\n`,
      );
    }
    await writeFileAtomic(
      join(this.modelDir(name), "config.pbtxt"),
      configPbtxt(name, signature, maxBatchSize),
    );
  }

  async readState(): Promise<ServingState | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.dir, STATE_FILE), "utf8");
    } catch {
      return undefined;
    }
    const state = JSON.parse(text) as ServingState;
    if (state?.format !== STATE_FORMAT || typeof state.models !== "object") {
      throw new Error(`${STATE_FILE} is not a ${STATE_FORMAT} file`);
    }
    return state;
  }

  async writeState(state: ServingState): Promise<void> {
    await writeFileAtomic(join(this.dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  }

  static emptyState(): ServingState {
    return { format: STATE_FORMAT, models: {} };
  }
}
