import assert from "node:assert/strict";
import {
  fileSafeSymbol,
  formatProviderString,
  ohlcvFileName,
  parseProviderString,
} from "../format/provider_string.ts";

Deno.test("parseProviderString splits the provider at the first colon and the timeframe at the last @", () => {
  assert.deepEqual(parseProviderString("ccxt:BYBIT:BTC/USDT:USDT@1D"), {
    provider: "ccxt",
    symbol: "BYBIT:BTC/USDT:USDT",
    timeframe: "1D",
  });
  assert.deepEqual(parseProviderString("capitalcom:EURUSD@60"), {
    provider: "capitalcom",
    symbol: "EURUSD",
    timeframe: "60",
  });
  assert.deepEqual(parseProviderString("ccxt:BINANCE:BTC/USDT"), {
    provider: "ccxt",
    symbol: "BINANCE:BTC/USDT",
  });
  assert.deepEqual(parseProviderString("x:A@B@5"), {
    provider: "x",
    symbol: "A@B",
    timeframe: "5",
  });
  assert.deepEqual(parseProviderString("  CCXT:BYBIT:ETH/USDT@1d "), {
    provider: "ccxt",
    symbol: "BYBIT:ETH/USDT",
    timeframe: "1D",
  });
});

Deno.test("parseProviderString normalises MetaTrader and ccxt timeframes to TradingView", () => {
  for (
    const [tf, period] of [
      ["1h", "60"],
      ["H4", "240"],
      ["M1", "1"],
      ["1w", "1W"],
      ["MN1", "1M"],
      ["15s", "15S"],
    ]
  ) {
    assert.equal(
      parseProviderString(`capitalcom:EURUSD@${tf}`).timeframe,
      period,
    );
  }
});

Deno.test("parseProviderString refuses malformed strings with the input in the message", () => {
  const cases: Array<[string, RegExp]> = [
    [
      "EURUSD",
      /Invalid provider string "EURUSD": expected <provider>:<symbol>\[@<timeframe>\]/,
    ],
    [":EURUSD@1D", /invalid provider name ""/],
    ["9x:EURUSD", /invalid provider name "9x"/],
    ["capitalcom:@1D", /the symbol "" is empty/],
    ["capitalcom:EURUSD@", /nothing after "@"/],
    ["capitalcom:EURUSD@1H", /Unknown timeframe "1H": accepted forms are/],
    ["capitalcom: EURUSD", /surrounding spaces/],
  ];
  for (const [input, re] of cases) {
    assert.throws(
      () => parseProviderString(input),
      (e: unknown) => e instanceof RangeError && re.test((e as Error).message),
      input,
    );
  }
  assert.throws(() => parseProviderString(5 as unknown as string), TypeError);
});

Deno.test("formatProviderString is the inverse of parseProviderString", () => {
  for (
    const s of [
      "ccxt:BYBIT:BTC/USDT:USDT@1D",
      "capitalcom:EURUSD@60",
      "ccxt:BINANCE:BTC/USDT",
      "x:A@B@5",
    ]
  ) {
    assert.equal(formatProviderString(parseProviderString(s)), s);
  }
  assert.equal(
    formatProviderString({
      provider: "ccxt",
      symbol: "BINANCE:BTC/USDT",
      timeframe: "4h",
    }),
    "ccxt:BINANCE:BTC/USDT@240",
  );
  assert.throws(
    () => formatProviderString({ provider: "x", symbol: "A@B" }),
    /contains "@"/,
  );
});

Deno.test("ohlcvFileName follows PyneCore's naming table", () => {
  assert.equal(
    ohlcvFileName(parseProviderString("ccxt:BINANCE:BTC/USDT@1D")),
    "ccxt_BINANCE_BTC_USDT_1D.ohlcv",
  );
  assert.equal(
    ohlcvFileName(parseProviderString("ccxt:BYBIT:BTC/USDT:USDT@60")),
    "ccxt_BYBIT_BTC_USDT_USDT_60.ohlcv",
  );
  assert.equal(
    ohlcvFileName(parseProviderString("capitalcom:EURUSD@60")),
    "capitalcom_EURUSD_60.ohlcv",
  );
  assert.equal(
    ohlcvFileName({
      provider: "ccxt",
      symbol: "bybit:eth/usdt",
      timeframe: "H1",
    }),
    "ccxt_BYBIT_ETH_USDT_60.ohlcv",
  );
  assert.throws(
    () => ohlcvFileName({ provider: "ccxt", symbol: "BINANCE:BTC/USDT" }),
    /a timeframe is required/,
  );
  assert.equal(fileSafeSymbol('a\\b*c?d"e<f>g|h i'), "A_B_C_D_E_F_G_H_I");
});
