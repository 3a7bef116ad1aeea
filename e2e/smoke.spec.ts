import { expect, test } from "./fixtures";

test("the editor opens on the example project", async ({ app }) => {
  await expect(app.getByTestId("palette")).toBeVisible();
  await expect(app.getByTestId("canvas")).toBeVisible();
});
