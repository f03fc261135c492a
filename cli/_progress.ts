/**
 * A small TTY-aware progress renderer for the CLI: live per-task bars plus an
 * overall line on a terminal, plain lines at a modest rate otherwise.
 * Private to `cli.ts`; it only writes through the `write` callback it gets.
 *
 * @module
 */

/** Options of {@linkcode ProgressRenderer}. */
export interface ProgressRendererOptions {
  /** Receives the text to print (stderr). */
  write: (text: string) => void;
  /** Live redrawing display (stderr is a terminal). */
  tty: boolean;
  /** ANSI colours (a terminal and `NO_COLOR` unset). */
  color: boolean;
  /** Terminal width in columns. @default {100} */
  columns?: number;
  /**
   * Terminal height in rows: the live display stays shorter (finished tasks
   * are folded into one line first), so it never scrolls and tears.
   * @default {24}
   */
  rows?: number;
  /**
   * The terminal's current size, asked before each frame so a resized
   * terminal is followed (the frame then fits the new width and height).
   * @default {the fixed `columns` and `rows`}
   */
  size?: (() => { columns: number; rows: number }) | undefined;
  /** Clock. @default {Date.now} */
  now?: () => number;
  /** Minimum ms between two plain lines of the same task (non-TTY). @default {2000} */
  plainIntervalMs?: number;
  /** Ms between two redraws of the live display. @default {100} */
  redrawMs?: number;
}

/** Progress of one task as the download reports it. */
export interface TaskUpdate {
  /** Candles written so far. */
  candles?: number | undefined;
  /** Open time (ms) of the last candle written. */
  reached?: number | undefined;
  /** Retries so far. */
  retries?: number | undefined;
  /** Share of the range done, 0 to 1 (overrides the estimate from `reached`). */
  fraction?: number | undefined;
}

interface Task {
  id: string;
  label: string;
  from: number | undefined;
  to: number | undefined;
  periodMs: number;
  started: number;
  candles: number;
  reached: number | undefined;
  retries: number;
  fraction: number | undefined;
  state: "running" | "done" | "failed";
  note: string;
  lastPlain: number;
  lastPlainPct: number;
}

