import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import {
  ConfigError,
  configNumber,
  loadOrCreateConfig,
  readTomlConfig,
} from "../providers/_config_file.ts";

const SECRET = "S3cr3t-Pa55-9f1c";

Deno.test("readTomlConfig names the file, line and column of a syntax error and never quotes the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cases = [
      `password = "${SECRET}`,
      `password = ${SECRET}`,
      `api_key = "x" ${SECRET}`,
      `[binance]\napi_secret = "${SECRET}"\napi_secret = "${SECRET}2"`,
      `password = """${SECRET}`,
      `pass word = "${SECRET}"`,
      `password = "${SECRET}\\q"`,
    ];
    for (const text of cases) {
      const path = `${dir}/c.toml`;
      await Deno.writeTextFile(path, text);
      const err = await readTomlConfig(path).then(
        () => assert.fail(`parsed: ${text}`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ConfigError, text);
      assert.match(
        err.message,
        /^Malformed config file .*c\.toml at line \d+, column \d+: /,
      );
      assert.equal(err.path, path);
      const everything = `${err.message}\n${err.stack}\n${String(err.cause)}`;
      assert.ok(!everything.includes(SECRET), `secret leaked for: ${text}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readTomlConfig returns undefined for a missing file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await readTomlConfig(`${dir}/none.toml`), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadOrCreateConfig writes the template once and keeps a user's file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/sub/x.toml`;
    const first = await loadOrCreateConfig(path, "# template\n[x]\nn = 1\n");
    assert.equal(first.created, true);
    assert.deepEqual(JSON.parse(JSON.stringify(first.config)), { x: { n: 1 } });
    await Deno.writeTextFile(path, "[x]\nn = 2\n");
    const second = await loadOrCreateConfig(path, "# template\n[x]\nn = 1\n");
    assert.equal(second.created, false);
    assert.deepEqual(JSON.parse(JSON.stringify(second.config)), {
      x: { n: 2 },
    });
    assert.equal(await readFile(path, "utf8"), "[x]\nn = 2\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("configNumber refuses a wrong type with the file and key", () => {
  assert.equal(configNumber({ n: 3 }, "n", "f.toml"), 3);
  assert.equal(configNumber({}, "n", "f.toml"), undefined);
  assert.throws(
    () => configNumber({ n: "3" }, "n", "f.toml"),
    (e: unknown) =>
      e instanceof ConfigError &&
      /In f\.toml: "n" must be a number/.test(e.message),
  );
});
