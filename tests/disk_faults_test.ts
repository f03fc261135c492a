/**
 * Disk faults: the data folder on a full filesystem and on a read-only one.
 * Each download fails with one clear error line (exit 1), the existing file
 * keeps every committed candle and stays valid, a failed replacement leaves
 * the old file byte for byte as it was, and no temporary file stays behind.
 * The filesystems are small tmpfs mounts: the tests skip cleanly where this
 * process may not mount (not root, no mount command).
 */

import assert from "node:assert/strict";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startBinanceEmulator } from "../testing/binance_emulator.ts";
import { OhlcvReader } from "../format/ohlcv_reader.ts";
import { assertErrorOutput, runMainAt } from "./_cli_helpers.ts";

const T = Date.UTC(2024, 2, 1, 12, 30);
const FILE = "ccxt_BINANCE_BTC_USDT_1.ohlcv";

async function sh(cmd: string, args: string[]): Promise<boolean> {
  try {
    const r = await new Deno.Command(cmd, {
      args,
      stdout: "null",
      stderr: "null",
    }).output();
    return r.success;
  } catch {
    return false;
  }
}

/** Mounts a tmpfs of `kb` KiB at a new folder; undefined when this process may not. */
async function tmpfs(kb: number): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return undefined;
  const dir = await Deno.makeTempDir({ prefix: "pyne_disk_" });
  if (await sh("mount", ["-t", "tmpfs", "-o", `size=${kb}k`, "tmpfs", dir])) {
    return dir;
  }
  await rm(dir, { recursive: true, force: true });
  return undefined;
}

async function unmount(dir: string): Promise<void> {
  await sh("umount", [dir]);
  await rm(dir, { recursive: true, force: true });
}

const canMount = await tmpfs(64).then(async (d) => {
  if (d === undefined) return false;
  await unmount(d);
  return true;
});

async function setup(url: string): Promise<string> {
  const cfg = await Deno.makeTempDir({ prefix: "pyne_disk_cfg_" });
  await writeFile(join(cfg, "ccxt.toml"), `[binance]\nbase_url = "${url}"\n`);
  return cfg;
}

function dl(cfg: string, data: string, extra: string[]): string[] {
  return [
    "download",
    "ccxt",
    "BINANCE:BTC/USDT",
    "-t",
    "1",
    "--config-dir",
    cfg,
    "--ohlcv-dir",
    data,
    ...extra,
  ];
}

async function candles(
  path: string,
): Promise<{ count: number; time: number[] }> {
  await using r = await OhlcvReader.open(path);
  const b = await r.read();
  return { count: r.info.count, time: [...b.time] };
}

Deno.test({
  name:
    "a download onto a full filesystem fails clearly, keeps every committed candle and leaves no temporary file",
  ignore: !canMount,
  async fn() {
    await using emu = await startBinanceEmulator({ now: () => T });
    const cfg = await setup(emu.url);
    const disk = (await tmpfs(256))!;
    const data = join(disk, "data");
    try {
      await mkdir(data);
      // 2,000 candles (72 kB) fit; the month after them does not.
      const first = await runMainAt(
        T,
        dl(cfg, data, ["--from", "2024-02-01", "--to", "2024-02-02 09:20"]),
      );
      assert.equal(first.code, 0, first.stderr);
      const path = join(data, FILE);
      const before = await candles(path);
      assert.equal(before.count, 2000);
      const oldBytes = await readFile(path);

      const full = await runMainAt(T, dl(cfg, data, []));
      assert.equal(full.code, 1, full.stderr);
      assertErrorOutput(full.stderr, /no space left on device|ENOSPC/i, "full");
      assert.match(full.stderr, /Hint: The disk is full: free some space/);
      const after = await candles(path);
      assert.ok(after.count >= before.count, "no committed candle lost");
      assert.deepEqual(after.time.slice(0, before.count), before.time);
      const names = (await readdir(data)).sort();
      assert.ok(
        names.every((n) => /\.(ohlcv|toml)$/.test(n)),
        `only data files: ${names}`,
      );

      // A replacement that cannot be written leaves the old file as it was.
      const kept = await readFile(path);
      const replace = await runMainAt(
        T,
        dl(cfg, data, ["--truncate", "--from", "2024-01-01"]),
      );
      assert.equal(replace.code, 1, replace.stderr);
      assertErrorOutput(replace.stderr, /no space left|ENOSPC/i, "truncate");
      assert.deepEqual(await readFile(path), kept, "old file unchanged");
      assert.ok(kept.length >= oldBytes.length);
      const left = await readdir(data);
      assert.ok(
        left.every((n) => /\.(ohlcv|toml)$/.test(n)),
        `no temporary file: ${left}\n${replace.stderr}`,
      );
    } finally {
      await unmount(disk);
      await rm(cfg, { recursive: true, force: true });
    }
  },
});

Deno.test({
  name:
    "a download into a read-only data folder fails clearly and changes nothing",
  ignore: !canMount,
  async fn() {
    await using emu = await startBinanceEmulator({ now: () => T });
    const cfg = await setup(emu.url);
    const disk = (await tmpfs(1024))!;
    const data = join(disk, "data");
    try {
      await mkdir(data);
      const first = await runMainAt(
        T,
        dl(cfg, data, ["--from", "2024-02-01", "--to", "2024-02-02"]),
      );
      assert.equal(first.code, 0, first.stderr);
      const snapshot = async () =>
        Object.fromEntries(
          await Promise.all(
            (await readdir(data)).sort().map(async (
              n,
            ) => [n, (await readFile(join(data, n))).toString("hex")]),
          ),
        );
      const before = await snapshot();
      assert.ok(await sh("mount", ["-o", "remount,ro", disk]), "remount ro");
      for (const extra of [[], ["--truncate", "--from", "2024-01-01"]]) {
        const r = await runMainAt(T, dl(cfg, data, extra));
        assert.equal(r.code, 1, r.stderr);
        assertErrorOutput(r.stderr, /read-only file system|EROFS/i, "ro");
        assert.match(r.stderr, /Hint: The data folder is on a read-only/);
        assert.deepEqual(await snapshot(), before, "nothing changed");
      }
    } finally {
      await unmount(disk);
      await rm(cfg, { recursive: true, force: true });
    }
  },
});