/** Formats a count with thousands separators. */
export function fmtInt(n: number): string {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Formats a ms timestamp as `YYYY-MM-DD HH:MM` (UTC). */
export function fmtTime(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "-";
  return new Date(ms).toISOString().slice(0, 16).replace("T", " ");
}

/** Formats a duration in seconds as `1:05`, `1:02:03`. */
export function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** The live (terminal) display currently on screen, if any. */
let active: ProgressRenderer | undefined;

/**
 * Prints a line above the live progress display when one is on screen (so it
 * is not torn), else through `fallback`. Used for the Ctrl-C notice.
 */
export function printAboveProgress(
  line: string,
  fallback: (text: string) => void,
): void {
  if (active) active.log(line);
  else fallback(line.endsWith("\n") ? line : line + "\n");
}

/** Renders per-task and overall progress on stderr. */
export class ProgressRenderer {
  readonly #o: Required<Omit<ProgressRendererOptions, "size">>;
  readonly #size: (() => { columns: number; rows: number }) | undefined;
  readonly #tasks = new Map<string, Task>();
  #drawnLines = 0;
  #columns: number;
  #rows: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;
  readonly #started: number;

  /** Creates a renderer. */
  constructor(options: ProgressRendererOptions) {
    this.#o = {
      columns: 100,
      rows: 24,
      now: Date.now,
      plainIntervalMs: 2000,
      redrawMs: 100,
      ...options,
    };
    this.#size = options.size;
    this.#columns = this.#o.columns;
    this.#rows = this.#o.rows;
    this.#started = this.#o.now();
  }

  /** Registers a task. `from`/`to` (ms) give the time range for percent and ETA. */
  add(
    id: string,
    label: string,
    range: {
      from?: number | undefined;
      to?: number | undefined;
      periodMs?: number;
    },
  ): void {
    const now = this.#o.now();
    this.#tasks.set(id, {
      id,
      label,
      from: range.from,
      to: range.to,
      periodMs: range.periodMs ?? 0,
      started: now,
      candles: 0,
      reached: undefined,
      retries: 0,
      fraction: undefined,
      state: "running",
      note: "",
      lastPlain: 0,
      lastPlainPct: -1,
    });
    if (this.#o.tty && !this.#stopped) active = this;
    if (this.#o.tty && !this.#timer && !this.#stopped) {
      this.#timer = setInterval(() => this.#draw(), this.#o.redrawMs);
      // Never keep the process alive for a redraw.
      (this.#timer as unknown as { unref?: () => void }).unref?.();
      const d = (globalThis as { Deno?: { unrefTimer?: (id: number) => void } })
        .Deno;
      if (typeof this.#timer === "number") d?.unrefTimer?.(this.#timer);
    }
    if (!this.#o.tty) this.#plain(this.#tasks.get(id)!, true);
  }

  /** Sets the time range of a task once it is known (for example after resuming). */
  setRange(id: string, from: number | undefined, to: number | undefined): void {
    const t = this.#tasks.get(id);
    if (!t) return;
    t.from = from;
    t.to = to;
  }

  /** Records progress of a task. */
  update(id: string, update: TaskUpdate): void {
    const t = this.#tasks.get(id);
    if (!t) return;
    if (update.candles !== undefined) t.candles = update.candles;
    if (update.reached !== undefined) t.reached = update.reached;
    if (update.retries !== undefined) t.retries = update.retries;
    if (update.fraction !== undefined && Number.isFinite(update.fraction)) {
      t.fraction = Math.max(0, Math.min(1, update.fraction));
    }
    if (!this.#o.tty) this.#plain(t, false);
  }

  /** Marks a task finished (or failed) with a short note. */
  finish(id: string, ok: boolean, note = ""): void {
    const t = this.#tasks.get(id);
    if (!t) return;
    t.state = ok ? "done" : "failed";
    t.note = note;
    if (!this.#o.tty) this.#plain(t, true);
    else this.#draw();
  }

  /**
   * Prints a line (a diagnostic) without disturbing the display: on a
   * terminal above the live lines, which are then redrawn.
   */
  log(line: string): void {
    const text = line.endsWith("\n") ? line : line + "\n";
    if (!this.#o.tty || this.#stopped || this.#drawnLines === 0) {
      this.#o.write(text);
      return;
    }
    // Up to the display's first line, clear it and everything below, print
    // the line; the display is drawn anew below it (one write, no flicker).
    const out = `\x1b[${this.#drawnLines}A\r\x1b[J` + text;
    this.#drawnLines = 0;
    this.#draw(out);
  }

  /** Stops redrawing; leaves the last frame on screen. */
  stop(): void {
    if (this.#stopped) return;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#o.tty && this.#tasks.size > 0) this.#draw();
    this.#stopped = true;
    if (active === this) active = undefined;
  }

  #pct(t: Task): number | undefined {
    if (t.state === "done") return 100;
    if (t.fraction !== undefined) return t.fraction * 100;
    if (t.from === undefined || t.to === undefined || t.to <= t.from) {
      return undefined;
    }
    if (t.reached === undefined) return 0;
    const end = t.periodMs > 0 ? t.reached + t.periodMs : t.reached;
    const p = ((end - t.from) / (t.to - t.from)) * 100;
    return Math.max(0, Math.min(100, p));
  }

  #rate(t: Task): number {
    const secs = (this.#o.now() - t.started) / 1000;
    return secs > 0.2 ? t.candles / secs : 0;
  }

  #eta(t: Task): number | undefined {
    const pct = this.#pct(t);
    if (pct === undefined || pct <= 0 || t.state !== "running") {
      return undefined;
    }
    const secs = (this.#o.now() - t.started) / 1000;
    return (secs * (100 - pct)) / pct;
  }

  #plain(t: Task, force: boolean): void {
    const now = this.#o.now();
    const pct = this.#pct(t);
    if (!force) {
      if (now - t.lastPlain < this.#o.plainIntervalMs) return;
      if (pct !== undefined && Math.floor(pct) === t.lastPlainPct) return;
    }
    t.lastPlain = now;
    t.lastPlainPct = pct === undefined ? -1 : Math.floor(pct);
    const state = t.state === "running"
      ? (t.candles === 0 && t.reached === undefined ? "start" : "progress")
      : t.state;
    const parts = [
      `${state} ${t.label}`,
      pct === undefined ? undefined : `${pct.toFixed(0)}%`,
      `${fmtInt(t.candles)} candles`,
      t.reached === undefined ? undefined : `reached ${fmtTime(t.reached)}`,
      t.note || undefined,
    ].filter((x) => x !== undefined);
    this.#o.write(parts.join("  ") + "\n");
  }

  #line(t: Task, labelWidth: number): string {
    const c = this.#o.color;
    const green = (s: string) => (c ? `\x1b[32m${s}\x1b[39m` : s);
    const red = (s: string) => (c ? `\x1b[31m${s}\x1b[39m` : s);
    const dim = (s: string) => (c ? `\x1b[2m${s}\x1b[22m` : s);
    const cols = Math.max(40, this.#columns) - 1;
    const pct = this.#pct(t);
    const eta = this.#eta(t);
    const status = t.state === "running"
      ? `ETA ${eta === undefined ? "--:--" : fmtDuration(eta)}`
      : t.state === "done"
      ? `done${t.note ? ` ${t.note}` : ""}`
      : t.note === "interrupted"
      ? "interrupted"
      : `failed${t.note ? ` ${t.note}` : ""}`;
    const pctText = (pct === undefined ? "?" : pct.toFixed(0)).padStart(3) +
      "%";
    const candles = `${fmtInt(t.candles).padStart(9)} candles`;
    const rate = `${fmtInt(this.#rate(t)).padStart(7)}/s`;
    const reached = fmtTime(t.reached);
    // Fit the terminal: narrow the bar, then drop the rate, then the time
    // reached, then shorten the label.
    let showRate = true;
    let showReached = true;
    let barWidth = 20;
    let lw = labelWidth;
    const total = () =>
      lw + 2 + barWidth + 2 + pctText.length + 2 + candles.length +
      (showRate ? 2 + rate.length : 0) +
      (showReached ? 2 + reached.length : 0) +
      2 + status.length;
    if (total() > cols) barWidth = 10;
    if (total() > cols) showRate = false;
    if (total() > cols) showReached = false;
    if (total() > cols) lw = Math.max(12, lw - (total() - cols));
    const label = t.label.length > lw
      ? t.label.slice(0, lw - 1) + "…"
      : t.label.padEnd(lw);
    const filled = pct === undefined ? 0 : Math.round((pct / 100) * barWidth);
    const bar = "█".repeat(filled) + "░".repeat(barWidth - filled);
    return [
      label,
      t.state === "failed" ? red(bar) : green(bar),
      pctText,
      candles,
      showRate ? rate : undefined,
      showReached ? dim(reached) : undefined,
      t.state === "running"
        ? status
        : t.state === "done"
        ? green(status)
        : red(status),
    ].filter((x) => x !== undefined).join("  ");
  }

  #overall(): string {
    let candles = 0;
    let done = 0;
    let failed = 0;
    let interrupted = 0;
    let pctSum = 0;
    let pctN = 0;
    for (const t of this.#tasks.values()) {
      candles += t.candles;
      if (t.state === "done") done++;
      if (t.state === "failed") {
        if (t.note === "interrupted") interrupted++;
        else failed++;
      }
      const p = this.#pct(t);
      if (p !== undefined) {
        pctSum += p;
        pctN++;
      }
    }
    const n = this.#tasks.size;
    const secs = (this.#o.now() - this.#started) / 1000;
    const pct = pctN > 0 ? pctSum / pctN : undefined;
    const ended = done + failed + interrupted;
    const eta = pct !== undefined && pct > 0 && ended < n
      ? fmtDuration((secs * (100 - pct)) / pct)
      : "--:--";
    const parts = [
      `overall: ${done}/${n} done${failed ? `, ${failed} failed` : ""}${
        interrupted ? `, ${interrupted} interrupted` : ""
      }`,
      pct === undefined ? undefined : `${pct.toFixed(0)}%`,
      `${fmtInt(candles)} candles`,
      `${fmtInt(secs > 0.2 ? candles / secs : 0)}/s`,
      `elapsed ${fmtDuration(secs)}`,
      ended < n ? `ETA ${eta}` : undefined,
    ];
    // Narrow terminal: the ETA matters more than the elapsed time and rate.
    const line = () => parts.filter((x) => x !== undefined).join("  ");
    const cols = Math.max(40, this.#columns) - 1;
    if (line().length > cols) parts[4] = undefined;
    if (line().length > cols) parts[3] = undefined;
    return line();
  }

  #draw(prefix = ""): void {
    if (!this.#o.tty || this.#stopped) return;
    if (this.#size) {
      try {
        const { columns, rows } = this.#size();
        if (columns > 0 && rows > 0) {
          this.#columns = columns;
          this.#rows = rows;
        }
      } catch {
        // keep the last known size
      }
    }
    const cols = Math.max(40, this.#columns);
    const all = [...this.#tasks.values()];
    // Never taller than the terminal: fold finished tasks (oldest first) into
    // one line, then running ones, keeping room for the overall line.
    const maxLines = Math.max(3, this.#rows - 2);
    let shown = all;
    let folded = "";
    if (all.length + (all.length > 1 ? 1 : 0) > maxLines) {
      const room = maxLines - 2; // the fold line and the overall line
      const running = all.filter((t) => t.state === "running");
      const finished = all.filter((t) => t.state !== "running");
      const keepFinished = Math.max(0, room - running.length);
      const keep = new Set([
        ...running.slice(0, room),
        ...finished.slice(finished.length - keepFinished),
      ]);
      shown = all.filter((t) => keep.has(t));
      const hiddenDone = finished.length -
        Math.min(keepFinished, finished.length);
      const hiddenRunning = running.length - Math.min(room, running.length);
      folded = [
        hiddenDone > 0 ? `${hiddenDone} more finished` : undefined,
        hiddenRunning > 0 ? `${hiddenRunning} more running` : undefined,
      ].filter((x) => x !== undefined).join(", ") +
        " (all in the summary below)";
    }
    const labelWidth = Math.min(
      32,
      Math.max(...shown.map((t) => t.label.length)),
    );
    const lines = shown.map((t) => this.#line(t, labelWidth));
    if (folded) lines.unshift(`… ${folded}`);
    if (all.length > 1) lines.push(this.#overall());
    // One write per frame, wrapped in a synchronized update (terminals that
    // do not know it ignore it); each line is overwritten in place and then
    // cleared to its end, so nothing blinks.
    let out = "\x1b[?2026h" + prefix;
    if (this.#drawnLines > 0) out += `\x1b[${this.#drawnLines}A`;
    for (const l of lines) {
      out += `\r${truncateVisible(l, cols - 1)}\x1b[K\n`;
    }
    if (lines.length < this.#drawnLines) out += "\x1b[J";
    out += "\x1b[?2026l";
    this.#drawnLines = lines.length;
    this.#o.write(out);
  }
}

const ANSI_AT_START = new RegExp("^\u001b\\[[0-9;]*[A-Za-z]");

/** Truncates a string with ANSI codes to `width` visible characters. */
function truncateVisible(s: string, width: number): string {
  let visible = 0;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "\x1b") {
      const m = ANSI_AT_START.exec(s.slice(i));
      if (m) {
        out += m[0];
        i += m[0].length - 1;
        continue;
      }
    }
    if (visible >= width) continue;
    out += s[i];
    visible++;
  }
  return out;
}
