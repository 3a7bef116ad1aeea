import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  ArtifactError,
  type ArtifactLocation,
  ArtifactSettingsSchema,
  openArtifactLocation,
} from "./location";
import { failingAfter, startTestS3, type TestS3, useTestS3Credentials } from "./testing";

/** sha256 by coreutils' sha256sum: an independent computation of the key. */
const sha256sum = (path: string) => execFileSync("sha256sum", [path], { encoding: "utf8" }).split(" ")[0]!;

/** The rejection of `p` (which must reject). */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

let dir: string;
let file: string;
const DATA = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 251));

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "dagwood-artifacts-"));
  file = join(dir, "model.onnx");
  writeFileSync(file, DATA);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The behaviour both kinds share. */
function sharedBehaviour(open: (opts?: Parameters<typeof openArtifactLocation>[2]) => ArtifactLocation) {
  it("stores a file under sha256/<its sha256> and gives back the same bytes", async () => {
    const location = open();
    const stored = await location.putFile(file);
    const expected = sha256sum(file);
    expect(stored).toEqual({ key: `sha256/${expected}`, sha256: expected, bytes: DATA.length });
    expect(await location.has(stored.key)).toBe(true);
    expect(await location.has(`sha256/${"0".repeat(64)}`)).toBe(false);
    const back = join(dir, "fetched", "model.onnx");
    expect(await location.getFile(stored.key, back)).toEqual(stored);
    expect(readFileSync(back).equals(DATA)).toBe(true);
    expect(readdirSync(join(dir, "fetched"))).toEqual(["model.onnx"]);
  });

  it("does not send an object that is already there", async () => {
    let reads = 0;
    const location = open({
      readFile: (p) => {
        reads++;
        return failingAfter(readFileSync(p), Number.MAX_SAFE_INTEGER);
      },
    });
    const first = await location.putFile(file);
    const sent = reads;
    const copy = join(dir, "copy.onnx");
    writeFileSync(copy, DATA);
    expect(await location.putFile(copy)).toEqual(first);
    // Folder: hashing needs the bytes once more, but the object is not rewritten; S3: nothing is read to send.
    expect(reads - sent).toBeLessThanOrEqual(1);
  });

  it("refuses an interrupted upload and stores nothing under the key", async () => {
    // Bytes no other test stored (the server is shared by the tests).
    const data = randomBytes(DATA.length);
    writeFileSync(file, data);
    const location = open({ readFile: () => failingAfter(data, 65_536) });
    const e = await rejection(location.putFile(file));
    expect(e).toBeInstanceOf(ArtifactError);
    expect(e.message).toMatch(/connection lost after 65536 bytes/);
    expect(await location.has(`sha256/${sha256sum(file)}`)).toBe(false);
    // A later upload of the same file completes.
    expect((await open().putFile(file)).bytes).toBe(data.length);
  });

  it("refuses a malformed key", async () => {
    const e = await rejection(open().getFile("../etc/passwd", join(dir, "x")));
    expect(e.message).toMatch(/Invalid artifact key "..\/etc\/passwd": expected sha256\/<64 hex digits>/);
  });
}

describe("a folder location", () => {
  let share: string;
  beforeEach(() => {
    share = join(dir, "share");
    mkdirSync(share);
  });
  const open = (opts?: Parameters<typeof openArtifactLocation>[2]) =>
    openArtifactLocation({ kind: "folder", path: "share" }, dir, opts);

  sharedBehaviour(open);

  it("keeps objects as <root>/sha256/<hex>, with no temporary file left behind", async () => {
    const stored = await open().putFile(file);
    expect(readdirSync(join(share, "sha256"))).toEqual([stored.sha256]);
    await open({ readFile: () => failingAfter(DATA, 10) })
      .putFile(file)
      .catch(() => undefined);
    expect(readdirSync(join(share, "sha256"))).toEqual([stored.sha256]);
  });

  it("removes what a killed upload left a day ago, and leaves a live upload's file alone", async () => {
    const sha = join(share, "sha256");
    mkdirSync(sha);
    writeFileSync(join(sha, ".part-dead"), "half");
    writeFileSync(join(sha, ".part-live"), "half");
    const dayAgo = new Date(Date.now() - 25 * 60 * 60 * 1000);
    utimesSync(join(sha, ".part-dead"), dayAgo, dayAgo);
    const stored = await open().putFile(file);
    expect(readdirSync(sha).sort()).toEqual([".part-live", stored.sha256]);
  });

  it("detects a damaged object and writes nothing", async () => {
    const stored = await open().putFile(file);
    const damaged = Buffer.from(DATA);
    damaged[1000] = (damaged[1000] ?? 0) ^ 0xff;
    writeFileSync(join(share, "sha256", stored.sha256), damaged);
    const target = join(dir, "out", "model.onnx");
    const e = await rejection(open().getFile(stored.key, target));
    expect(e).toBeInstanceOf(ArtifactError);
    expect(e.message).toContain(`The artifact ${stored.key} in folder ${share} is damaged`);
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(join(dir, "out"))).toEqual([]);
  });

  it("says when the folder is not there", async () => {
    const location = openArtifactLocation({ kind: "folder", path: "/nonexistent/share" }, dir);
    const e = await rejection(location.putFile(file));
    expect(e.message).toMatch(
      /The artifact folder \/nonexistent\/share \(dagwood.json "artifacts".path\) does not exist or is not a folder/,
    );
    const missing = await rejection(open().getFile(`sha256/${"a".repeat(64)}`, join(dir, "y")));
    expect(missing.message).toMatch(/is not in the artifact folder/);
  });
});

