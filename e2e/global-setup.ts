// Builds the renderer (and the Electron main process) when stale, before any test opens them.
export default async function globalSetup() {
  // @ts-expect-error: a plain ESM script without types
  const { build } = await import("../bin/build.mjs");
  await build({ targets: ["renderer", "main"] });
}
