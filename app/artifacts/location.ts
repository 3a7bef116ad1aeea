/**
 * A shared artifact location: where a team's model files (native model, ONNX, held-out rows, reference
 * profile) live, so that every analyst's machine on a shared store can read the files of a version
 * registered on another. Two kinds: a folder (a network share) and S3-compatible object storage.
 *
 * Objects are content-addressed: the key of a file is `sha256/<hex of its bytes>`, so an upload is
 * idempotent (an object already there with the right size is not sent again) and a download is
 * checked against its own key. Neither an S3-compatible test server (s3rver) nor a plain folder
 * checks a checksum for us, so both sides hash the bytes themselves: while reading the local file on
 * upload, and while writing the downloaded file (to a temporary name, renamed only when it matches).
 */
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { type Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { z } from "zod";

/** Where the project's artifacts go (`"artifacts"` in dagwood.json). Credentials never live here. */
export const ArtifactSettingsSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("folder"),
    /** An absolute path, or relative to the project folder; usually a network share. */
    path: z.string().min(1, "the folder's path, e.g. /mnt/share/dagwood"),
  }),
  z.strictObject({
    kind: z.literal("s3"),
    // S3's bucket naming rules: 3 to 63 lower-case letters, digits, "." and "-", starting and
    // ending with a letter or digit (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
    bucket: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
        "an S3 bucket name: 3 to 63 lower-case letters, digits, . and -",
      ),
    /** Keys go under this prefix ("team/dagwood"); no leading or trailing "/". */
    prefix: z
      .string()
      .regex(/^[^/](.*[^/])?$/, 'a key prefix without a leading or trailing "/", e.g. team/dagwood')
      .optional(),
    /** An S3-compatible server's URL (MinIO, Ceph, a test server); AWS's own when absent. */
    endpoint: z
      .string()
      .refine((u) => /^https?:\/\/[^/]/.test(u) && URL.canParse(u), "an http:// or https:// URL")
      .optional(),
    region: z.string().min(1).optional(),
    /** Bucket in the path (`http://host/bucket/key`), as most S3-compatible servers need. */
    forcePathStyle: z.boolean().optional(),
  }),
]);
export type ArtifactSettings = z.output<typeof ArtifactSettingsSchema>;

/** A file as the location keeps it. */
export interface StoredArtifact {
  /** `sha256/<hex>`. */
  key: string;
  /** Lower-case hex. */
  sha256: string;
  bytes: number;
}

/** What a location can do; every method is async and verifies what it moves. */
export interface ArtifactLocation {
  /** For messages and the version's manifest: `folder /mnt/share/dagwood` or `s3://bucket/prefix`. */
  readonly description: string;
  /** Stores the file under its content key; an object already there with the right size is kept. */
  putFile(localPath: string): Promise<StoredArtifact>;
  /** Downloads the object to `localPath` (through a temporary name), refusing bytes that do not hash to the key. */
  getFile(key: string, localPath: string): Promise<StoredArtifact>;
  has(key: string): Promise<boolean>;
}

/** An artifact that could not be stored or fetched: what went wrong and what to do. */
export class ArtifactError extends Error {
  override name = "ArtifactError";
}

const KEY = /^sha256\/([0-9a-f]{64})$/;

/** The sha256 a content key names; a malformed key is refused. */
export function keySha256(key: string): string {
  const m = KEY.exec(key);
  if (!m)
    throw new ArtifactError(`Invalid artifact key ${JSON.stringify(key)}: expected sha256/<64 hex digits>.`);
  return m[1]!;
}

/** Options for tests (fault points) and for the time allowed to reach a server. */
export interface LocationOptions {
  /**
   * Opens the local file being uploaded; tests pass a stream that fails part-way (an interrupted
   * upload). Default: `fs.createReadStream`.
   */
  readFile?: (path: string) => Readable;
  /** S3: how long connecting may take, and how long a connection may sit idle (ms). */
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
}

/**
 * A pass-through that hashes and counts the bytes. When DAGWOOD_FAULT is "artifacts:mid-upload" the
 * process kills itself after the first chunk (SIGKILL: nothing cleans up), as a power cut mid-upload would.
 */
class Hashing extends Transform {
  readonly hash = createHash("sha256");
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
    if (process.env.DAGWOOD_FAULT === "artifacts:mid-upload") process.kill(process.pid, "SIGKILL");
  }
}

