import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FormatError } from "../format/format_error.ts";
import type { SymbolInfo } from "../format/symbol_info.ts";
import {
  parseSymbolInfoToml,
  readSymbolInfo,
  stringifySymbolInfo,
  symbolInfoPath,
  writeSymbolInfo,
} from "../format/symbol_info_toml.ts";
import { sessions247 } from "../format/sessions.ts";

const FIXTURES = new URL("./fixtures/pynecore/", import.meta.url);

const CAMEL: Record<string, string> = {
  avg_spread: "avgSpread",
  taker_fee: "takerFee",
  maker_fee: "makerFee",
};
const FIELDS = new Set([
  "prefix",
  "description",
  "ticker",
  "currency",
  "basecurrency",
  "period",
  "type",
  "volumetype",
  "mintick",
  "pricescale",
  "minmove",
  "pointvalue",
  "mincontract",
  "timezone",
  "avgSpread",
  "takerFee",
  "makerFee",
]);

/** What PyneCore loaded (the JSON twin), mapped to our SymbolInfo shape. */
function expectedFromTwin(twin: Record<string, unknown>): SymbolInfo {
  const out: Record<string, unknown> = {};
  const other: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(twin)) {
    if (key === "opening_hours") {
      out.openingHours = (v as [number, string, string][]).map((
        [day, start, end],
      ) => ({ day, start, end }));
    } else if (key === "session_starts" || key === "session_ends") {
      out[key === "session_starts" ? "sessionStarts" : "sessionEnds"] =
        (v as [number, string][]).map(([day, time]) => ({ day, time }));
    } else if (key === "session_schedules" || key === "session_corrections") {
      assert.deepEqual(v, key === "session_schedules" ? [] : {});
    } else if (v === null) {
      continue;
    } else {
      const name = CAMEL[key] ?? key;
      if (FIELDS.has(name)) out[name] = v;
      else other[key] = v;
    }
  }
  if (Object.keys(other).length > 0) out.other = other;
  return out as unknown as SymbolInfo;
}

for (const name of ["syminfo_crypto", "syminfo_forex"]) {
  Deno.test(`parseSymbolInfoToml loads PyneCore's ${name}.toml to its JSON twin`, async () => {
    const text = await readFile(new URL(`${name}.toml`, FIXTURES), "utf8");
    const twin = JSON.parse(
      await readFile(new URL(`${name}.json`, FIXTURES), "utf8"),
    );
    const { info, provider } = parseSymbolInfoToml(text, `${name}.toml`);
    assert.deepEqual(info, expectedFromTwin(twin));
    assert.equal(provider, undefined);
  });

  Deno.test(`stringifySymbolInfo reproduces PyneCore's ${name}.toml byte for byte`, async () => {
    const text = await readFile(new URL(`${name}.toml`, FIXTURES), "utf8");
    const { info } = parseSymbolInfoToml(text);
    assert.equal(stringifySymbolInfo(info), text);
  });
}

function sampleInfo(): SymbolInfo {
  return {
    prefix: "BYBIT",
    description: 'BTC / USDT "Linear" Perpetual \\ ünïcode\ttab',
    ticker: "BTCUSDT",
    currency: "USDT",
    basecurrency: "BTC",
    period: "1D",
    type: "crypto",
    mintick: 0.025,
    pricescale: 1000,
    minmove: 25,
    pointvalue: 1,
    mincontract: 0.123456789012345,
    timezone: "UTC",
    volumetype: "base",
    takerFee: 0.00055,
    makerFee: 1e-12,
    ...sessions247(),
    other: {
      country: "US",
      employees: 12345,
      target_price_average: 2,
      custom_flag: true,
    },
  };
}

