// A password written into store.url's query (`?password=…`, `?sslpassword=…`) is refused when
// dagwood.json is read, as one in the URL's user part is: otherwise the store opens the keychain with
// the URL on the keychain tool's command line (visible to every user in `ps`) before libpq refuses it.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ProjectSettingsError, readProjectSettings } from "../project/project";
import { openProjectStore } from "./open";

const SECRET = "hunter2-in-the-query";
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function projectWith(settings: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "dagwood-open-secret-"));
  dirs.push(dir);
  writeFileSync(join(dir, "dagwood.json"), JSON.stringify(settings));
  return dir;
}

describe("a store URL with a password in its query", () => {
  for (const key of ["password", "sslpassword"]) {
    it(`refuses ?${key}= in dagwood.json, without repeating it, before any keychain look-up`, () => {
      const url = `postgres://ana@127.0.0.1:1/team?${key}=${SECRET}`;
      const dir = projectWith({ store: { kind: "postgres", url } });
      let err: unknown;
      try {
        readProjectSettings(dir);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ProjectSettingsError);
      expect((err as Error).message).toContain("store.url: the URL carries a password");
      expect((err as Error).message).not.toContain(SECRET);
    });
  }

  it("never hands such a URL to the keychain tool (its arguments are public in ps)", () => {
    const argv: string[][] = [];
    const run = (command: string, args: string[]) => {
      argv.push([command, ...args]);
      throw new Error("no such secret");
    };
    const url = `postgres://ana@127.0.0.1:1/team?password=${SECRET}`;
    expect(() =>
      openProjectStore(
        "/nonexistent",
        { store: { kind: "postgres", url, schema: "dagwood" } },
        { env: {}, platform: "linux", run },
      ),
    ).toThrow();
    expect(argv.flat().join(" ")).not.toContain(SECRET);
  });
});
