import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { captureIo } from "./testing";
import { confirmUnmasked } from "./unmask";

/** A terminal's stdin that answers `line` once asked. */
function terminal(line: string) {
  const stdin = Object.assign(new PassThrough(), { isTTY: true });
  setTimeout(() => stdin.write(`${line}\n`), 10);
  return stdin;
}

describe("confirmUnmasked", () => {
  it("goes on without --unmasked, and with --yes, asking nothing", async () => {
    const io = captureIo(false);
    expect(await confirmUnmasked(io, {})).toBeNull();
    expect(await confirmUnmasked(io, { unmasked: true, yes: true })).toBeNull();
    expect(io.err()).toBe("");
  });

  it("off a terminal without --yes: exit 2 and how to confirm", async () => {
    const io = captureIo(false);
    const stdin = Object.assign(new PassThrough(), { isTTY: false });
    expect(await confirmUnmasked(io, { unmasked: true }, stdin)).toBe(2);
    expect(io.err()).toContain("add --yes");
  });

  it("on a terminal asks, and goes on only for y or yes", async () => {
    for (const [answer, result] of [
      ["y", null],
      ["YES", null],
      ["", 1],
      ["n", 1],
      ["sure", 1],
    ] as const) {
      const io = captureIo(true);
      expect(await confirmUnmasked(io, { unmasked: true }, terminal(answer))).toBe(result);
      expect(io.err()).toContain("Export personal data in clear?");
      expect(io.err()).toContain("[y/N]");
      if (result !== null) expect(io.err()).toContain("Not exported.");
    }
  });
});