Deno.test("stringifySymbolInfo output loads back equal, with the [download] provider", () => {
  const info = sampleInfo();
  const text = stringifySymbolInfo(info, {
    provider: "ccxt:BYBIT:BTC/USDT:USDT@1D",
  });
  assert.match(
    text,
    /\n\[download\]\nprovider = "ccxt:BYBIT:BTC\/USDT:USDT@1D"\n/,
  );
  assert.match(text, /\nmintick = 0\.02500000\n/);
  assert.match(text, /\npointvalue = 1\.00000000\n/);
  assert.match(text, /\nmincontract = 0\.123456789012345\n/);
  assert.match(text, /\nmaker_fee = 1e-12\n/);
  assert.match(text, /\ntarget_price_average = 2\.00000000\n/);
  assert.match(text, /\nemployees = 12345\n/);
  assert.match(text, /\n#avg_spread =\n/);
  const back = parseSymbolInfoToml(text);
  assert.equal(back.provider, "ccxt:BYBIT:BTC/USDT:USDT@1D");
  assert.deepEqual(back.info, info);
});

Deno.test("stringifySymbolInfo comments out unknown basecurrency and mincontract", () => {
  const info = sampleInfo();
  delete info.basecurrency;
  delete info.mincontract;
  delete info.other;
  const text = stringifySymbolInfo(info);
  assert.match(text, /\n#basecurrency =\n/);
  assert.match(text, /\n#mincontract =\n/);
  assert.doesNotMatch(text, /\[download\]/);
  assert.deepEqual(parseSymbolInfoToml(text).info, info);
});

Deno.test("stringifySymbolInfo refuses values PyneCore could not load", () => {
  const bad: Array<[Partial<SymbolInfo>, RegExp, ErrorConstructor]> = [
    [{ pricescale: 10.5 }, /"pricescale" must be a whole number/, RangeError],
    [{ minmove: 0 }, /"minmove" must be a whole number/, RangeError],
    [
      { mintick: 0.03 },
      /mintick 0.03 does not equal minmove \/ pricescale/,
      RangeError,
    ],
    [
      { openingHours: [{ day: 7, start: "00:00:00", end: "23:59:59" }] },
      /openingHours\[0\]\.day/,
      RangeError,
    ],
    [
      { sessionStarts: [{ day: 1, time: "9:30" }] },
      /sessionStarts\[0\]\.time must be a time "HH:MM:SS"/,
      RangeError,
    ],
    [{ period: "1H" }, /period/i, RangeError],
    [
      { ticker: 5 as unknown as string },
      /"ticker" must be a string/,
      TypeError,
    ],
    [{ pointvalue: NaN }, /"pointvalue" must be a finite number/, TypeError],
  ];
  for (const [patch, re, cls] of bad) {
    assert.throws(
      () => stringifySymbolInfo({ ...sampleInfo(), ...patch }),
      (e: unknown) => e instanceof cls && re.test((e as Error).message),
      JSON.stringify(patch),
    );
  }
});

function pyneToml(symbolLines: string, rest = ""): string {
  return `[symbol]
prefix = "X"
description = "d"
ticker = "T"
currency = "USD"
period = "60"
type = "forex"
${symbolLines}
${rest}`;
}

Deno.test("parseSymbolInfoToml defaults minmove, timezone and volumetype like PyneCore", () => {
  const { info } = parseSymbolInfoToml(
    pyneToml("mintick = 0.01\npricescale = 100\npointvalue = 1.0"),
  );
  assert.equal(info.minmove, 1);
  assert.equal(info.timezone, "UTC");
  assert.equal(info.volumetype, "base");
  assert.deepEqual(info.openingHours, []);
  assert.equal(info.basecurrency, undefined);
});

Deno.test("parseSymbolInfoToml accepts a mintick rounded to PyneCore's eight decimals", () => {
  const { info } = parseSymbolInfoToml(
    pyneToml("mintick = 0.33333333\npricescale = 3\npointvalue = 1.0"),
  );
  assert.equal(info.pricescale, 3);
  assert.equal(info.mintick, 0.33333333);
  // A tick below 5e-9 is written by PyneCore as 0.00000000.
  const tiny = parseSymbolInfoToml(
    pyneToml(
      "mintick = 0.00000000\npricescale = 1000000000\npointvalue = 1.0",
    ),
  );
  assert.equal(tiny.info.pricescale, 1e9);
  assert.throws(
    () =>
      parseSymbolInfoToml(
        pyneToml("mintick = 0.0\npricescale = 100\npointvalue = 1.0"),
      ),
    /symbol\.mintick 0 does not equal minmove \/ pricescale/,
  );
  assert.throws(
    () =>
      parseSymbolInfoToml(
        pyneToml("mintick = -0.01\npricescale = 100\npointvalue = 1.0"),
      ),
    /symbol\.mintick must be a positive number, got -0\.01/,
  );
});

Deno.test("parseSymbolInfoToml keeps [[session_schedules]] so a rewrite preserves them", async () => {
  const base = await readFile(new URL("syminfo_forex.toml", FIXTURES), "utf8");
  const text = base + `
[[session_schedules]]
effective_from = 2025-06-01
[[session_schedules.opening_hours]]
day = 0
start = "10:00:00"
end = "18:00:00"
[[session_schedules.session_starts]]
day = 0
time = "10:00:00"

[session_corrections]
"2025-12-24" = "10:00:00-13:00:00"
`;
  const parsed = parseSymbolInfoToml(text);
  assert.deepEqual(Object.keys(parsed.extra ?? {}).sort(), [
    "session_corrections",
    "session_schedules",
  ]);
  const out = stringifySymbolInfo(parsed.info, {
    provider: "capitalcom:EURUSD@60",
    extra: parsed.extra,
  });
  const again = parseSymbolInfoToml(out);
  assert.deepEqual(again.info, parsed.info);
  assert.equal(again.provider, "capitalcom:EURUSD@60");
  assert.equal(
    JSON.stringify(again.extra),
    JSON.stringify(parsed.extra),
  );
  assert.match(
    out,
    /\n\[\[session_schedules\]\]\neffective_from = 2025-06-01\n/,
  );
  assert.throws(
    () => stringifySymbolInfo(parsed.info, { extra: { symbol: {} } }),
    /extra must not contain "symbol"/,
  );
  // PyneCore's fixtures have no extra tables.
  assert.equal(parseSymbolInfoToml(base).extra, undefined);
});

Deno.test("parseSymbolInfoToml errors are FormatErrors naming the file and the key", () => {
  const cases: Array<[string, RegExp]> = [
    [
      "[symbol\nx=1",
      /^Cannot read s\.toml: invalid TOML \(line 1, column \d+\): /,
    ],
    [
      '[symbol]\nprefix = "A"\ndescription = "unterminated\nticker = "X"',
      /^Cannot read s\.toml: invalid TOML \(line 3, column \d+\): control characters/,
    ],
    ["[other]\nx = 1", /missing \[symbol\] section/],
    [
      pyneToml("pricescale = 100\npointvalue = 1.0"),
      /missing required key symbol\.mintick/,
    ],
    [
      pyneToml("mintick = 0.01\npricescale = 100"),
      /missing required key symbol\.pointvalue/,
    ],
    [
      pyneToml("mintick = 0.01\npricescale = 100.5\npointvalue = 1.0"),
      /symbol\.pricescale must be a whole number.*100\.5/,
    ],
    [
      pyneToml('mintick = "0.01"\npricescale = 100\npointvalue = 1.0'),
      /symbol\.mintick must be a number, got "0\.01"/,
    ],
    [
      pyneToml("mintick = 0.02\npricescale = 100\npointvalue = 1.0"),
      /symbol\.mintick 0\.02 does not equal minmove \/ pricescale = 1 \/ 100/,
    ],
    [
      pyneToml(
        "mintick = 0.01\npricescale = 100\npointvalue = 1.0",
        '[[opening_hours]]\nday = 7\nstart = "00:00:00"\nend = "23:59:59"',
      ),
      /opening_hours\[0\]\.day must be a weekday from 0 \(Monday\) to 6 \(Sunday\), got 7/,
    ],
    [
      pyneToml(
        "mintick = 0.01\npricescale = 100\npointvalue = 1.0",
        '[[session_ends]]\nday = 1\ntime = "24:00:00"',
      ),
      /session_ends\[0\]\.time must be a time "HH:MM:SS".*"24:00:00"/,
    ],
    [
      pyneToml(
        "mintick = 0.01\npricescale = 100\npointvalue = 1.0",
        "[download]\nprovider = 5",
      ),
      /download\.provider must be a string, got 5/,
    ],
  ];
  for (const [text, re] of cases) {
    assert.throws(
      () => parseSymbolInfoToml(text, "s.toml"),
      (e: unknown) =>
        e instanceof FormatError && e.path === "s.toml" &&
        e.message.startsWith("Cannot read s.toml: ") && re.test(e.message),
      text,
    );
  }
});

Deno.test("writeSymbolInfo writes atomically and readSymbolInfo reads it back", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "ccxt_BYBIT_BTC_USDT_USDT_1D.toml");
    const info = sampleInfo();
    await writeSymbolInfo(path, info, {
      provider: "ccxt:BYBIT:BTC/USDT:USDT@1D",
    });
    assert.deepEqual(await readSymbolInfo(path), {
      info,
      provider: "ccxt:BYBIT:BTC/USDT:USDT@1D",
    });
    assert.deepEqual(await readdir(dir), ["ccxt_BYBIT_BTC_USDT_USDT_1D.toml"]);
    // A refused write leaves the old file as it was and no temp file behind.
    const before = await readFile(path, "utf8");
    await assert.rejects(
      writeSymbolInfo(path, { ...info, pricescale: 0 }),
      RangeError,
    );
    assert.equal(await readFile(path, "utf8"), before);
    assert.deepEqual(await readdir(dir), ["ccxt_BYBIT_BTC_USDT_USDT_1D.toml"]);
    // A broken file on disk is a FormatError that names it.
    await writeFile(path, "[symbol]\nprefix = 1\n");
    await assert.rejects(
      readSymbolInfo(path),
      (e: unknown) =>
        e instanceof FormatError && e.message.includes(path) &&
        e.message.includes("symbol.prefix"),
    );
  } finally {
    await rm(dir, { recursive: true });
  }
});