describe("an S3 location (s3rver)", () => {
  let s3: TestS3;
  beforeAll(async () => {
    useTestS3Credentials();
    s3 = await startTestS3();
  });
  afterAll(() => s3.stop());
  const open = (opts?: Parameters<typeof openArtifactLocation>[2]) =>
    openArtifactLocation(s3.settings("team/dagwood"), dir, opts);

  sharedBehaviour(open);

  it("detects an object whose bytes are not its key's and writes nothing", async () => {
    const stored = await open().putFile(file);
    // Another client overwrites the object: the server accepts anything under any key.
    const client = new S3Client({ region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true });
    await client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: `team/dagwood/${stored.key}`,
        Body: Buffer.from("not a model"),
      }),
    );
    client.destroy();
    const target = join(dir, "out", "model.onnx");
    const e = await rejection(open().getFile(stored.key, target));
    expect(e).toBeInstanceOf(ArtifactError);
    expect(e.message).toContain(`The artifact ${stored.key} in s3://${s3.bucket}/team/dagwood`);
    expect(e.message).toContain("is damaged");
    expect(existsSync(target)).toBe(false);
  });

  it("says which bucket is missing", async () => {
    const location = openArtifactLocation({ ...s3.settings(), bucket: "no-such-bucket" }, dir);
    const e = await rejection(location.putFile(file));
    expect(e.message).toMatch(/The bucket "no-such-bucket" does not exist/);
  });

  it("says when the endpoint refuses connections", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    const location = openArtifactLocation({ ...s3.settings(), endpoint: `http://127.0.0.1:${port}` }, dir);
    const e = await rejection(location.putFile(file));
    expect(e.message).toContain(`http://127.0.0.1:${port} could not be reached`);
  });

  it("gives up on a server that accepts the connection and never answers (no hang)", async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as { port: number }).port;
    try {
      const location = openArtifactLocation({ ...s3.settings(), endpoint: `http://127.0.0.1:${port}` }, dir, {
        idleTimeoutMs: 300,
      });
      const e = await rejection(location.has(`sha256/${"b".repeat(64)}`));
      expect(e).toBeInstanceOf(ArtifactError);
      expect(e.message).toContain(`http://127.0.0.1:${port} could not be reached`);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it("says that credentials come from the environment when there are none", async () => {
    const saved = { ...process.env };
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    delete process.env.AWS_PROFILE;
    process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, "none");
    process.env.AWS_CONFIG_FILE = join(dir, "none");
    process.env.AWS_EC2_METADATA_DISABLED = "true";
    try {
      const e = await rejection(open().putFile(file));
      expect(e.message).toMatch(
        /No S3 credentials were found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/,
      );
    } finally {
      process.env = saved;
    }
  });
});

describe("artifact settings", () => {
  it("refuses an s3 location without a bucket, or with a bad one", () => {
    const missing = ArtifactSettingsSchema.safeParse({ kind: "s3", prefix: "p" });
    expect(missing.success).toBe(false);
    expect(missing.error!.issues[0]!.path).toEqual(["bucket"]);
    expect(() => openArtifactLocation({ kind: "s3", bucket: "Bad_Bucket" }, "/tmp")).toThrow(
      /Invalid "artifacts" settings: bucket: an S3 bucket name/,
    );
    expect(() =>
      openArtifactLocation({ kind: "s3", bucket: "b", endpoint: "ftp://x" } as never, "/tmp"),
    ).toThrow(/endpoint: an http:\/\/ or https:\/\/ URL/);
    expect(() => openArtifactLocation({ kind: "s3", bucket: "bkt", prefix: "/p/" }, "/tmp")).toThrow(
      /prefix: a key prefix without a leading or trailing "\/"/,
    );
  });

  it("refuses unknown keys (a credential in the file is a mistake)", () => {
    const r = ArtifactSettingsSchema.safeParse({ kind: "s3", bucket: "bkt", secretAccessKey: "x" });
    expect(r.success).toBe(false);
  });
});