/** The sha256 and size of a local file, read as a stream. */
export async function hashFile(path: string): Promise<{ sha256: string; bytes: number }> {
  const h = createHash("sha256");
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    h.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: h.digest("hex"), bytes };
}

/**
 * Writes a stream to `localPath` through a temporary file beside it, hashing as it goes; renames it
 * into place only when the bytes hash to `expected`. A mismatch is an error naming the key.
 */
async function writeVerified(
  source: Readable,
  localPath: string,
  key: string,
  where: string,
): Promise<StoredArtifact> {
  const expected = keySha256(key);
  await mkdir(dirname(localPath), { recursive: true });
  const temp = `${localPath}.part-${randomBytes(6).toString("hex")}`;
  const hashing = new Hashing();
  const out = createWriteStream(temp, { flags: "wx" });
  try {
    await pipeline(source, hashing, out);
    const got = hashing.hash.digest("hex");
    if (got !== expected)
      throw new ArtifactError(
        `The artifact ${key} in ${where} is damaged: its ${hashing.bytes} bytes hash to sha256 ${got}, not to its key. Register the version again from a machine that has its files, or restore the object from a backup.`,
      );
    await fsyncFile(temp);
    await rename(temp, localPath);
    return { key, sha256: got, bytes: hashing.bytes };
  } catch (e) {
    await removeTemp(out, temp);
    throw e;
  }
}

/**
 * Removes a temp file once its write stream has closed: a stream destroyed by a failed pipeline may
 * still be opening the file, which would then appear after an earlier `rm`.
 */
async function removeTemp(out: WriteStream, temp: string): Promise<void> {
  if (!out.closed) await once(out, "close").catch(() => undefined);
  await rm(temp, { force: true });
}

async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