Deno.test("symbolInfoPath puts the .toml beside the .ohlcv", () => {
  assert.equal(symbolInfoPath("data/a_B_1D.ohlcv"), "data/a_B_1D.toml");
  assert.equal(symbolInfoPath("x"), "x.toml");
});

/** PyneCore's SymInfo.load_toml, reduced to what it checks, run with python's tomllib. */
const PYNE_LOADER = `
import sys, tomllib
from datetime import time
data = tomllib.load(open(sys.argv[1], 'rb'))
s = data['symbol']
def t(x):
    h, m, sec = map(int, x.split(':'))
    return time(h, m, sec)
for k in ['prefix','description','ticker','currency','period','type','mintick','pricescale','pointvalue']:
    s[k]
assert isinstance(s['pricescale'], int) and isinstance(s.get('minmove', 1), int)
assert isinstance(s['mintick'], float) and isinstance(s['pointvalue'], float)
assert abs(s['mintick'] - s.get('minmove', 1) / s['pricescale']) < 1e-12
for oh in data.get('opening_hours', []):
    assert 0 <= oh['day'] <= 6; t(oh['start']); t(oh['end'])
for key in ('session_starts', 'session_ends'):
    for x in data.get(key, []):
        assert 0 <= x['day'] <= 6; t(x['time'])
print(data['download']['provider'])
`;

function python(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile("python3", args, (err, stdout, stderr) => {
      resolve({
        code: err ? (typeof err.code === "number" ? err.code : 127) : 0,
        out: stdout + stderr,
      });
    });
  });
}

const hasTomllib = (await python(["-c", "import tomllib"])).code === 0;

Deno.test({
  name:
    "stringifySymbolInfo output loads with PyneCore's loader (python tomllib)",
  ignore: !hasTomllib,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const path = join(dir, "x.toml");
      await writeSymbolInfo(path, sampleInfo(), {
        provider: "ccxt:BYBIT:BTC/USDT:USDT@1D",
      });
      const r = await python(["-c", PYNE_LOADER, path]);
      assert.equal(r.code, 0, r.out);
      assert.equal(r.out.trim(), "ccxt:BYBIT:BTC/USDT:USDT@1D");
    } finally {
      await rm(dir, { recursive: true });
    }
  },
});
