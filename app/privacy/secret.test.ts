import { execFile } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { canonicalText, hashValue, PRIVACY_KEY_FILE, PrivacyKeyError, projectPrivacyKey } from "./secret";

const ROOT = resolve(import.meta.dirname, "..", "..");
let dir = "";
afterEach(() => rmSync(dir, { recursive: true, force: true }));
const project = () => (dir = mkdtempSync(join(tmpdir(), "dagwood-secret-")));

describe("the project's privacy key", () => {
  it("is made once, kept with mode 0600, and read back the same", () => {
    const d = project();
    const key = projectPrivacyKey(d, {});
    expect(key).toHaveLength(32);
    const file = join(d, ".dagwood", PRIVACY_KEY_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(projectPrivacyKey(d, {}).equals(key)).toBe(true);
    // No temporary file is left beside it.
    expect(readdirSync(join(d, ".dagwood")).filter((f) => f.startsWith(PRIVACY_KEY_FILE))).toEqual([
      PRIVACY_KEY_FILE,
    ]);
  });

  it("made by several processes at once, is one key that each of them reads whole", async () => {
    const d = project();
    const script = `import { projectPrivacyKey } from ${JSON.stringify(join(ROOT, "app/privacy/secret.ts"))};
      process.stdout.write(projectPrivacyKey(${JSON.stringify(d)}, {}).toString("hex"));`;
    const run = () =>
      promisify(execFile)(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
        cwd: ROOT,
      });
    const keys = (await Promise.all([run(), run(), run(), run()])).map((r) => r.stdout);
    expect(keys[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(keys).size).toBe(1);
    expect(projectPrivacyKey(d, {}).toString("hex")).toBe(keys[0]);
  });

  it("comes from DAGWOOD_PRIVACY_KEY when set, and a malformed one or a damaged file says what to do", () => {
    const d = project();
    const hex = "ab".repeat(32);
    expect(projectPrivacyKey(d, { DAGWOOD_PRIVACY_KEY: hex }).toString("hex")).toBe(hex);
    expect(() => projectPrivacyKey(d, { DAGWOOD_PRIVACY_KEY: "xyz" })).toThrow(
      /DAGWOOD_PRIVACY_KEY must be 64 hex digits.*openssl rand -hex 32/,
    );
    projectPrivacyKey(d, {});
    writeFileSync(join(d, ".dagwood", PRIVACY_KEY_FILE), "not a key\n");
    expect(() => projectPrivacyKey(d, {})).toThrow(PrivacyKeyError);
    expect(() => projectPrivacyKey(d, {})).toThrow(/Restore it from a backup/);
  });
});

describe("hashValue", () => {
  it('is HMAC-SHA256 of the value\'s text under the key, so 123 and "123" agree and null stays null', () => {
    const key = Buffer.alloc(32, 7);
    const expected = `hmac:${createHmac("sha256", key).update("123").digest("hex").slice(0, 32)}`;
    expect(hashValue(key, 123)).toBe(expected);
    expect(hashValue(key, "123")).toBe(expected);
    expect(hashValue(key, "0123")).not.toBe(expected);
    expect(hashValue(key, null)).toBeNull();
    expect(canonicalText(true)).toBe("true");
    expect(canonicalText(new Date("2024-01-02T00:00:00Z"))).toBe("2024-01-02T00:00:00.000Z");
  });
});
