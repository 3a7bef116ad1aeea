import { describe, expect, it } from "vitest";
import { engineEnv } from "./engine-env";

describe("engineEnv", () => {
  it("fixes glibc's malloc thresholds on Linux and keeps what the user set", () => {
    expect(engineEnv({ PATH: "/bin" }, "linux")).toEqual({
      PATH: "/bin",
      MALLOC_MMAP_THRESHOLD_: "1048576",
      MALLOC_TRIM_THRESHOLD_: "131072",
    });
    expect(engineEnv({ MALLOC_TRIM_THRESHOLD_: "0" }, "linux").MALLOC_TRIM_THRESHOLD_).toBe("0");
  });

  it("leaves other platforms' environment as it is", () => {
    const env = { PATH: "/bin" };
    expect(engineEnv(env, "darwin")).toBe(env);
    expect(engineEnv(env, "win32")).toBe(env);
  });
});
