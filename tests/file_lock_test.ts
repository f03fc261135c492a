import assert from "node:assert/strict";
import { readdir, rm, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { acquireLock, OhlcvLockedError } from "../format/_file_lock.ts";

/** The pid of a process that has exited (so a lock naming it is stale). */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

Deno.test("acquireLock lets exactly one of several concurrent writers take over a stale lock", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "x.ohlcv");
    const dead = await deadPid();
    for (let round = 0; round < 25; round++) {
      await writeFile(`${path}.lock`, `${dead}\n`);
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, () => acquireLock(path)),
      );
      const won = results.filter((r) => r.status === "fulfilled");
      assert.equal(won.length, 1, `round ${round}: ${won.length} winners`);
      for (const r of results) {
        if (r.status === "rejected") {
          assert.ok(r.reason instanceof OhlcvLockedError, String(r.reason));
          // The winner's pid, or none when read before the pid was written.
          assert.ok(
            r.reason.pid === Deno.pid || r.reason.pid === undefined,
            String(r.reason.pid),
          );
        }
      }
      await (won[0] as PromiseFulfilledResult<{ release(): Promise<void> }>)
        .value.release();
      assert.deepEqual(await readdir(dir), [], "no lock or takeover file left");
    }
  } finally {
    await rm(dir, { recursive: true });
  }
});

Deno.test("acquireLock clears a takeover file left behind by a crash", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "y.ohlcv");
    await writeFile(`${path}.lock`, `${await deadPid()}\n`);
    await writeFile(`${path}.lock.takeover`, "");
    const old = new Date(Date.now() - 60_000);
    await utimes(`${path}.lock.takeover`, old, old);
    const lock = await acquireLock(path);
    assert.deepEqual(await readdir(dir), ["y.ohlcv.lock"]);
    await lock.release();
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await rm(dir, { recursive: true });
  }
});

Deno.test("acquireLock in a folder that does not exist says so", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "nope", "z.ohlcv");
    await assert.rejects(
      acquireLock(path),
      (e: unknown) =>
        e instanceof Error && (e as { code?: string }).code === "ENOENT" &&
        e.message ===
          `Cannot write ${path}: the folder ${
            join(dir, "nope")
          } does not exist; create it first`,
    );
  } finally {
    await rm(dir, { recursive: true });
  }
});
