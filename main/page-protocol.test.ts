import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, sep } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONTENT_SECURITY_POLICY } from "../app/api/csp";
import { isPageUrl, PAGE_URL, pageResponse, pageUrl, resolvePageFile } from "./page-protocol";

describe("the app:// page protocol", () => {
  let base: string;
  let root: string;
  beforeAll(() => {
    base = mkdtempSync(join(tmpdir(), "dagwood-page-"));
    root = join(base, "renderer");
    mkdirSync(join(root, "assets"), { recursive: true });
    writeFileSync(join(root, "index.html"), "<!doctype html><title>Dagwood</title>");
    writeFileSync(join(root, "assets", "app.js"), "console.log(1)");
    writeFileSync(join(root, "notes.txt"), "not a page file");
    // Beside the page's folder: what a traversal would reach.
    writeFileSync(join(base, "outside.html"), "SECRET");
    writeFileSync(join(base, "renderer-evil.html"), "SECRET");
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it("serves the page's files: / is index.html, assets by path, query and fragment ignored", () => {
    expect(resolvePageFile(root, "app://dagwood/")).toEqual({
      ok: true,
      file: join(root, "index.html"),
      type: "text/html; charset=utf-8",
    });
    expect(resolvePageFile(root, "app://dagwood")).toMatchObject({
      ok: true,
      file: join(root, "index.html"),
    });
    expect(resolvePageFile(root, `${PAGE_URL}?pipeline=a.dag.json#x`)).toMatchObject({
      ok: true,
      file: join(root, "index.html"),
    });
    expect(resolvePageFile(root, "app://DAGWOOD/assets/app.js")).toEqual({
      ok: true,
      file: join(root, "assets", "app.js"),
      type: "text/javascript; charset=utf-8",
    });
  });

  it("never resolves outside the page's folder, however the path is written", () => {
    const attacks = [
      "app://dagwood/../outside.html",
      "app://dagwood/%2e%2e/outside.html",
      "app://dagwood/.%2e/outside.html",
      "app://dagwood/assets/..%2f..%2foutside.html",
      "app://dagwood/assets%2f%2e%2e%2f%2e%2e%2foutside.html",
      "app://dagwood/..%5coutside.html",
      "app://dagwood/..\\outside.html",
      "app://dagwood/%2e%2e%5c%2e%2e%5coutside.html",
      "app://dagwood/..%2frenderer-evil.html",
      "app://dagwood/C:%5cWindows%5cwin.ini",
      "app://dagwood/index.html%00.js",
      "app://dagwood//etc/passwd",
      `app://dagwood/${encodeURIComponent(join(base, "outside.html"))}`,
    ];
    for (const url of attacks) {
      const r = resolvePageFile(root, url);
      if (r.ok) expect(r.file.startsWith(root + sep), `${url} -> ${r.file}`).toBe(true);
    }
    // The encoded forms are refused outright, naming why.
    expect(resolvePageFile(root, "app://dagwood/assets/..%2f..%2foutside.html")).toEqual({
      ok: false,
      status: 403,
      reason: "the path leaves the page's folder",
    });
    expect(resolvePageFile(root, "app://dagwood/..%5coutside.html")).toMatchObject({
      ok: false,
      status: 403,
    });
    expect(resolvePageFile(root, "app://dagwood/index.html%00.js")).toMatchObject({ ok: false, status: 403 });
    expect(resolvePageFile(root, "app://dagwood/%E0%A4%A.html")).toMatchObject({ ok: false, status: 400 });
  });

  it("serves only its own origin and the renderer's file types", () => {
    for (const url of [
      "app://other/index.html",
      "app://user:pw@dagwood/index.html",
      "file:///etc/passwd",
      "https://dagwood/index.html",
    ]) {
      expect(resolvePageFile(root, url), url).toMatchObject({ ok: false, status: 404 });
    }
    expect(resolvePageFile(root, "app://dagwood/notes.txt")).toEqual({
      ok: false,
      status: 404,
      reason: "not a file type of the page",
    });
    expect(resolvePageFile(root, "not a url")).toMatchObject({ ok: false, status: 400 });
  });

  it("answers with the file and the CSP, and never reads a refused path", async () => {
    const read: string[] = [];
    const reader = (file: string) => {
      read.push(file);
      return readFile(file);
    };
    const page = await pageResponse(root, "app://dagwood/index.html", reader);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toBe(CONTENT_SECURITY_POLICY);
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await page.text()).toBe(readFileSync(join(root, "index.html"), "utf8"));

    const escaping = await pageResponse(root, "app://dagwood/assets/..%2f..%2foutside.html", reader);
    expect(escaping.status).toBe(403);
    expect(await escaping.text()).not.toContain("SECRET");
    const missing = await pageResponse(root, "app://dagwood/assets/none.js", reader);
    expect(missing.status).toBe(404);
    expect(read).toEqual([join(root, "index.html"), join(root, "assets", "none.js")]);
  });

  it("knows its own page's URL, and carries the pipeline in the query", () => {
    expect(isPageUrl("app://dagwood/index.html")).toBe(true);
    expect(isPageUrl("app://dagwood/index.html?pipeline=a.dag.json#n")).toBe(true);
    for (const other of [
      undefined,
      "",
      "app://dagwood/other.html",
      "app://evil/index.html",
      "app://x@dagwood/index.html",
      "file:///index.html",
      "https://dagwood/index.html",
    ]) {
      expect(isPageUrl(other), String(other)).toBe(false);
    }
    const url = new URL(pageUrl("my pipelines/a&b.dag.json"));
    expect(isPageUrl(url.href)).toBe(true);
    expect(url.searchParams.get("pipeline")).toBe("my pipelines/a&b.dag.json");
    expect(pageUrl()).toBe(PAGE_URL);
  });
});
