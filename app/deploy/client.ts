/**
 * A small client for a V2 (Open Inference Protocol) server with Triton's
 * model-repository extension, and Dagwood's traffic extension: what a deploy
 * needs, on `fetch`. Every error names the target, the URL and the status,
 * with the server's `{"error"}` message — and never a secret: a token an
 * HTTP header cannot carry is refused before any request, the token's value
 * is blanked out of any text shown (only the value: a server's "missing
 * bearer token" stays readable), and so is any URL's user name and password.
 */
import {
  DeployError,
  maskUrlCredentials,
  type Target,
  targetUrl,
  tokenOrigin,
  tokenProblem,
  whereTokensGo,
} from "./targets";

export interface TensorMeta {
  name: string;
  datatype: string;
  shape: number[];
}

export interface V2Tensor extends TensorMeta {
  data: unknown[];
}

export interface ModelMetadata {
  name: string;
  versions?: string[];
  platform?: string;
  /** Dagwood: `sha256` of the version's model.onnx (version metadata, or model metadata's primary). */
  parameters?: { sha256?: string } & Record<string, unknown>;
  inputs: TensorMeta[];
  outputs: TensorMeta[];
}

export interface InferResponse {
  model_name: string;
  model_version?: string;
  id?: string;
  outputs: V2Tensor[];
}

export interface IndexRow {
  name: string;
  version?: string;
  state?: string;
  reason?: string;
  /** Dagwood: the version's model.onnx digest. */
  sha256?: string;
}

/** Dagwood's traffic policy (app/serving/repository.ts TrafficPolicy). */
export interface TrafficPolicy {
  primary?: number;
  canary?: { version: number; percent: number };
  shadow?: { version: number };
}

export interface ClientOptions {
  /** Per call, in ms (default 10 s); loads get `loadTimeoutMs`. */
  timeoutMs?: number;
  /** A load uploads and warms a model (default 120 s). */
  loadTimeoutMs?: number;
  fetch?: typeof fetch;
}

export class V2Client {
  private readonly timeoutMs: number;
  private readonly loadTimeoutMs: number;
  private readonly fetchFn: typeof fetch;

  constructor(
    readonly target: Pick<Target, "name" | "url" | "token" | "tokenError"> &
      Partial<Pick<Target, "tokenSource">>,
    opts: ClientOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.loadTimeoutMs = opts.loadTimeoutMs ?? 120_000;
    this.fetchFn = opts.fetch ?? fetch;
  }

  private where(path: string): string {
    return `target "${this.target.name}" (${targetUrl(this.target.url)}${path})`;
  }

