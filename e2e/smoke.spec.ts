import { expect, test } from "./fixtures";

test("the editor opens on the example project", async ({ app }) => {
  await expect(app.getByTestId("palette")).toBeVisible();
  await expect(app.getByTestId("canvas")).toBeVisible();
});

test.describe("a pipeline drawn zoomed out", () => {
  test.use({ pipeline: "penguins-model.dag.json" });

  test("the minimap shows every node, before and after React Flow measures them", async ({ app }) => {
    await expect(app.getByTestId("node-gbdt")).toBeAttached();
    // penguins-model has 15 nodes; at 1280×720 it opens fitted, below the zoom where nodes turn compact.
    await expect(app.locator(".react-flow__minimap-node")).toHaveCount(15);
  });
});
