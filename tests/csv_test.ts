import { compose } from "../probes/compose.ts";
import { decodeRecorded } from "../probes/decode.ts";
import { UsageError } from "../util/errors.ts";
import { builtinPlugins } from "../plugins/mod.ts";
import {
  checkOutputPath,
  COLUMNS,
  defaultCsvName,
  readCsv,
  writeCsv,
  writeFileAtomic,
} from "../reporters/csv.ts";
import { assert, assertEquals, assertThrows, root } from "./_helpers.ts";

const report = decodeRecorded(
  Deno.readTextFileSync(`${root}tests/testdata/recorded-0.17.ndjson`),
  {
    composed: compose({ version: [0, 17, 0], plugins: builtinPlugins }),
    mountOf: () => '/mnt/a, with "quotes"',
    meta: {
      host: "h",
      kernel: "6.18",
      tool: "fusetrace 0.1.0",
      bpftrace: "0.17.0",
      start: "2026-11-29T00:00:00.000Z",
      durationS: 1.5,
    },
  },
);

Deno.test("CSV round-trips a report exactly", () => {
  const text = writeCsv(report);
  const back = readCsv(text, "a.csv");
  assertEquals(back.meta, report.meta);
  assertEquals(back.rows, report.rows);
  assertEquals(writeCsv(back), text);
});

Deno.test("an empty run still writes its metadata", () => {
  const back = readCsv(writeCsv({ ...report, rows: [] }), "e.csv");
  assertEquals(back.rows, []);
  assertEquals(back.meta.host, "h");
});

Deno.test("malformed CSV files are rejected with file:line and reason", () => {
  const good = writeCsv(report).split("\n");
  const cases: [string, RegExp][] = [
    ["", /^x\.csv: empty file$/],
    ["a,b,c\n1,2,3\n", /^x\.csv:1: not a fusetrace CSV header/],
    [`${good[0]}\n${good[1]}\n1,2\n`, /^x\.csv:3: expected 28 columns, found 2$/],
    [`${good[0]}\n${good[1]!.replace("fusetrace-1", "fusetrace-9")}\n`, /^x\.csv:2: schema/],
    [`${good[0]}\n${good[1]!.replace(/,request,/, ",bogus,")}\n`, /x\.csv:2: unknown source/],
    [
      `${good[0]}\n${good[1]!.replace(/,(\d+),(\d+),0,/, ",many,$2,0,")}\n`,
      /x\.csv:2: count "many"/,
    ],
    [`${good[0]}\n"unterminated\n`, /^x\.csv:\d+: /],
    [`${good[0]}\n`, /^x\.csv: no data rows$/],
  ];
  for (const [text, re] of cases) {
    assertThrows(
      () => readCsv(text, "x.csv"),
      (e: Error) => e instanceof UsageError && re.test(e.message),
    );
  }
  assertEquals(COLUMNS.length, 28);
});

Deno.test("default CSV name is fusetrace_YYYYmmdd-HHMMSS.csv", () => {
  assertEquals(defaultCsvName(new Date(2026, 10, 29, 7, 5, 9)), "fusetrace_20261129-070509.csv");
});

Deno.test("writeFileAtomic replaces regular files whole, writes special files in place", () => {
  const dir = Deno.makeTempDirSync();
  writeFileAtomic(`${dir}/a.csv`, "one");
  writeFileAtomic(`${dir}/a.csv`, "two");
  assertEquals(Deno.readTextFileSync(`${dir}/a.csv`), "two");
  assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["a.csv"], "no temporary file left");
  writeFileAtomic("/dev/null", "discarded");
  assert(Deno.statSync("/dev/null").isCharDevice, "/dev/null is still a device");
  assertThrows(() => writeFileAtomic(`${dir}/no/such/dir.csv`, "x"), /Cannot write/);
  // The old predictable temporary name, planted as a link, is never followed; a link at the target
  // is replaced, not written through.
  Deno.writeTextFileSync(`${dir}/victim`, "keep");
  Deno.symlinkSync(`${dir}/victim`, `${dir}/b.csv.${Deno.pid}.tmp`);
  Deno.symlinkSync(`${dir}/victim`, `${dir}/c.csv`);
  writeFileAtomic(`${dir}/b.csv`, "b");
  writeFileAtomic(`${dir}/c.csv`, "c");
  assertEquals(Deno.readTextFileSync(`${dir}/victim`), "keep");
  assertEquals(Deno.readTextFileSync(`${dir}/c.csv`), "c");
  assert(!Deno.lstatSync(`${dir}/c.csv`).isSymlink);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("checkOutputPath: refused before a run — FIFO, directory, missing directory, empty", () => {
  const dir = Deno.makeTempDirSync();
  const fifo = `${dir}/fifo`;
  new Deno.Command("mkfifo", { args: [fifo] }).outputSync();
  assertThrows(() => checkOutputPath(fifo, "--csv"), /--csv ".*fifo": not a regular file/);
  assertThrows(() => checkOutputPath(dir, "--csv"), /not a regular file/);
  assertThrows(() => checkOutputPath(`${dir}/no/x.csv`, "--csv"), /no such directory/);
  assertThrows(() => checkOutputPath("", "--csv"), /Invalid --csv ""/);
  checkOutputPath(`${dir}/new.csv`, "--csv");
  checkOutputPath("/dev/stdout", "--csv");
  assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["fifo"], "nothing left behind");
  Deno.removeSync(dir, { recursive: true });
});
