/**
 * Listing providers and symbols: the provider registry (`listProviders()`,
 * `openProvider()` by name or alias), then what each provider offers —
 * ccxt's exchanges, an exchange's markets and timeframes, Capital.com's
 * markets, the in-memory provider's symbols — the library calls behind
 * `pyne-data providers` and `pyne-data symbols`.
 *
 * Offline: the Binance-, Bybit- and Capital.com-style emulators run on
 * 127.0.0.1 in this process; one ccxt provider sends each exchange to its
 * own emulator (`exchanges: { binance: { baseUrl } }` — in config/ccxt.toml
 * that is `base_url` under `[binance]`).
 *
 * ```sh
 * deno run -A examples/list_symbols.ts
 * ```
 *
 * @module
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
// From JSR: import { listProviders, openProvider } from "@pyne/data";
import { listProviders, openProvider } from "../mod.ts";
// From JSR: import { CCXTProvider } from "@pyne/data/providers/ccxt";
import { CCXTProvider } from "../providers/ccxt.ts";
// From JSR: import { CapitalComProvider } from "@pyne/data/providers/capitalcom";
import { CapitalComProvider } from "../providers/capitalcom.ts";
// From JSR: import { ... } from "@pyne/data/testing";
// (importing the test kit also registers its "memory" provider)
import {
  startBinanceEmulator,
  startBybitEmulator,
  startCapitalComEmulator,
} from "../testing/mod.ts";

const configDir = await mkdtemp(join(tmpdir(), "pyne-data-example-"));
await using binance = await startBinanceEmulator();
await using bybit = await startBybitEmulator();
await using capitalcom = await startCapitalComEmulator();
try {
  console.log("Providers:");
  for (const p of listProviders()) {
    console.log(
      `  ${p.name.padEnd(11)} aliases ${p.aliases.join(", ").padEnd(19)} ${
        p.builtin ? "built-in" : "registered"
      }  ${p.description}`,
    );
  }

  // ccxt: every exchange ccxt knows (no request: ccxt's own list) ...
  await using ccxt = new CCXTProvider({
    configDir,
    env: {},
    exchanges: {
      binance: { baseUrl: binance.url },
      bybit: { baseUrl: bybit.url },
    },
  });
  const exchanges = await ccxt.listSymbols();
  const bin = await ccxt.listSymbols({ search: "bin" });
  console.log(
    `ccxt: ${exchanges.length} exchanges; matching "bin": ${
      bin.map((e) => e.symbol).join(", ")
    }`,
  );
  // ... the markets of one exchange (loaded from the exchange: the emulators)
  for (const search of ["binance", "bybit:btc"]) {
    const markets = await ccxt.listSymbols({ search });
    console.log(`ccxt "${search}": ${markets.length} markets`);
    for (const m of markets) {
      console.log(
        `  ${m.symbol.padEnd(22)} ${m.type?.padEnd(6)} ${m.description}`,
      );
    }
  }
  console.log(
    `ccxt BINANCE timeframes: ${(await ccxt.timeframes("BINANCE")).join(" ")}`,
  );

  // Capital.com: a search, the emulator's credentials
  await using capital = new CapitalComProvider({
    configDir,
    env: {},
    baseUrl: capitalcom.url,
    ...capitalcom.credentials,
  });
  const usd = await capital.listSymbols({ search: "USD" });
  console.log(`capitalcom "USD": ${usd.length} markets`);
  for (const m of usd) {
    console.log(
      `  ${m.symbol.padEnd(8)} ${m.type?.padEnd(8)} ${m.description}`,
    );
  }
  console.log(
    `capitalcom timeframes: ${(await capital.timeframes()).join(" ")}`,
  );

  // The in-memory provider, opened by its alias through the registry.
  await using memory = await openProvider("MemoryProvider");
  const symbols = await memory.listSymbols();
  console.log(
    `${memory.name}: ${
      symbols.map((s) => `${s.symbol} (${s.type})`).join(", ")
    }`,
  );
} finally {
  await rm(configDir, { recursive: true, force: true });
}
