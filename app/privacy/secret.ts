/**
 * The per-project key that tagged values are hashed with (the inference log's
 * `hash` policy, erasure's look-up of hashed values): HMAC-SHA256, so equal
 * values give equal hashes (monitoring and feedback still join) while a value
 * cannot be found from its hash without the key. The key is
 * `DAGWOOD_PRIVACY_KEY` (64 hex digits) when set — machines sharing a team
 * store set the same one — else `.dagwood/privacy.key`, 32 random bytes made
 * on first use with mode 0600.
 */
import { createHmac, randomBytes } from "node:crypto";
import { existsSync, linkSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureStoreDir } from "../project/project";

export const PRIVACY_KEY_VARIABLE = "DAGWOOD_PRIVACY_KEY";
export const PRIVACY_KEY_FILE = "privacy.key";
/** Every hashed value starts so, and a reader can tell it from a value sent in clear. */
export const HASH_PREFIX = "hmac:";

export class PrivacyKeyError extends Error {
  override name = "PrivacyKeyError";
}

/** The project's key (see the file comment); made when there is none. */
export function projectPrivacyKey(projectDir: string, env: NodeJS.ProcessEnv = process.env): Buffer {
  const fromEnv = env[PRIVACY_KEY_VARIABLE];
  if (fromEnv !== undefined && fromEnv !== "") {
    if (!/^[0-9a-fA-F]{64}$/.test(fromEnv))
      throw new PrivacyKeyError(
        `${PRIVACY_KEY_VARIABLE} must be 64 hex digits (32 bytes); make one with: openssl rand -hex 32`,
      );
    return Buffer.from(fromEnv, "hex");
  }
  const file = join(ensureStoreDir(projectDir), PRIVACY_KEY_FILE);
  if (!existsSync(file)) {
    // Written whole under another name, then linked into place (link fails when the name exists):
    // of two processes making the key at once, one's key is the key, and neither reads a half file.
    const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
    writeFileSync(temp, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600, flag: "wx" });
    try {
      linkSync(temp, file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    } finally {
      rmSync(temp, { force: true });
    }
  }
  const text = readFileSync(file, "utf8").trim();
  if (!/^[0-9a-f]{64}$/.test(text))
    throw new PrivacyKeyError(
      `${file} is not a privacy key (64 hex digits). Restore it from a backup: hashes made with the old key no longer match without it.`,
    );
  return Buffer.from(text, "hex");
}

/** The text a value is hashed as: numbers, booleans and bigints by their decimal text, so 123 and "123" agree. */
export function canonicalText(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean")
    return String(value);
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value);
}

/** `hmac:` and the first 32 hex digits of HMAC-SHA256(key, canonicalText(value)); null stays null. */
export function hashValue(key: Buffer, value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return HASH_PREFIX + createHmac("sha256", key).update(canonicalText(value)).digest("hex").slice(0, 32);
}