  private async request<T>(
    method: "GET" | "POST",
    path: string,
    body?: unknown,
    opts: { timeoutMs?: number; text?: boolean } = {},
  ): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.target.tokenError) throw new DeployError(this.target.tokenError, "invalid");
    if (this.target.token) {
      const problem = tokenProblem(this.target.token);
      if (problem) {
        throw new DeployError(
          `The token for target "${this.target.name}" ${problem}, which an HTTP header cannot carry.`,
          "invalid",
          { target: this.target.name },
        );
      }
      headers.authorization = `Bearer ${this.target.token}`;
    }
    const timeout = opts.timeoutMs ?? this.timeoutMs;
    let res: Response;
    try {
      res = await this.fetchFn(`${this.target.url}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeout),
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const why =
        err.name === "TimeoutError"
          ? `no answer within ${timeout} ms`
          : (err.cause?.code ?? err.cause?.message ?? err.message);
      throw new DeployError(
        `Cannot reach ${this.where(path)}: ${this.redact(String(why))}. Is the server running, and is the URL in dagwood.json right?`,
        "unreachable",
        { target: this.target.name, url: targetUrl(this.target.url) },
      );
    }
    const text = await res.text();
    if (!res.ok) {
      let message = text.slice(0, 500);
      try {
        const parsed = JSON.parse(text) as { error?: unknown };
        if (typeof parsed?.error === "string") message = parsed.error;
      } catch {
        // not JSON: the start of the body is the message
      }
      const said = this.redact(message);
      const base = `${method} ${this.where(path)} failed with ${res.status}: ${said}`;
      const details = { target: this.target.name, url: targetUrl(this.target.url), status: res.status };
      if (res.status === 401 || res.status === 403) {
        throw new DeployError(this.refused(res.status, method, path, said), "unauthorized", details);
      }
      if (res.status === 404) throw new DeployError(base, "not-found", details);
      if (res.status === 409) throw new DeployError(base, "conflict", details);
      throw new DeployError(base, "rejected", details);
    }
    if (opts.text) return text as T;
    try {
      return (text === "" ? {} : JSON.parse(text)) as T;
    } catch {
      throw new DeployError(`${this.where(path)} answered with something that is not JSON`, "invalid", {
        target: this.target.name,
        url: targetUrl(this.target.url),
      });
    }
  }

  /** A 401 or 403: the target refused the token (or asked for one), and where to set it. */
  private refused(status: number, method: string, path: string, said: string): string {
    const { name, token, tokenSource } = this.target;
    const answer = `${method} ${targetUrl(this.target.url)}${path} answered: ${said}`;
    if (!token) {
      return `The target "${name}" refused the request (${status}): no token is set for it. Set ${whereTokensGo(name)} to the server's token. (${answer})`;
    }
    if (tokenSource === "app") {
      return `The target "${name}" refused the token (${status}) of ${tokenOrigin(name, "app")}: the server at ${targetUrl(this.target.url)} is not the app's own. Stop and start the built-in server again. (${answer})`;
    }
    const from = tokenSource ? `, from ${tokenOrigin(name, tokenSource)}` : "";
    return `The target "${name}" refused the token (${status}${from}): set ${whereTokensGo(name)} to the server's token. (${answer})`;
  }

  /**
   * The text with the secrets this client holds blanked out: the token's
   * value, and any URL's user name and password. Words such as "token" or
   * "Bearer" are not secrets and stay.
   */
  /** Secrets this client sends besides the token (the log's privacy key): never repeated in its errors. */
  private readonly secrets: string[] = [];

  /** A secret a request carries (a server that echoes the request must not put it into an error). */
  keepSecret(secret: string): void {
    if (secret) this.secrets.push(secret);
  }

  private redact(text: string): string {
    let out = maskUrlCredentials(text);
    for (const secret of [this.target.token, ...this.secrets])
      if (secret) out = out.split(secret).join("[redacted]");
    return out;
  }

  private static modelPath(name: string, version?: number): string {
    const base = `/v2/models/${encodeURIComponent(name)}`;
    return version === undefined ? base : `${base}/versions/${version}`;
  }

  async live(): Promise<boolean> {
    return (await this.request<{ live?: boolean }>("GET", "/v2/health/live")).live !== false;
  }

  /** False while the server is not ready (Dagwood answers 503 while it restores its models). */
  async ready(): Promise<boolean> {
    try {
      return (await this.request<{ ready?: boolean }>("GET", "/v2/health/ready")).ready !== false;
    } catch (e) {
      if (e instanceof DeployError && e.code === "rejected") return false;
      throw e;
    }
  }

  serverMetadata(): Promise<{ name: string; version: string; extensions: string[] }> {
    return this.request("GET", "/v2");
  }

  modelMetadata(name: string, version?: number): Promise<ModelMetadata> {
    return this.request("GET", V2Client.modelPath(name, version));
  }

  /** False for an unknown model or version. */
  async modelReady(name: string, version?: number): Promise<boolean> {
    try {
      const res = await this.request<{ ready?: boolean }>(
        "GET",
        `${V2Client.modelPath(name, version)}/ready`,
      );
      return res.ready !== false;
    } catch (e) {
      if (e instanceof DeployError && (e.code === "not-found" || e.code === "rejected")) return false;
      throw e;
    }
  }

  infer(name: string, version: number | undefined, inputs: V2Tensor[], id?: string): Promise<InferResponse> {
    return this.request("POST", `${V2Client.modelPath(name, version)}/infer`, {
      ...(id !== undefined ? { id } : {}),
      inputs,
    });
  }

  repositoryIndex(readyOnly = false): Promise<IndexRow[]> {
    return this.request("POST", "/v2/repository/index", readyOnly ? { ready: true } : {});
  }

  /**
   * Uploads `config` (a JSON config) and the files, `file:<version>/model.onnx`
   * base64; `extra` goes in the parameters as is (e.g. Dagwood's
   * `dagwood_keep_primary`).
   */
  load(
    name: string,
    config: unknown,
    files: Map<number, Uint8Array>,
    extra: Record<string, string | boolean> = {},
  ): Promise<unknown> {
    const parameters: Record<string, string | boolean> = { ...extra, config: JSON.stringify(config) };
    for (const [version, bytes] of files) {
      parameters[`file:${version}/model.onnx`] = Buffer.from(bytes).toString("base64");
    }
    return this.request(
      "POST",
      `/v2/repository/models/${encodeURIComponent(name)}/load`,
      { parameters },
      { timeoutMs: this.loadTimeoutMs },
    );
  }

  unload(name: string): Promise<unknown> {
    return this.request("POST", `/v2/repository/models/${encodeURIComponent(name)}/unload`, {});
  }

  /** Dagwood only: the model's traffic policy. */
  traffic(name: string): Promise<{ name: string; policy: TrafficPolicy }> {
    return this.request("GET", `/v2/repository/models/${encodeURIComponent(name)}/traffic`);
  }

  /** Dagwood only: replaces the policy; answers with the version infer-by-model now uses. */
  setTraffic(name: string, policy: TrafficPolicy): Promise<{ policy: TrafficPolicy; primary: string }> {
    return this.request("POST", `/v2/repository/models/${encodeURIComponent(name)}/traffic`, policy, {
      timeoutMs: this.loadTimeoutMs,
    });
  }

  /** The Prometheus text at /metrics (Triton serves it on another port: this is Dagwood's). */
  metrics(): Promise<string> {
    return this.request("GET", "/metrics", undefined, { text: true });
  }
}
