/**
 * How to call a served model, as pasted: a curl of V2 infer whose body is a
 * real held-out row of the version that serves (inferExample), each input's
 * type and unit beside it (a date as epoch milliseconds, UTC; a category as
 * a string; what null becomes), and what comes back (the class names of the
 * probabilities' columns).
 */
import { useEffect, useState } from "react";
import type { InferExample } from "../../../app/api/api";
import { api } from "../api/client";
import { copyText } from "../services/copyText";
import { messageOf } from "../services/errors";
import { inferCurl, tokenVariable } from "./format";

export function InferSnippet({
  url,
  model,
  version,
  target,
  guarded,
  open = false,
}: {
  url: string;
  model: string;
  version: number;
  /** The target's name (for the token variable a guarded target's curl reads). */
  target: string;
  /** The target needs a token for infer (not the built-in server). */
  guarded: boolean;
  /** Shown open at first (the built-in server's card, where calling it is the next step). */
  open?: boolean;
}) {
  const [example, setExample] = useState<InferExample | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    setExample(null);
    setError(null);
    api
      .inferExample({ name: model, ref: version })
      .then((e) => live && setExample(e))
      .catch((e) => live && setError(messageOf(e)));
    return () => {
      live = false;
    };
  }, [model, version]);

  if (error)
    return (
      <p className="muted small" data-testid={`infer-example-error-${model}`}>
        No example request for v{version}: {error}
      </p>
    );
  if (!example) return null;
  const curl = inferCurl(url, model, example.body, guarded ? tokenVariable(target) : undefined);
  const copy = () => void copyText(curl, "curl command");
  return (
    <details className="infer-snippet" data-testid={`infer-snippet-${model}`} open={open}>
      <summary>
        Call it: a request that works as pasted{" "}
        <span className="muted small">
          (v{example.version}, {example.source === "heldout" ? "a real held-out row" : "typed example values"}
          )
        </span>
      </summary>
      <div className="infer-snippet-head">
        <span className="muted small">{example.note}.</span>
        <button
          type="button"
          className="button small"
          data-testid={`infer-copy-${model}`}
          aria-label={`Copy the curl command for ${model}`}
          onClick={copy}
        >
          Copy
        </button>
      </div>
      <pre className="mono" data-testid={`infer-curl-${model}`}>
        {curl}
      </pre>
      <table className="infer-inputs" data-testid={`infer-inputs-${model}`}>
        <thead>
          <tr>
            <th>input</th>
            <th>send as</th>
            <th>example</th>
            <th>missing (null)</th>
          </tr>
        </thead>
        <tbody>
          {example.inputs.map((i) => (
            <tr key={i.name} data-testid={`infer-input-${i.name}`}>
              <td className="mono">
                {i.name}
                <div className="muted small">
                  {i.datatype}
                  {i.sourceType ? ` · column ${i.sourceType}` : ""}
                </div>
              </td>
              <td>
                {i.how}
                {i.categories && i.categories.length > 0 && (
                  <div className="muted small" title={i.categories.join(", ")}>
                    one of {i.categories.slice(0, 6).join(", ")}
                    {i.categories.length > 6 ? "…" : ""}
                  </div>
                )}
              </td>
              <td className="mono">{i.shown}</td>
              <td className="small">{i.missing}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="small infer-outputs" data-testid={`infer-outputs-${model}`}>
        It answers{" "}
        {example.outputs.map((o, k) => (
          <span key={o.name}>
            {k > 0 ? "; " : ""}
            <span className="mono">{o.name}</span> ({o.datatype}): {o.what}
          </span>
        ))}
        . Every input is required as a tensor of shape [rows, 1]; a value may be null where the table says
        what null becomes.
      </p>
    </details>
  );
}
