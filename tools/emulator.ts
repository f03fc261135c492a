/**
 * `deno task emulator`: runs one of the bundled venue emulators in the
 * foreground on 127.0.0.1, so every `pyne-data` command can be tried offline.
 * It prints the `base_url` snippet to paste into `config/ccxt.toml` (or the
 * credentials and `base_url` for `config/capitalcom.toml`), a ready-to-paste
 * command, and serves until Ctrl-C.
 *
 * ```sh
 * deno task emulator binance                 # a free port is picked and printed
 * deno task emulator bybit --port 8080
 * deno task emulator capitalcom --log        # also print every request
 * ```
 *
 * From JSR, without a checkout:
 * `deno run --allow-net=127.0.0.1 jsr:@pyne/data/emulator binance`.
 *
 * Venues: `binance`, `bybit`, `okx`, `kraken`, `kucoin`, `coinbase` (through
 * ccxt) and `capitalcom`. The emulators run on the real clock; their candles
 * are generated deterministically (the same symbol and time always give the
 * same candle).
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
// From JSR: import { ... } from "@pyne/data/testing";
import {
  startBinanceEmulator,
  startBybitEmulator,
  startCapitalComEmulator,
  startCoinbaseEmulator,
  startKrakenEmulator,
  startKucoinEmulator,
  startOkxEmulator,
} from "../testing/mod.ts";

/** What the tool needs of a running emulator. */
interface Running {
  readonly url: string;
  close(): Promise<void>;
  /** New request log lines since the last call. */
  drainLog(): string[];
  /** The credentials it accepts (Capital.com). */
  readonly credentials?: {
    readonly apiKey: string;
    readonly identifier: string;
    readonly password: string;
  };
}

/** One venue the tool can start. */
interface Venue {
  /** Shown in the banner. */
  readonly title: string;
  readonly start: (port: number) => Promise<Running>;
  /** The config snippet for the running emulator. */
  readonly snippet: (emu: Running) => { file: string; text: string };
  /** Commands to try (without the `deno task cli` prefix). */
  readonly commands: readonly string[];
  /** A `curl` command that checks the emulator is up. */
  readonly check: (emu: Running) => string;
  /** A remark printed after the snippet. */
  readonly note?: string;
}

function exchange(
  start: (o: { port: number }) => Promise<{
    url: string;
    close(): Promise<void>;
    requests: readonly {
      method: string;
      path: string;
      query: Readonly<Record<string, string>>;
    }[];
  }>,
): (port: number) => Promise<Running> {
  return async (port) => {
    const emu = await start({ port });
    let seen = 0;
    return {
      url: emu.url,
      close: () => emu.close(),
      drainLog: () => {
        const fresh = emu.requests.slice(seen);
        seen += fresh.length;
        return fresh.map((r) => {
          const q = new URLSearchParams(r.query).toString();
          return `${r.method} ${r.path}${q ? `?${q}` : ""}`;
        });
      },
    };
  };
}

function ccxtSnippet(
  id: string,
): (emu: Running) => { file: string; text: string } {
  return ({ url }) => ({
    file: "config/ccxt.toml",
    text: `[${id}]\nbase_url = "${url}"`,
  });
}

