import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveProjectPath } from "../engine/paths";
import { checkQueryFiles } from "./sql-files";

describe("checkQueryFiles", () => {
  let dir: string;
  const check = (query: string) => checkQueryFiles(query, dir, (p) => resolveProjectPath(dir, [dir], p));
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-sqlfiles-"));
    mkdirSync(join(dir, "data", "2024"), { recursive: true });
    writeFileSync(join(dir, "data", "a.csv"), "x\n1\n");
    writeFileSync(join(dir, "data", "2024", "b.csv"), "x\n2\n");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("makes relative names absolute in the query it returns, and lists the files a glob matches", async () => {
    const r = await check("SELECT * FROM read_csv('data/**/*.csv') JOIN 'data/a.csv' USING (x)");
    expect(r.query).toBe(`SELECT * FROM read_csv('${dir}/data/**/*.csv') JOIN '${dir}/data/a.csv' USING (x)`);
    expect(r.files).toEqual([join(dir, "data", "2024", "b.csv"), join(dir, "data", "a.csv")]);
    // Strings that name no file are left alone, and table names are not files.
    const plain = await check("SELECT 'data/a.csv' AS label, * FROM input, main.input AS i2");
    expect(plain.query).toBe("SELECT 'data/a.csv' AS label, * FROM input, main.input AS i2");
    expect(plain.files).toEqual([]);
  });

  it("ends a ** walk through a link loop, and refuses a pattern that reaches too many entries", async () => {
    symlinkSync(join(dir, "data"), join(dir, "data", "2024", "loop"));
    const r = await check("SELECT * FROM read_csv('data/**/*.csv')");
    expect(r.files).toContain(join(dir, "data", "a.csv"));
    const many = join(dir, "many");
    mkdirSync(many);
    for (let i = 0; i < 60; i += 1) writeFileSync(join(many, `f${i}`), "");
    const limited = (query: string) =>
      checkQueryFiles(query, dir, (p) => resolveProjectPath(dir, [dir], p), 50);
    await expect(limited("SELECT * FROM read_text('many/*')")).rejects.toThrow(
      /reaches more than 50 entries\. Narrow it/,
    );
    expect((await limited("SELECT * FROM read_text('data/*.csv')")).files).toEqual([
      join(dir, "data", "a.csv"),
    ]);
  });

  it('refuses "**" inside a name, and a glob whose fixed folder leads out', async () => {
    await expect(check("SELECT * FROM read_csv('data/x**/*.csv')")).rejects.toThrow(
      /"\*\*" stands for whole folder levels/,
    );
    await expect(check("SELECT * FROM read_csv('/etc/*.conf')")).rejects.toThrow(
      /read_csv\('\/etc\/\*\.conf'\): The path "\/etc" is outside the project folder/,
    );
  });
});
