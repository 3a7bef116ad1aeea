import { expect, test } from "./fixtures";

test("the editor opens on the example project", async ({ app }) => {
  await expect(app.getByTestId("palette")).toBeVisible();
  await expect(app.getByTestId("canvas")).toBeVisible();
});

test.describe("a pipeline drawn zoomed out", () => {
  // The minimap is left out of a canvas too small for it (geometry.ts minimapFits): a window where it shows.
  test.use({ pipeline: "penguins-model.dag.json", viewport: { width: 1920, height: 1080 } });

  test("the minimap shows every node, before and after React Flow measures them", async ({ app }) => {
    await expect(app.getByTestId("node-gbdt")).toBeAttached();
    // penguins-model has 16 nodes, each in the minimap from the first draw (their sizes are known before React Flow measures).
    await expect(app.locator(".react-flow__minimap-node")).toHaveCount(16);
  });
});
