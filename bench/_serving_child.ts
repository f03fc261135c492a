/**
 * A benchmark's emulators in a child process (so their work is not counted
 * as ours): the child prints one line when it serves, runs until its stdin
 * closes, then prints one line of statistics. Private to the benchmarks.
 *
 * @module
 */

/** A running child: its first line, and `stop()` for its last. */
export interface ServingChild {
  /** The line the child printed when it started serving. */
  readonly ready: string;
  /** Closes the child's stdin and returns the line it then printed. */
  stop(): Promise<string>;
}

/** Starts `deno <denoArgs>` and waits for its first line. */
export async function startServingChild(
  denoArgs: readonly string[],
): Promise<ServingChild> {
  const proc = new Deno.Command(Deno.execPath(), {
    args: [...denoArgs],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const line = async (): Promise<string> => {
    while (!buf.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("emulator process ended");
      buf += value;
    }
    const i = buf.indexOf("\n");
    const l = buf.slice(0, i);
    buf = buf.slice(i + 1);
    return l;
  };
  const ready = await line();
  return {
    ready,
    async stop() {
      await proc.stdin.close();
      const last = await line();
      reader.releaseLock();
      await proc.stdout.cancel().catch(() => {});
      await proc.status;
      return last;
    },
  };
}
