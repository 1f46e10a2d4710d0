import { assert, assertEquals, root, spawnUntil, withSquashfs } from "./_helpers.ts";

/** Runs an example; `work` starts once it printed "attached". */
async function example(args: string[], work: () => Promise<unknown>) {
  const t = await spawnUntil(args, "attached");
  await work();
  const o = await t.finish();
  assertEquals(o.status.code, 0, o.stderr);
  return JSON.parse(o.stdout);
}

Deno.test("examples/p99_lookup.ts reads the p99 of LOOKUP as a typed value", async () => {
  await withSquashfs({ dirs: 2, subdirs: 2, filesPerDir: 5 }, async (m) => {
    const r = await example(["examples/p99_lookup.ts", m.mountPoint, "2"], async () => {
      for (const f of m.layout.files) await Deno.stat(`${m.mountPoint}/${f}`);
    });
    assertEquals(r.lookups, 20 + 6);
    assert(r.p99_ns > 0 && r.p99_ns < 1e9, JSON.stringify(r));
  });
});

Deno.test("examples/custom_plugin.ts composes a script-defined plugin with built-ins", async () => {
  await withSquashfs({ dirs: 1, subdirs: 1, filesPerDir: 4 }, async (m) => {
    const r = await example(["examples/custom_plugin.ts", m.mountPoint, "2", "stat"], async () => {
      for (const f of m.layout.files) {
        await new Deno.Command("stat", { args: [`${m.mountPoint}/${f}`], stdout: "null" }).output();
      }
    });
    assertEquals(r.statx, 4, "one statx() per stat(1) run");
    assert(r.p50_ns > 0);
  });
});

Deno.test("a script outside the repository imports mod.ts and a plugin file by path, traces with them", async () => {
  await withSquashfs({ dirs: 1, subdirs: 1, filesPerDir: 3 }, async (m) => {
    const dir = Deno.makeTempDirSync({ prefix: "fusetrace-user-script-" }); // no deno.json here
    Deno.writeTextFileSync(
      `${dir}/my.ts`,
      `import { findRow, traceDuring, writeCsv, readCsv } from "${root}mod.ts";\n` +
        `import readers from "${root}examples/plugins/readers.ts";\n` +
        `const { report } = await traceDuring({ mounts: ["${m.mountPoint}"], plugins: ["lookup", readers] }, async () => {\n` +
        `  for (const f of ${
          JSON.stringify(m.layout.files)
        }) await Deno.readFile("${m.mountPoint}/" + f);\n` +
        `});\n` +
        `const back = readCsv(writeCsv(report), "x.csv");\n` +
        `const reads = report.sections.readers.byCommand.reduce((n, c) => n + c.reads, 0);\n` +
        `console.log(findRow(back, { operation: "LOOKUP" })?.count, reads);\n`,
    );
    const o = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${dir}/my.ts`],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(o.stderr);
    assertEquals(o.code, 0, err);
    assertEquals(
      new TextDecoder().decode(o.stdout).trim(),
      "5 3",
      "LOOKUP: pkg0, lib0 and 3 files; READ: 3 files, counted by the plugin's own probe",
    );
    Deno.removeSync(dir, { recursive: true });
  });
});
