import {
  chmodSync,
  chownSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { engineFilePath, readEngineFile, removeEngineFile, writeEngineFile } from "./engine-file";

describe(".dagwood/engine.json", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-engine-file-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const bridge = { host: "127.0.0.1", port: 4321, token: "t".repeat(32) };

  it("is written 0600 whatever the umask, and read back", () => {
    const before = process.umask(0o000);
    try {
      writeEngineFile(dir, bridge);
    } finally {
      process.umask(before);
    }
    expect(statSync(engineFilePath(dir)).mode & 0o777).toBe(0o600);
    expect(readEngineFile(dir)).toMatchObject({ ...bridge, pid: process.pid, owner: { pid: process.pid } });
    // The store folder keeps it out of git.
    expect(readFileSync(join(dir, ".dagwood", ".gitignore"), "utf8")).toContain("*");
  });

  it("replaces a link in its place rather than writing through it", () => {
    writeEngineFile(dir, bridge);
    const outside = join(dir, "elsewhere.json");
    writeFileSync(outside, "keep");
    rmSync(engineFilePath(dir));
    symlinkSync(outside, engineFilePath(dir));
    writeEngineFile(dir, bridge);
    expect(readFileSync(outside, "utf8")).toBe("keep");
    expect(readEngineFile(dir)?.token).toBe(bridge.token);
  });

  it("reads nothing from a missing, torn or foreign file", () => {
    expect(readEngineFile(dir)).toBeUndefined();
    writeEngineFile(dir, bridge);
    writeFileSync(engineFilePath(dir), '{ "pid": 12');
    expect(readEngineFile(dir)).toBeUndefined();
    writeFileSync(engineFilePath(dir), JSON.stringify({ pid: "12", port: 1, token: "short" }));
    expect(readEngineFile(dir)).toBeUndefined();
  });

  it("is not taken from a file others may read or write, another user's, or a link", () => {
    writeEngineFile(dir, bridge);
    const file = engineFilePath(dir);
    // As git checks a file out (a project cloned with a .dagwood/engine.json in it): 0644.
    chmodSync(file, 0o644);
    expect(readEngineFile(dir)).toBeUndefined();
    chmodSync(file, 0o620);
    expect(readEngineFile(dir)).toBeUndefined();
    chmodSync(file, 0o600);
    expect(readEngineFile(dir)?.token).toBe(bridge.token);

    // A link to a file that would pass: not followed.
    const elsewhere = join(dir, "elsewhere.json");
    renameSync(file, elsewhere);
    symlinkSync(elsewhere, file);
    expect(readEngineFile(dir)).toBeUndefined();
    rmSync(file);
    renameSync(elsewhere, file);
    expect(readEngineFile(dir)?.token).toBe(bridge.token);

    // Another user's file, however strict its mode (only root can give a file away).
    if (process.getuid?.() === 0) {
      chownSync(file, 4242, 4242);
      expect(readEngineFile(dir)).toBeUndefined();
      // Nor removed: it is not this engine's to remove.
      removeEngineFile(dir, bridge.token);
      expect(statSync(file).uid).toBe(4242);
    }
  });

  it("is removed only by the engine that wrote it", () => {
    writeEngineFile(dir, bridge);
    removeEngineFile(dir, "another engine's token, long enough");
    expect(readEngineFile(dir)?.token).toBe(bridge.token);
    removeEngineFile(dir, bridge.token);
    expect(readEngineFile(dir)).toBeUndefined();
    // Nothing to remove is no error.
    removeEngineFile(dir, bridge.token);
  });
});
