/**
 * Builds @pyne/data the way JSR builds the npm package it serves to Node
 * (`npx jsr add @pyne/data`): every module reachable from deno.json's
 * "exports" transpiled to JavaScript one file at a time (TypeScript's
 * `transpileModule`, no bundling, relative `.ts` specifiers rewritten to
 * `.js`), the npm packages of deno.json's "imports" as `dependencies`, and a
 * package.json whose "exports" mirror deno.json's. No type declarations (the
 * Node suite only runs the code).
 *
 * ```sh
 * node tests/node/build_jsr_npm.ts OUT_DIR
 * ```
 *
 * Run by Node 22 or later (it strips this file's types); needs `typescript`
 * from tests/node/package.json.
 *
 * @module
 */

import {
  cpSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative } from "node:path";
import process from "node:process";
import ts from "typescript";

const ROOT = new URL("../../", import.meta.url).pathname;
const out = process.argv[2];
if (!out) throw new Error("usage: node tests/node/build_jsr_npm.ts OUT_DIR");

interface DenoJson {
  name: string;
  version: string;
  exports: Record<string, string>;
  imports: Record<string, string>;
}
const deno = JSON.parse(
  readFileSync(join(ROOT, "deno.json"), "utf8"),
) as DenoJson;

/** `npm:csv-parse@6.2.0/sync` → `["csv-parse", "6.2.0"]`. */
function npmDependency(spec: string): [string, string] {
  const m = /^npm:((?:@[^/]+\/)?[^@/]+)@([^/]+)/.exec(spec);
  if (!m) throw new Error(`deno.json import ${spec} is not an npm: package`);
  return [m[1]!, m[2]!];
}

/** Every module reachable from `entry` through static and dynamic relative imports. */
function moduleGraph(entries: string[]): Set<string> {
  const seen = new Set<string>();
  const todo = [...entries];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const { importedFiles } = ts.preProcessFile(
      readFileSync(file, "utf8"),
      true,
      true,
    );
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith(".")) continue;
      const target = join(dirname(file), fileName);
      if (target.endsWith(".ts")) todo.push(target);
    }
  }
  return seen;
}

const options: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022, // lowers `await using` for Node 22
  module: ts.ModuleKind.ESNext,
  rewriteRelativeImportExtensions: true,
  useDefineForClassFields: true,
};

rmSync(out, { recursive: true, force: true });
const files = moduleGraph(
  Object.values(deno.exports).map((p) => join(ROOT, p)),
);
for (const file of files) {
  const rel = relative(ROOT, file);
  const { outputText, diagnostics } = ts.transpileModule(
    readFileSync(file, "utf8"),
    { compilerOptions: options, fileName: rel, reportDiagnostics: true },
  );
  if (diagnostics && diagnostics.length > 0) {
    throw new Error(
      `${rel}: ${
        ts.flattenDiagnosticMessageText(diagnostics[0]!.messageText, "\n")
      }`,
    );
  }
  if (
    /from\s+["']\.{1,2}\/[^"']*\.ts["']|import\(["']\.{1,2}\/[^"']*\.ts["']\)/
      .test(outputText)
  ) {
    throw new Error(`${rel}: a .ts specifier was left in the output`);
  }
  const dest = join(out, rel.replace(/\.ts$/, ".js"));
  mkdirSync(dirname(dest), { recursive: true });
  writeFileSync(dest, outputText);
}
// cli.ts reads its version from deno.json (a JSON import); the docs go along.
for (const extra of ["deno.json", "README.md", "LICENSE"]) {
  if (statSync(join(ROOT, extra), { throwIfNoEntry: false })) {
    cpSync(join(ROOT, extra), join(out, extra));
  }
}

const exports: Record<string, string> = {};
for (const [key, path] of Object.entries(deno.exports)) {
  exports[key] = path.replace(/\.ts$/, ".js");
}
const dependencies: Record<string, string> = {};
for (const spec of Object.values(deno.imports)) {
  const [name, version] = npmDependency(spec);
  dependencies[name] = version;
}
const scope = deno.name.slice(1).replace("/", "__");
writeFileSync(
  join(out, "package.json"),
  JSON.stringify(
    {
      name: `@jsr/${scope}`,
      version: deno.version,
      type: "module",
      exports,
      dependencies,
    },
    null,
    2,
  ) + "\n",
);
console.log(
  `built @jsr/${scope}@${deno.version}: ${files.size} modules in ${out}`,
);
