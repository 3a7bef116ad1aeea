// Builds the CLI bundle once before the tests that spawn bin/dagwood.
export default async function setup() {
  // @ts-expect-error: a plain ESM script without types
  const { build } = await import("./bin/build.mjs");
  await build({ targets: ["cli"] });
}
