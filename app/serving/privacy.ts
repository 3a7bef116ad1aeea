/**
 * What a server keeps of a model's tagged inputs in its inference log
 * (app/privacy/log-policy.ts): per model, the log policy, the project's
 * hashing key, and per version the inputs its lineage tags as personal.
 *
 * A Dagwood deploy sends it with the load, as the load parameter
 * `dagwood_privacy` (a JSON string):
 *
 *   {"policy": {"tagged": "hash", "retentionDays": 30},
 *    "tagged": ["email_domain"],            // the loaded version's tagged inputs
 *    "key": "<64 hex>"}                      // only when an input is tagged and hashed
 *
 * The server keeps it in `<repo>/<name>/privacy.json` (mode 0600, written
 * atomically), which no route serves: the key is never answered, logged or
 * put in an error message. A load without the parameter keeps what the file
 * says. The log treats an input tagged for any version of the model as tagged
 * for all of them (PrivacyTable); a file that exists but cannot be read keeps
 * every input of the model out of the log until a load writes it again.
 */
import { randomBytes } from "node:crypto";
import { chmod, open, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { applyLogPolicy, checkLogPolicy, type EntryPrivacy } from "../privacy/log-policy";
import type { LogPolicy } from "../privacy/types";
import { fsyncDir } from "../store/atomic-write";
import { RequestError, type V2Tensor } from "./tensors";

export const PRIVACY_PARAMETER = "dagwood_privacy";
export const PRIVACY_FILE = "privacy.json";
const FORMAT = "dagwood.serve-privacy/1";

/** A model's privacy on a server. */
export interface ServedPrivacy {
  policy: LogPolicy;
  /** The project's hashing key (hex), when a version has a tagged input to hash. */
  key?: string;
  /** Version → its tagged inputs. */
  tagged: Record<string, string[]>;
}

/** A version's log policy as model metadata answers it (`parameters.dagwood_log_policy`, a JSON string). */
export interface LogPolicyShown {
  tagged: LogPolicy["tagged"];
  retentionDays?: number;
  inputs: string[];
}
export const LOG_POLICY_PARAMETER = "dagwood_log_policy";

/** What a load's `dagwood_privacy` parameter carries. */
export interface PrivacyParameter {
  policy: LogPolicy;
  tagged: string[];
  key?: string;
}

const INPUT_NAME = /^.{1,256}$/s;

/** Checks a load's `dagwood_privacy` parameter; a bad one is a 400 that never repeats the key. */
export function parsePrivacyParameter(value: unknown): PrivacyParameter {
  if (typeof value !== "string")
    throw new RequestError(
      `parameter "${PRIVACY_PARAMETER}" must be a string holding JSON ({"policy": {"tagged": "hash"}, "tagged": [...], "key": "<64 hex>"})`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new RequestError(`parameter "${PRIVACY_PARAMETER}" is not JSON`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new RequestError(`parameter "${PRIVACY_PARAMETER}" must be a JSON object`);
  const p = parsed as Record<string, unknown>;
  let policy: LogPolicy;
  try {
    policy = checkLogPolicy(p.policy ?? {}, `${PRIVACY_PARAMETER}.policy`);
  } catch (e) {
    throw new RequestError((e as Error).message);
  }
  const tagged = p.tagged ?? [];
  if (!Array.isArray(tagged) || !tagged.every((t) => typeof t === "string" && INPUT_NAME.test(t)))
    throw new RequestError(`"${PRIVACY_PARAMETER}".tagged must be an array of input names`);
  const key = p.key;
  if (key !== undefined && (typeof key !== "string" || !/^[0-9a-fA-F]{64}$/.test(key)))
    throw new RequestError(`"${PRIVACY_PARAMETER}".key must be 64 hex digits (the project's privacy key)`);
  if (policy.tagged === "hash" && tagged.length > 0 && key === undefined)
    throw new RequestError(
      `"${PRIVACY_PARAMETER}" tags inputs to hash but carries no key; deploy with a Dagwood client that sends the project's key`,
    );
  return { policy, tagged: [...new Set(tagged as string[])], ...(key ? { key: key.toLowerCase() } : {}) };
}

/** A model's privacy file, or undefined when there is none (or it cannot be read: logged as no tagged inputs). */
export async function readServedPrivacy(modelDir: string): Promise<ServedPrivacy | undefined> {
  let text: string;
  try {
    text = await readFile(join(modelDir, PRIVACY_FILE), "utf8");
  } catch {
    return undefined;
  }
  return parseServedPrivacy(text);
}

/** A privacy file's text read (a clear error that never quotes the text: it holds the key). */
export function parseServedPrivacy(text: string): ServedPrivacy {
  let p: Partial<ServedPrivacy> & { format?: string };
  try {
    p = JSON.parse(text) as typeof p;
  } catch {
    // JSON.parse's message quotes the text, and the text holds the key.
    throw new Error(`${PRIVACY_FILE} is not JSON (cut short or edited by hand)`);
  }
  if (typeof p !== "object" || p === null) throw new Error(`${PRIVACY_FILE} is not a JSON object`);
  if (p.format !== FORMAT) throw new Error(`${PRIVACY_FILE} is not a ${FORMAT} file`);
  return {
    policy: checkLogPolicy(p.policy ?? {}, "policy"),
    tagged: p.tagged ?? {},
    ...(typeof p.key === "string" ? { key: p.key } : {}),
  };
}

/** Writes a model's privacy file: mode 0600 from its creation, temp file then rename, folder fsynced. */
export function writeServedPrivacy(modelDir: string, privacy: ServedPrivacy): Promise<void> {
  return writePrivacyText(modelDir, `${JSON.stringify({ format: FORMAT, ...privacy }, null, 2)}\n`);
}

/** Writes a privacy file's text as writeServedPrivacy does (a failed load puts back what was there). */
export async function writePrivacyText(modelDir: string, text: string): Promise<void> {
  const path = join(modelDir, PRIVACY_FILE);
  const temp = join(modelDir, `.${PRIVACY_FILE}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(temp, "wx", 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
    await handle.close();
    await chmod(temp, 0o600); // whatever the umask did
    await rename(temp, path);
  } catch (e) {
    await handle.close().catch(() => {});
    await rm(temp, { force: true });
    throw e;
  }
  await fsyncDir(modelDir);
}

/** The privacy a load leaves: the parameter's policy and key, its tagged inputs for the loaded versions. */
export function mergePrivacy(
  before: ServedPrivacy | undefined,
  given: PrivacyParameter,
  versions: readonly number[],
): ServedPrivacy {
  const tagged = { ...(before?.tagged ?? {}) };
  for (const v of versions) tagged[String(v)] = given.tagged;
  const key = given.key ?? before?.key;
  return { policy: given.policy, tagged, ...(key ? { key } : {}) };
}

/**
 * Keys as Buffers, once per model: hashing is on the logging path. Every version of a model is
 * logged under the tagged inputs of all its versions: a shadow or canary runs on the primary's very
 * request, and a version loaded before the model had a privacy file (or from an older lineage) takes
 * the same inputs, so a name tagged for one version is never logged in clear for another.
 */
export class PrivacyTable {
  private readonly models = new Map<string, { served: ServedPrivacy; key?: Buffer; tagged: Set<string> }>();
  /** Models whose privacy file exists but cannot be read: no input of theirs is logged. */
  private readonly unreadable = new Set<string>();

  set(model: string, served: ServedPrivacy | undefined): void {
    this.unreadable.delete(model);
    if (!served) {
      this.models.delete(model);
      return;
    }
    this.models.set(model, {
      served,
      tagged: new Set(Object.values(served.tagged).flat()),
      ...(served.key ? { key: Buffer.from(served.key, "hex") } : {}),
    });
  }

  /** The model's privacy file could not be read: its entries keep no input until a load writes it again. */
  setUnreadable(model: string): void {
    this.models.delete(model);
    this.unreadable.add(model);
  }

  get(model: string): ServedPrivacy | undefined {
    return this.models.get(model)?.served;
  }

  /** The retention of each model that has one (days). */
  retentions(): [string, number][] {
    const out: [string, number][] = [];
    for (const [model, m] of this.models)
      if (m.served.policy.retentionDays !== undefined) out.push([model, m.served.policy.retentionDays]);
    return out;
  }

  /**
   * What the log does with a version's tagged inputs, as model metadata tells it (never the key):
   * `tagged` is the action in force (a hash policy without a key drops).
   */
  describe(model: string, version: number): LogPolicyShown | undefined {
    const m = this.models.get(model);
    if (!m) return undefined;
    const { policy } = m.served;
    void version; // every version of the model follows the same tagged inputs (the class's note)
    return {
      tagged: policy.tagged === "hash" && !m.key ? "drop" : policy.tagged,
      ...(policy.retentionDays !== undefined ? { retentionDays: policy.retentionDays } : {}),
      inputs: [...m.tagged].sort(),
    };
  }

  /** A log entry's inputs under its model's policy (as they came when the model has no tagged inputs). */
  apply(model: string, version: number, inputs: V2Tensor[]): { inputs: V2Tensor[]; privacy?: EntryPrivacy } {
    if (this.unreadable.has(model))
      return inputs.length
        ? { inputs: [], privacy: { dropped: inputs.map((t) => t.name).sort() } }
        : { inputs };
    void version;
    const m = this.models.get(model);
    const tagged = m?.tagged;
    if (!m || !tagged || tagged.size === 0) return { inputs };
    // Without a key (a privacy file written by hand) tagged inputs are dropped, never logged in clear.
    const action = m.served.policy.tagged === "hash" && !m.key ? "drop" : m.served.policy.tagged;
    return applyLogPolicy(inputs, tagged, action, m.key) as { inputs: V2Tensor[]; privacy?: EntryPrivacy };
  }
}
