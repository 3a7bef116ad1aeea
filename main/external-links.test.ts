import { describe, expect, it } from "vitest";
import { externalLink, externalLinkPrompt, MAX_EXTERNAL_URL_LENGTH, OPEN_BUTTON } from "./external-links";

describe("links that leave the app", () => {
  it("offers only http and https addresses with a host and no credentials", () => {
    expect(externalLink("https://onnx.ai/onnx/operators/")?.href).toBe("https://onnx.ai/onnx/operators/");
    expect(externalLink("HTTP://127.0.0.1:8000/v2")?.href).toBe("http://127.0.0.1:8000/v2");
    for (const refused of [
      "file:///etc/passwd",
      "javascript:alert(1)",
      "data:text/html,<script>alert(1)</script>",
      "smb://attacker/share",
      "ms-msdt:/id PCWDiagnostic",
      "mailto:someone@example.com",
      "vscode://file/etc/passwd",
      "app://dagwood/index.html",
      "https://user:password@example.com/",
      "not a url",
      `https://example.com/${"a".repeat(MAX_EXTERNAL_URL_LENGTH)}`,
    ]) {
      expect(externalLink(refused), refused).toBeNull();
    }
  });

  it("asks first, naming the host as the parser writes it, with Cancel the default", () => {
    const prompt = externalLinkPrompt(externalLink("https://docs.example.com/a?b=1")!);
    expect(prompt).toEqual({
      type: "question",
      title: "Open in your browser?",
      message: "Open docs.example.com in your browser?",
      detail: "The full address:\nhttps://docs.example.com/a?b=1",
      buttons: ["Open in browser", "Cancel"],
      defaultId: 1,
      cancelId: 1,
    });
    expect(prompt.buttons[OPEN_BUTTON]).toBe("Open in browser");
    // A look-alike international name shows in its punycode form (Cyrillic "а" here).
    expect(externalLinkPrompt(externalLink("https://\u0430pple.com/")!).message).toBe(
      "Open xn--pple-43d.com in your browser?",
    );
    expect(externalLinkPrompt(externalLink("http://example.com/")!).detail).toMatch(
      /^Not encrypted \(http\)\./,
    );
  });
});