/** The venues, by the name given on the command line. */
const VENUES: Readonly<Record<string, Venue>> = {
  binance: {
    title: "Binance spot",
    start: exchange(startBinanceEmulator),
    snippet: ccxtSnippet("binance"),
    commands: [
      "symbols ccxt binance",
      "download ccxt BINANCE:BTC/USDT -t 1h --from 7",
    ],
    check: ({ url }) => `curl ${url}/api/v3/ping`,
  },
  bybit: {
    title: "Bybit v5 (spot and USDT perpetuals)",
    start: exchange(startBybitEmulator),
    snippet: ccxtSnippet("bybit"),
    commands: [
      "symbols ccxt bybit",
      "download ccxt BYBIT:BTC/USDT:USDT -t 1D --from 90",
    ],
    check: ({ url }) => `curl ${url}/v5/market/time`,
  },
  okx: {
    title: "OKX v5",
    start: exchange(startOkxEmulator),
    snippet: ccxtSnippet("okx"),
    commands: [
      "symbols ccxt okx",
      "download ccxt OKX:BTC/USDT -t 1h --from 7",
    ],
    check: ({ url }) => `curl ${url}/api/v5/public/time`,
  },
  kraken: {
    title: "Kraken spot (serves the latest 720 candles of a timeframe)",
    start: exchange(startKrakenEmulator),
    snippet: ccxtSnippet("kraken"),
    commands: [
      "symbols ccxt kraken",
      "download ccxt KRAKEN:BTC/USD -t 1h --from 7",
    ],
    check: ({ url }) => `curl ${url}/0/public/Time`,
  },
  kucoin: {
    title: "KuCoin spot",
    start: exchange(startKucoinEmulator),
    snippet: ccxtSnippet("kucoin"),
    commands: [
      "symbols ccxt kucoin",
      "download ccxt KUCOIN:BTC/USDT -t 1h --from 7",
    ],
    check: ({ url }) => `curl ${url}/api/v1/timestamp`,
  },
  coinbase: {
    title: "Coinbase Advanced Trade",
    start: exchange(startCoinbaseEmulator),
    snippet: ccxtSnippet("coinbase"),
    commands: [
      "symbols ccxt coinbase",
      "download ccxt COINBASE:BTC/USD -t 1h --from 7",
    ],
    check: ({ url }) => `curl ${url}/v2/time`,
  },
  capitalcom: {
    title: "Capital.com",
    start: async (port) => {
      const emu = await startCapitalComEmulator({ port });
      let seen = 0;
      return {
        url: emu.url,
        credentials: emu.credentials,
        close: () => emu.close(),
        drainLog: () => {
          const fresh = emu.requests.slice(seen);
          seen += fresh.length;
          return fresh.map((r) => {
            const q = new URLSearchParams(r.query).toString();
            return `${r.method} ${r.path}${q ? `?${q}` : ""} -> ${r.status}${
              r.errorCode ? ` ${r.errorCode}` : ""
            }`;
          });
        },
      };
    },
    snippet: ({ url, credentials }) => ({
      file: "config/capitalcom.toml",
      // The emulator accepts only its own credentials.
      text: [
        "[capitalcom]",
        `api_key = "${credentials?.apiKey}"`,
        `identifier = "${credentials?.identifier}"`,
        `password = "${credentials?.password}"`,
        `base_url = "${url}"`,
      ].join("\n"),
    }),
    commands: [
      "symbols capitalcom --search usd",
      "download capitalcom EURUSD -t H1 --from 7 --extra-data",
    ],
    note:
      "PYNE_CAPITALCOM_* environment variables win over the file: unset them while you use the emulator.",
    check: ({ url, credentials }) =>
      `curl -H "X-CAP-API-KEY: ${credentials?.apiKey}" ${url}/api/v1/session/encryptionKey`,
  },
};

const USAGE = `Usage: deno task emulator <${
  Object.keys(VENUES).join("|")
}> [--port N] [--log]

Starts a venue emulator on 127.0.0.1 in the foreground (Ctrl-C stops it) and
prints the configuration to point pyne-data at it.

Options:
  --port N   port to listen on (default: a free one)
  --log      print every request the emulator answers
  -h, --help this text`;

/** Runs the tool; resolves with the exit code once the emulator is stopped. */
export async function main(args: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        port: { type: "string" },
        log: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const name = positionals[0]?.toLowerCase();
  const venue = name === undefined ? undefined : VENUES[name];
  if (venue === undefined || positionals.length > 1) {
    console.error(
      `${
        name === undefined
          ? "Which emulator?"
          : positionals.length > 1
          ? `One emulator at a time, got ${positionals.join(" ")}`
          : `Unknown emulator "${positionals[0]}"`
      }\n\n${USAGE}`,
    );
    return 2;
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(
      `--port must be a whole number 0..65535, got "${values.port}"`,
    );
    return 2;
  }

  let emu: Running;
  try {
    emu = await venue.start(port);
  } catch (e) {
    const code = (e as { code?: string }).code;
    console.error(
      code === "EADDRINUSE"
        ? `Port ${port} on 127.0.0.1 is in use; pick another with --port or leave it out`
        : `Cannot start the ${name} emulator: ${(e as Error).message}`,
    );
    return 1;
  }

  const { file, text } = venue.snippet(emu);
  console.log(
    `${venue.title} emulator listening on ${emu.url}  (Ctrl-C stops it)
Check: ${venue.check(emu)}

Paste into ${file} (already has a table of that name? put the keys into it):

${text}
${venue.note ? `\n${venue.note}\n` : ""}
Then try, in another terminal:

${venue.commands.map((c) => `  deno task cli ${c}`).join("\n")}
`,
  );

  const timer = values.log
    ? setInterval(() => {
      for (const line of emu.drainLog()) console.log(`  ${line}`);
    }, 250)
    : undefined;
  await new Promise<void>((resolve) => {
    const signals: NodeJS.Signals[] = process.platform === "win32"
      ? ["SIGINT"]
      : ["SIGINT", "SIGTERM"];
    const stop = () => {
      for (const s of signals) process.off(s, stop);
      resolve();
    };
    for (const s of signals) process.on(s, stop);
  });
  if (timer !== undefined) clearInterval(timer);
  await emu.close();
  console.log("Emulator stopped.");
  return 0;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
