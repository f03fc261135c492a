import assert from "node:assert/strict";
import {
  assertTickGrid,
  mintickOf,
  tickGridFromMintick,
} from "../format/tick_grid.ts";

Deno.test("tickGridFromMintick gives power-of-ten grids for decimal ticks", () => {
  const cases: Array<[number, number, number]> = [
    [0.01, 1, 100],
    [0.5, 5, 10],
    [0.025, 25, 1000],
    [5, 5, 1],
    [1, 1, 1],
    [1e-8, 1, 100_000_000],
    [0.00001, 1, 100_000],
    [0.1, 1, 10],
    [0.0005, 5, 10_000],
    [250, 250, 1],
    [1e-9, 1, 1_000_000_000],
    [0.1 + 0.2, 3, 10],
  ];
  for (const [tick, minmove, pricescale] of cases) {
    const grid = tickGridFromMintick(tick);
    assert.deepEqual(grid, { minmove, pricescale }, String(tick));
    assert.ok(Math.abs(mintickOf(grid) - tick) <= tick * 1e-9);
  }
});

Deno.test("tickGridFromMintick refuses ticks that cannot be a grid", () => {
  for (const bad of [0, -0.01, NaN, Infinity]) {
    assert.throws(() => tickGridFromMintick(bad), RangeError, String(bad));
  }
  assert.throws(() => tickGridFromMintick(1e-10), /more than 9 decimals/);
  assert.throws(() => tickGridFromMintick(1 / 3), /more than 9 decimals/);
  assert.throws(
    () => tickGridFromMintick("0.01" as unknown as number),
    TypeError,
  );
});

Deno.test("assertTickGrid accepts u32 pairs only", () => {
  assertTickGrid(1, 100);
  assertTickGrid(25, 1000);
  assert.throws(() => assertTickGrid(0, 100), /minmove must be a whole number/);
  assert.throws(
    () => assertTickGrid(1, 2 ** 32),
    /pricescale must be a whole number/,
  );
  assert.throws(() => assertTickGrid(1.5, 10), RangeError);
});
