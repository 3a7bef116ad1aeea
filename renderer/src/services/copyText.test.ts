import { beforeEach, describe, expect, it } from "vitest";
import { useToasts } from "../store/toasts";
import { copyText } from "./copyText";

const messages = () => useToasts.getState().toasts.map((t) => `${t.kind}: ${t.message}`);

describe("copyText", () => {
  beforeEach(() => useToasts.setState({ toasts: [] }));

  it("writes the text and says what was copied", async () => {
    let written = "";
    const ok = await copyText("curl -s …", "curl command", {
      writeText: async (t: string) => {
        written = t;
      },
    });
    expect(ok).toBe(true);
    expect(written).toBe("curl -s …");
    expect(messages()).toEqual(["info: Curl command copied"]);
  });

  it("says why nothing was copied where the page has no clipboard (http from another machine)", async () => {
    expect(await copyText("abc", "hash", undefined)).toBe(false);
    expect(messages()).toEqual([
      "error: Could not copy the hash: this page may not use the clipboard (it is not served over https or from this machine). Select the text and copy it.",
    ]);
  });

  it("passes on the browser's refusal", async () => {
    const refused = await copyText("abc", "hash", {
      writeText: () => Promise.reject(new DOMException("Write permission denied.", "NotAllowedError")),
    });
    expect(refused).toBe(false);
    expect(messages()).toEqual([
      "error: Could not copy the hash (Write permission denied.): select the text and copy it.",
    ]);
  });
});
