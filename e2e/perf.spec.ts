/**
 * Performance figures of the editor (printed, checked against the goals of
 * the app issue; a missed goal prints MISSED rather than failing, as speed is
 * judged on figures, not in timed tests):
 * - a 300-node pipeline opens and renders in under 0.6 s (seen whole, its nodes are drawn compact);
 * - dragging a node on it keeps above 50 frames per second;
 * - first paint of the editor under 1 s from a cold start of browser mode.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "./fixtures";

const verdict = (ok: boolean) => (ok ? "ok" : "MISSED");

function bigPipeline(n: number) {
  const nodes = [{ id: "n0", block: "ingest.file", params: { path: "data/penguins.csv" } }];
  const edges: { from: string; to: string }[] = [];
  const layout: Record<string, { x: number; y: number }> = { n0: { x: 0, y: 0 } };
  for (let i = 1; i < n; i++) {
    nodes.push({ id: `n${i}`, block: "shuffle", params: { seed: i } } as never);
    edges.push({ from: `n${Math.floor((i - 1) / 2)}.out`, to: `n${i}.in` });
    layout[`n${i}`] = { x: (i % 20) * 260, y: Math.floor(i / 20) * 160 };
  }
  return { format: "dagwood.pipeline/1", name: "big", params: {}, nodes, edges, layout };
}

// No Playwright trace here: recording one snapshots the whole DOM around every action, inside the
// page, which on a page of thousands of elements adds more time than the app takes (measured: compare
// 50 runs 1,130 ms with the trace, 230 ms without; the 300-node open 520 to 850 ms against 415 to 440).
test.use({ trace: "off" });
test.use({ pipeline: "penguins.dag.json" });

test("300 nodes open fast and drag smoothly", async ({ app: page, projectDir }) => {
  writeFileSync(join(projectDir, "big.dag.json"), JSON.stringify(bigPipeline(300)));
  await page.reload(); // lists the new file
  await expect(page.getByTestId("node-penguins")).toBeVisible();
  // Open it from the pipeline selector, as a user does (the app is already loaded).
  const t0 = Date.now();
  await page.getByTestId("pipeline-select").selectOption("big.dag.json");
  // Checked on every animation frame: expect's polling backs off to 500 ms steps, which would add
  // up to half a second to the figure.
  await page.waitForFunction(
    () => {
      const first = document.querySelector('[data-testid="node-n0"]');
      const wrapper = first?.closest(".react-flow__node");
      return (
        !!document.querySelector('[data-testid="node-n299"]') &&
        !!wrapper &&
        getComputedStyle(wrapper).visibility === "visible" &&
        first!.getBoundingClientRect().width > 0
      );
    },
    null,
    { polling: "raf" },
  );
  const openMs = Date.now() - t0;
  const rendered = await page.locator('[data-testid^="node-n"]').count();

  const node = page.getByTestId("node-n0");
  const box = (await node.boundingBox())!;
  await page.evaluate(() => {
    const w = window as unknown as { __frames: number[]; __stop: boolean };
    w.__frames = [];
    w.__stop = false;
    const tick = (t: number) => {
      w.__frames.push(t);
      if (!w.__stop) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await page.mouse.move(box.x + 40, box.y + 12);
  await page.mouse.down();
  for (let i = 0; i < 120; i++) {
    await page.mouse.move(box.x + 40 + i * 3, box.y + 12 + Math.sin(i / 10) * 40);
  }
  await page.mouse.up();
  const frames = await page.evaluate(() => {
    const w = window as unknown as { __frames: number[]; __stop: boolean };
    w.__stop = true;
    return w.__frames;
  });
  const seconds = (frames.at(-1)! - frames[0]!) / 1000;
  const fps = (frames.length - 1) / seconds;
  const gaps = frames.slice(1).map((t, i) => t - frames[i]!);
  const p95 = gaps.sort((a, b) => a - b)[Math.floor(gaps.length * 0.95)]!;

  console.log(
    `\n300-node pipeline: opened and rendered in ${openMs} ms (${rendered} nodes drawn)   goal < 600 ms ${verdict(openMs < 600)}`,
  );
  console.log(
    `dragging a node: ${fps.toFixed(1)} frames/s, p95 frame ${p95.toFixed(1)} ms   goal > 50 fps ${verdict(fps > 50)}`,
  );
  expect(rendered).toBeGreaterThan(0);
});

test("first paint of the editor from a cold start of browser mode", async ({ browser, projectDir }) => {
  const t0 = Date.now();
  const server = spawn(
    process.execPath,
    [
      join(import.meta.dirname, "..", "bin", "dagwood"),
      "ui",
      "--project",
      projectDir,
      "--pipeline",
      "penguins.dag.json",
    ],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      server.stdout!.on("data", (d) => {
        out += d;
        const m = /https?:\/\/\S+/.exec(out);
        if (m) resolve(m[0]);
      });
      server.on("exit", (code) => reject(new Error(`dagwood ui exited ${code}`)));
    });
    const serverMs = Date.now() - t0;
    const page = await browser.newPage();
    const t1 = Date.now();
    await page.goto(url);
    await expect(page.getByTestId("palette")).toBeVisible();
    await expect(page.getByTestId("node-penguins")).toBeVisible();
    const editorMs = Date.now() - t1;
    const fcp = await page.evaluate(
      () =>
        performance.getEntriesByType("paint").find((e) => e.name === "first-contentful-paint")?.startTime ??
        -1,
    );
    console.log(
      `\ncold start: server ready in ${serverMs} ms; first contentful paint ${fcp.toFixed(0)} ms after navigation   goal < 1000 ms ${verdict(fcp >= 0 && fcp < 1000)}; editor with the pipeline drawn ${editorMs} ms`,
    );
    await page.close();
  } finally {
    server.kill("SIGTERM");
  }
});

test("a node drawn compact when zoomed out keeps its box and its handles where they were", async ({
  app: page,
}) => {
  const node = page.getByTestId("node-split");
  await expect(node).toBeVisible();
  await expect(node).not.toHaveClass(/compact/);
  // The node's box and its handles' centres, in canvas units (divided by the zoom).
  const geometry = () =>
    node.evaluate((el) => {
      const viewport = document.querySelector(".react-flow__viewport")!;
      const zoom = new DOMMatrixReadOnly(getComputedStyle(viewport).transform).a;
      const box = el.getBoundingClientRect();
      const handles = Array.from(el.querySelectorAll(".react-flow__handle")).map((h) => {
        const r = h.getBoundingClientRect();
        return {
          id: h.getAttribute("data-handleid"),
          x: (r.x + r.width / 2 - box.x) / zoom,
          y: (r.y + r.height / 2 - box.y) / zoom,
        };
      });
      return { zoom, width: box.width / zoom, height: box.height / zoom, handles };
    });
  const full = await geometry();
  const canvas = (await page.getByTestId("canvas").boundingBox())!;
  await page.mouse.move(canvas.x + canvas.width / 2, canvas.y + canvas.height / 3);
  for (let i = 0; i < 20 && !(await node.getAttribute("class"))?.includes("compact"); i++) {
    await page.mouse.wheel(0, 400);
    await page.waitForTimeout(50);
  }
  await expect(node).toHaveClass(/compact/);
  await expect(node.locator(".port-name")).toHaveCount(0);
  const compact = await geometry();
  expect(compact.zoom).toBeLessThan(full.zoom);
  expect(compact.width).toBeCloseTo(full.width, 0);
  expect(compact.height).toBeCloseTo(full.height, 0);
  expect(compact.handles.map((h) => h.id)).toEqual(full.handles.map((h) => h.id));
  compact.handles.forEach((h, i) => {
    expect(Math.abs(h.x - full.handles[i]!.x)).toBeLessThan(1);
    expect(Math.abs(h.y - full.handles[i]!.y)).toBeLessThan(1);
  });
});
