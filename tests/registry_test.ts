import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";
import {
  findProvider,
  listProviders,
  openProvider,
  registerProvider,
  unregisterProvider,
} from "../providers/registry.ts";
import type { Provider } from "../providers/provider.ts";
// Loading the test kit registers the in-memory provider.
import { MemoryProvider } from "../testing/memory_provider.ts";

Deno.test("registry lists the built-in providers with their aliases", () => {
  const list = listProviders();
  const byName = Object.fromEntries(list.map((p) => [p.name, p]));
  assert.deepEqual(byName.ccxt!.aliases, ["CCXTProvider"]);
  assert.deepEqual(byName.capitalcom!.aliases, ["CapitalComProvider"]);
  assert.equal(byName.memory!.builtin, true);
  assert.deepEqual(
    list.map((p) => p.name),
    [...list.map((p) => p.name)].sort(),
  );
});

Deno.test("registry finds providers by name and alias, case-insensitively", () => {
  assert.equal(findProvider("CCXT"), findProvider("ccxtprovider"));
  assert.equal(findProvider("CapitalComProvider"), findProvider("CAPITALCOM"));
  assert.equal(findProvider("nope"), undefined);
});

Deno.test("registry opens the memory provider the test kit registered, by alias", async () => {
  await using p = await openProvider("memoryprovider");
  assert.ok(p instanceof MemoryProvider);
  assert.equal(p.name, "memory");
});

Deno.test("registry refuses an unknown provider naming the available ones", async () => {
  await assert.rejects(
    openProvider("kraken-direct"),
    (e: unknown) =>
      e instanceof RangeError &&
      /Unknown provider "kraken-direct"/.test(e.message) &&
      /ccxt/.test(e.message),
  );
});

Deno.test("registry lets third parties register, replace and remove providers", async () => {
  let opened = 0;
  const make = (tag: string): Provider => {
    const p = new MemoryProvider();
    Object.defineProperty(p, "name", { value: tag });
    return p;
  };
  registerProvider({
    name: "acme",
    aliases: ["AcmeProvider"],
    description: "test",
    open: () => {
      opened++;
      return make("acme");
    },
  });
  try {
    assert.equal((await openProvider("ACMEPROVIDER")).name, "acme");
    assert.equal(opened, 1);
    assert.ok(listProviders().some((p) => p.name === "acme" && !p.builtin));
    // Taken names are refused unless replace is asked for.
    assert.throws(
      () => registerProvider({ name: "AcmeProvider", open: () => make("x") }),
      (e: unknown) =>
        e instanceof RangeError &&
        /already registered by "acme"/.test(e.message),
    );
    registerProvider({ name: "acme", open: () => make("acme2") }, {
      replace: true,
    });
    assert.equal((await openProvider("acme")).name, "acme2");
    assert.equal(findProvider("AcmeProvider"), undefined); // the old alias went with the old entry
  } finally {
    assert.equal(unregisterProvider("acme"), true);
  }
  assert.equal(findProvider("acme"), undefined);
  assert.throws(
    () => registerProvider({ name: "bad name", open: () => make("x") }),
    RangeError,
  );
  assert.throws(() => registerProvider({ name: "x" } as never), TypeError);
});

Deno.test("the registry alone does not offer the memory provider: the test kit registers it when loaded", async () => {
  const root = new URL("../", import.meta.url);
  const probe = `const reg = await import(${
    JSON.stringify(new URL("providers/registry.ts", root).href)
  });
const names = () => reg.listProviders().map((p) => p.name);
const before = names();
await import(${JSON.stringify(new URL("testing/mod.ts", root).href)});
const memory = reg.listProviders().find((p) => p.name === "memory");
const p = await reg.openProvider("MemoryProvider");
console.log(JSON.stringify({ before, memory, name: p.name }));\n`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", probe],
    cwd: new URL(".", root).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const result = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.deepEqual(result.before, ["capitalcom", "ccxt"]);
  assert.equal(result.memory.builtin, true);
  assert.deepEqual(result.memory.aliases, ["MemoryProvider"]);
  assert.equal(result.name, "memory");
});

Deno.test("importing the registry and the pipeline does not load ccxt; opening ccxt does", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const root = new URL("../", import.meta.url);
    const config = JSON.parse(
      await Deno.readTextFile(new URL("deno.json", root)),
    );
    // Stubs record whether the ccxt package or providers/ccxt.ts was evaluated.
    await Deno.writeTextFile(
      `${dir}/ccxt_package_stub.ts`,
      `(globalThis as any).__ccxtPackage = true; export default {}; export const version = "stub";\n`,
    );
    await Deno.writeTextFile(
      `${dir}/ccxt_provider_stub.ts`,
      `(globalThis as any).__ccxtModule = true;
export class CCXTProvider { name = "ccxt"; constructor(public options: unknown) {} }\n`,
    );
    const imports = {
      ...config.imports,
      ccxt: pathToFileURL(`${dir}/ccxt_package_stub.ts`).href,
      [new URL("providers/ccxt.ts", root).href]:
        pathToFileURL(`${dir}/ccxt_provider_stub.ts`).href,
    };
    // mod.ts (owned by the lead) is probed too once it exists.
    const hasMod = await Deno.stat(new URL("mod.ts", root)).then(
      () => true,
      () => false,
    );
    await Deno.writeTextFile(
      `${dir}/import_map.json`,
      JSON.stringify({ imports }),
    );
    await Deno.writeTextFile(
      `${dir}/probe.ts`,
      `const g = globalThis as any;
const reg = await import(${
        JSON.stringify(new URL("providers/registry.ts", root).href)
      });
await import(${JSON.stringify(new URL("pipeline/download.ts", root).href)});
${
        hasMod
          ? `await import(${JSON.stringify(new URL("mod.ts", root).href)});`
          : ""
      }
const before = { pkg: g.__ccxtPackage === true, mod: g.__ccxtModule === true };
const p = await reg.openProvider("CCXTProvider", {});
const after = { pkg: g.__ccxtPackage === true, mod: g.__ccxtModule === true, name: p.name };
console.log(JSON.stringify({ before, after }));\n`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-config",
        "--no-lock",
        `--import-map=${dir}/import_map.json`,
        "--allow-read",
        "--allow-env",
        `${dir}/probe.ts`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const result = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.deepEqual(result.before, { pkg: false, mod: false });
    // The dynamic import really goes through the (stubbed) providers/ccxt.ts.
    assert.deepEqual(result.after, { pkg: false, mod: true, name: "ccxt" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
