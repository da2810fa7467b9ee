import path from "node:path";
import { describe, expect, it } from "vitest";
import { resolveHome } from "./resolve-home.js";

describe("resolveHome", () => {
  const env = { HOME: "/home/op" };
  it("the flag wins over the variable, which wins over ~/.llm-runner", () => {
    expect(resolveHome({ ...env, LLM_RUNNER_HOME: "/srv/a" }, "/cwd", "/srv/b")).toBe("/srv/b");
    expect(resolveHome({ ...env, LLM_RUNNER_HOME: "/srv/a" }, "/cwd")).toBe("/srv/a");
    expect(resolveHome(env, "/cwd")).toBe("/home/op/.llm-runner");
    expect(resolveHome({ ...env, LLM_RUNNER_HOME: "  " }, "/cwd")).toBe("/home/op/.llm-runner");
  });

  it("expands ~ and resolves a relative path against cwd, as the config schema does", () => {
    expect(resolveHome(env, "/cwd", "~")).toBe("/home/op");
    expect(resolveHome({ ...env, LLM_RUNNER_HOME: "~/runner" }, "/cwd")).toBe("/home/op/runner");
    expect(resolveHome(env, "/cwd", "state")).toBe(path.join("/cwd", "state"));
  });
});
