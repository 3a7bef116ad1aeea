/**
 * The packaged app's fuses (electron-builder.yml `electronFuses`). The file is
 * read as text (no YAML parser among the dependencies): the block is the
 * indented lines under its key.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const CONFIG = join(import.meta.dirname, "..", "electron-builder.yml");

function fuses(text: string): Record<string, string> {
  const lines = text.split("\n");
  const start = lines.indexOf("electronFuses:");
  if (start < 0) return {};
  const out: Record<string, string> = {};
  for (const line of lines.slice(start + 1)) {
    const m = /^ {2}([A-Za-z]+): *(\S+)\s*$/.exec(line);
    if (!m) break;
    out[m[1]!] = m[2]!;
  }
  return out;
}

describe("the packaged app's fuses", () => {
  it("turn off RunAsNode, NODE_OPTIONS and --inspect, encrypt cookies, load the app only from its asar", () => {
    const text = readFileSync(CONFIG, "utf8");
    expect(fuses(text)).toEqual({
      runAsNode: "false",
      enableNodeOptionsEnvironmentVariable: "false",
      enableNodeCliInspectArguments: "false",
      enableCookieEncryption: "true",
      onlyLoadAppFromAsar: "true",
      grantFileProtocolExtraPrivileges: "false",
    });
    // onlyLoadAppFromAsar needs the app packed in an asar.
    expect(text).toMatch(/^asar: true$/m);
  });
});