const sizeOf = async (path: string): Promise<number | undefined> => {
  try {
    return (await stat(path)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
};

/** Temporary files older than this belong to an upload whose process died (an upload takes minutes at most). */
const STALE_PART_MS = 24 * 60 * 60 * 1000;

/** Removes what killed uploads left in the share (`.part-*` files a day old); others' live uploads are younger. */
async function removeStaleParts(dir: string): Promise<void> {
  for (const entry of await readdir(dir)) {
    if (!entry.startsWith(".part-")) continue;
    const path = join(dir, entry);
    try {
      if (Date.now() - (await stat(path)).mtimeMs > STALE_PART_MS) await rm(path, { force: true });
    } catch {
      // Renamed or removed meanwhile by the upload that owned it.
    }
  }
}

/** A folder (typically a network share): `<root>/sha256/<hex>`, written as temp + fsync + rename. */
export class FolderLocation implements ArtifactLocation {
  readonly description: string;

  constructor(
    readonly root: string,
    private readonly opts: LocationOptions = {},
  ) {
    this.description = `folder ${root}`;
  }

  private pathOf(key: string): string {
    return join(this.root, "sha256", keySha256(key));
  }

  private async checkRoot(): Promise<void> {
    const s = await stat(this.root).catch(() => undefined);
    if (!s?.isDirectory())
      throw new ArtifactError(
        `The artifact folder ${this.root} (dagwood.json "artifacts".path) does not exist or is not a folder. Mount the share or create the folder, or correct the path.`,
      );
  }

  async putFile(localPath: string): Promise<StoredArtifact> {
    await this.checkRoot();
    const dir = join(this.root, "sha256");
    await mkdir(dir, { recursive: true });
    await removeStaleParts(dir);
    const temp = join(dir, `.part-${randomBytes(6).toString("hex")}`);
    const hashing = new Hashing();
    const out = createWriteStream(temp, { flags: "wx" });
    try {
      const read = this.opts.readFile?.(localPath) ?? createReadStream(localPath);
      await pipeline(read, hashing, out);
      const sha256 = hashing.hash.digest("hex");
      const key = `sha256/${sha256}`;
      const final = this.pathOf(key);
      if ((await sizeOf(final)) === hashing.bytes) {
        await rm(temp, { force: true });
      } else {
        await fsyncFile(temp);
        await rename(temp, final);
      }
      return { key, sha256, bytes: hashing.bytes };
    } catch (e) {
      await removeTemp(out, temp);
      if (e instanceof ArtifactError) throw e;
      throw new ArtifactError(
        `Could not store ${localPath} in the artifact folder ${this.root}: ${(e as Error).message}`,
      );
    }
  }

  async getFile(key: string, localPath: string): Promise<StoredArtifact> {
    const path = this.pathOf(key);
    if ((await sizeOf(path)) === undefined) {
      await this.checkRoot();
      throw new ArtifactError(
        `The artifact ${key} is not in the artifact folder ${this.root}. Is this the folder the version was registered to (dagwood.json "artifacts")?`,
      );
    }
    return writeVerified(createReadStream(path), localPath, key, this.description);
  }

  async has(key: string): Promise<boolean> {
    return (await sizeOf(this.pathOf(key))) !== undefined;
  }
}

type S3Module = typeof import("@aws-sdk/client-s3");

/** S3-compatible object storage: `<prefix>/sha256/<hex>`, PutObject with its ChecksumSHA256, then HeadObject. */
export class S3Location implements ArtifactLocation {
  readonly description: string;
  private client?: { s3: S3Module; client: InstanceType<S3Module["S3Client"]> };

  constructor(
    private readonly settings: Extract<ArtifactSettings, { kind: "s3" }>,
    private readonly opts: LocationOptions = {},
  ) {
    this.description = `s3://${settings.bucket}${settings.prefix ? `/${settings.prefix}` : ""}${settings.endpoint ? ` at ${settings.endpoint}` : ""}`;
  }

  private objectKey(key: string): string {
    keySha256(key);
    return this.settings.prefix ? `${this.settings.prefix}/${key}` : key;
  }

  private async s3() {
    if (!this.client) {
      // The installed SDK is pinned to a release that supports Node 20; its notice that later releases
      // will need Node 22 (@aws-sdk/core, emitWarningIfUnsupportedVersion) says nothing to a Dagwood user.
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
      // Loaded on first use: projects without S3 artifacts never pay for the SDK.
      const s3 = await import("@aws-sdk/client-s3");
      const client = new s3.S3Client({
        // Credentials: the SDK's own chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE and
        // ~/.aws, instance roles), never dagwood.json.
        region:
          this.settings.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1",
        ...(this.settings.endpoint ? { endpoint: this.settings.endpoint } : {}),
        ...(this.settings.forcePathStyle !== undefined
          ? { forcePathStyle: this.settings.forcePathStyle }
          : {}),
        maxAttempts: 2,
        requestHandler: {
          connectionTimeout: this.opts.connectTimeoutMs ?? 5000,
          socketTimeout: this.opts.idleTimeoutMs ?? 30_000,
        },
      });
      this.client = { s3, client };
    }
    return this.client;
  }

  /** An SDK failure as a message that names the location and what to check. */
  private failure(what: string, e: unknown): ArtifactError {
    if (e instanceof ArtifactError) return e;
    const err = e as Error & { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
    const name = err.name ?? "";
    const status = err.$metadata?.httpStatusCode;
    let hint = "";
    if (name === "NoSuchBucket" || (status === 404 && /bucket/i.test(err.message)))
      hint = ` The bucket "${this.settings.bucket}" does not exist: create it, or correct "artifacts".bucket in dagwood.json.`;
    else if (name === "CredentialsProviderError" || /credential/i.test(err.message))
      hint =
        " No S3 credentials were found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the environment; dagwood.json never holds them.";
    else if (
      status === 403 ||
      name === "AccessDenied" ||
      name === "InvalidAccessKeyId" ||
      name === "SignatureDoesNotMatch"
    )
      hint =
        " The server refused the credentials: check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and the bucket's permissions.";
    else if (
      ["ECONNREFUSED", "ENOTFOUND", "EHOSTUNREACH", "ETIMEDOUT", "ECONNRESET"].includes(err.code ?? name) ||
      name === "TimeoutError" ||
      /timed? ?out|ECONNREFUSED|ENOTFOUND|socket hang up/i.test(err.message)
    )
      hint = ` The server ${this.settings.endpoint ?? "(AWS S3)"} could not be reached: check "artifacts".endpoint in dagwood.json and the network.`;
    return new ArtifactError(
      `Could not ${what} in ${this.description}: ${err.message || name || String(e)}.${hint}`,
    );
  }

  private async head(key: string): Promise<number | undefined> {
    const { s3, client } = await this.s3();
    try {
      const r = await client.send(
        new s3.HeadObjectCommand({ Bucket: this.settings.bucket, Key: this.objectKey(key) }),
      );
      return r.ContentLength ?? 0;
    } catch (e) {
      const err = e as Error & { $metadata?: { httpStatusCode?: number } };
      // A missing object answers 404 NotFound (HEAD has no body to say more); a missing bucket too,
      // so a bucket check comes with the upload's own error.
      if (err.name === "NotFound" || err.$metadata?.httpStatusCode === 404) return undefined;
      throw this.failure(`look up ${key}`, e);
    }
  }

  async putFile(localPath: string): Promise<StoredArtifact> {
    const { sha256, bytes } = await hashFile(localPath);
    const key = `sha256/${sha256}`;
    if ((await this.head(key)) === bytes) return { key, sha256, bytes };
    const { s3, client } = await this.s3();
    const hashing = new Hashing();
    const read = this.opts.readFile?.(localPath) ?? createReadStream(localPath);
    const body = read.pipe(hashing);
    // A source that fails part-way must end the request: the server would wait for the rest of the
    // announced length until the idle timeout.
    const abort = new AbortController();
    let readError: Error | undefined;
    const stop = (e: Error) => {
      readError ??= e;
      abort.abort(e);
    };
    read.once("error", stop);
    body.once("error", stop);
    try {
      await client.send(
        new s3.PutObjectCommand({
          Bucket: this.settings.bucket,
          Key: this.objectKey(key),
          Body: body,
          ContentLength: bytes,
          ChecksumSHA256: Buffer.from(sha256, "hex").toString("base64"),
        }),
        { abortSignal: abort.signal },
      );
    } catch (e) {
      throw this.failure(`upload ${localPath}`, readError ?? e);
    } finally {
      if (readError) body.destroy();
    }
    // The bytes sent must be the bytes hashed: a file changed between the two reads is refused.
    const sent = hashing.hash.digest("hex");
    if (sent !== sha256 || hashing.bytes !== bytes)
      throw new ArtifactError(
        `${localPath} changed while it was being uploaded to ${this.description}; register again once nothing writes to it.`,
      );
    // S3 itself reads after write consistently; some compatible servers answer the PUT before the
    // object is on disk (s3rver resolves on its hashing stream, not the file's), so a short wait is
    // given before an object of another size counts as a cut-off upload.
    let stored = await this.head(key);
    for (const wait of [50, 200, 800]) {
      if (stored === bytes) break;
      await new Promise((r) => setTimeout(r, wait));
      stored = await this.head(key);
    }
    if (stored !== bytes)
      throw new ArtifactError(
        `The upload of ${localPath} to ${this.description} did not complete: the server holds ${stored === undefined ? "no object" : `${stored} bytes`} for ${key}, not ${bytes}. Try again.`,
      );
    return { key, sha256, bytes };
  }

  async getFile(key: string, localPath: string): Promise<StoredArtifact> {
    const { s3, client } = await this.s3();
    let body: Readable;
    try {
      const r = await client.send(
        new s3.GetObjectCommand({ Bucket: this.settings.bucket, Key: this.objectKey(key) }),
      );
      body = r.Body as Readable;
    } catch (e) {
      const err = e as Error & { $metadata?: { httpStatusCode?: number } };
      if (err.name === "NoSuchKey")
        throw new ArtifactError(
          `The artifact ${key} is not in ${this.description}. Is this the location the version was registered to (dagwood.json "artifacts")?`,
        );
      throw this.failure(`download ${key}`, e);
    }
    try {
      return await writeVerified(body, localPath, key, this.description);
    } catch (e) {
      throw this.failure(`download ${key}`, e);
    }
  }

  async has(key: string): Promise<boolean> {
    return (await this.head(key)) !== undefined;
  }
}

/** The project's artifact location from its settings; a folder path is relative to the project. */
export function openArtifactLocation(
  settings: ArtifactSettings,
  projectDir: string,
  opts: LocationOptions = {},
): ArtifactLocation {
  const parsed = ArtifactSettingsSchema.safeParse(settings);
  if (!parsed.success)
    throw new ArtifactError(
      `Invalid "artifacts" settings: ${parsed.error.issues.map((i) => `${i.path.join(".") || "artifacts"}: ${i.message}`).join("; ")}.`,
    );
  const s = parsed.data;
  if (s.kind === "folder")
    return new FolderLocation(isAbsolute(s.path) ? s.path : resolve(projectDir, s.path), opts);
  return new S3Location(s, opts);
}
