/**
 * Process figures of the fuzz bench read from `/proc/self` (Linux, needs
 * `--allow-all`): the peak resident set size and the open descriptors.
 *
 * @module
 */

/** Peak resident set size of this process (VmHWM; needs `--allow-all`), else undefined. */
export function peakRssFromProc(): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(
      Deno.readTextFileSync("/proc/self/status"),
    );
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * How many open descriptors point into `dir` (the trials' files), or
 * undefined when `/proc/self/fd` cannot be read (needs `--allow-all`).
 */
export function openFilesUnder(dir: string): number | undefined {
  try {
    let n = 0;
    for (const e of Deno.readDirSync("/proc/self/fd")) {
      try {
        if (Deno.readLinkSync(`/proc/self/fd/${e.name}`).startsWith(dir)) n++;
      } catch {
        // closed meanwhile
      }
    }
    return n;
  } catch {
    return undefined;
  }
}

/** How many descriptors this process holds open, or undefined when not measurable. */
export function countFds(): number | undefined {
  try {
    return [...Deno.readDirSync("/proc/self/fd")].length;
  } catch {
    return undefined;
  }
}
