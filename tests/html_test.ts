/**
 * The HTML report in a real browser (Debian's chromium, headless, driven by puppeteer-core): it
 * loads nothing from anywhere, logs no error, every chart has drawn, the tables read without
 * JavaScript; the demo's two runs show the LOOKUP shift (diff row, distributions). A screenshot
 * is written beside the test output (FUSETRACE_TEST_OUT, else a temporary directory).
 */
import puppeteer, { type Page } from "npm:puppeteer-core@^25.0.0";
import {
  builtinRegistry,
  compareCvmfs,
  detectCapabilities,
  emptyRow,
  findRow,
  histogramOf,
  loadRun,
  readCvmfsLatency,
  renderHtml,
  type Report,
  summarize,
  unavailable,
} from "../mod.ts";
import { assert, assertEquals, assertMatch, root, runCli, testMeta } from "./_helpers.ts";

const CHROMIUM = "/usr/bin/chromium";
/** The page's document, in functions puppeteer runs in the page (Deno's types have no DOM). */
// deno-lint-ignore no-explicit-any
declare const document: any;
const OUT = Deno.env.get("FUSETRACE_TEST_OUT") ??
  Deno.makeTempDirSync({ prefix: "fusetrace-html-" });

function run(mount: string, lookupNs: number[], host: string): Report {
  const lookup = emptyRow({ source: "request", mount, plugin: "lookup", operation: "LOOKUP" });
  lookup.count = lookupNs.length;
  lookup.buckets = histogramOf(lookupNs);
  lookup.sumNs = lookupNs.reduce((a, b) => a + b, 0);
  lookup.minNs = Math.min(...lookupNs);
  lookup.maxNs = Math.max(...lookupNs);
  lookup.errors = { 2: 3 };
  const read = { ...lookup, plugin: "read", operation: "READ", errors: {}, bytesOut: 1 << 20 };
  return {
    meta: testMeta(host, 3),
    rows: [lookup, read],
    lostEvents: 0,
    unmatched: 0,
    sections: {
      negative: {
        total: 3,
        enoent: 3,
        zeroNodeid: 0,
        distinct: 1,
        names: [{
          mount,
          parent: "lib",
          parentNode: "5",
          name: "x.py",
          kind: "ENOENT",
          count: 3,
          requesters: [{ pid: 7, comm: "python3", count: 3 }],
        }],
      },
    },
  };
}

const spread = (center: number, n: number) =>
  Array.from({ length: n }, (_, i) => Math.round(center * (0.7 + 0.6 * i / n)));

/** Opens a page from a file in headless Chromium; what it logged and asked for. */
async function open(file: string, js = true) {
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // As root (the tests run as root) Chromium refuses its sandbox.
    args: ["--no-sandbox", "--disable-gpu"],
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1300, height: 900 });
  await page.setJavaScriptEnabled(js);
  const errors: string[] = [];
  const requests: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warn") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.setRequestInterception(true);
  page.on("request", (r) => {
    if (r.url() === `file://${file}`) return void r.continue();
    requests.push(r.url());
    void r.abort();
  });
  await page.goto(`file://${file}`, { waitUntil: "load" });
  return { browser, page, errors, requests };
}

/** Canvases and how many of their pixels are painted. */
function painted(page: Page): Promise<{ canvases: number; charts: number; painted: number[] }> {
  return page.evaluate(() => {
    const cs = [...document.querySelectorAll("canvas")];
    return {
      canvases: cs.length,
      charts: (globalThis as unknown as { fusetraceCharts?: unknown[] }).fusetraceCharts?.length ??
        0,
      // deno-lint-ignore no-explicit-any
      painted: cs.map((c: any) => {
        const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
        return n;
      }),
    };
  });
}

const available = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();

Deno.test("HTML: self-contained (Chart.js inlined, no URL it would load), text escaped", async () => {
  const page = await renderHtml([
    { label: "a</script><b>", report: run("/cvmfs/<x>", spread(200_000, 400), "n1") },
  ]);
  assertMatch(page, /Chart\.js v4/);
  assert(!/<(script|img|link|iframe)[^>]+(src|href)=/i.test(page), "a resource loaded by URL");
  assert(!/url\(\s*['"]?(https?:)?\/\//i.test(page) && !/@import/i.test(page));
  assertEquals(page.match(/<\/script>/g)!.length, 3); // data, Chart.js, the page's script
  assert(page.includes("/cvmfs/&lt;x&gt;") && !page.includes("<x>"));
});

Deno.test({
  name: "HTML in Chromium: no errors, no request, every chart drawn, tables without JavaScript",
  ignore: !available,
  async fn() {
    const file = `${OUT}/two-runs.html`;
    const cvmfs = readCvmfsLatency(
      Deno.readTextFileSync(`${root}tests/testdata/cvmfs_talk_latency.csv`),
      "cvmfs.csv",
    );
    const a = run("/cvmfs/sft.cern.ch", spread(200_000, 400), "n1");
    Deno.writeTextFileSync(
      file,
      await renderHtml([
        { label: "before", report: a },
        { label: "after", report: run("/cvmfs/sft.cern.ch", spread(400_000, 400), "n1") },
      ], {
        plugins: builtinRegistry().all(),
        cvmfs: compareCvmfs(a, cvmfs),
      }),
    );
    const { browser, page, errors, requests } = await open(file);
    try {
      const p = await painted(page);
      assertEquals(errors, []);
      assertEquals(requests, []);
      // Requests and time per operation, and one distribution per timed operation.
      assertEquals(p.canvases, 4);
      assertEquals(p.charts, p.canvases);
      for (const n of p.painted) assert(n > 1000, `a canvas with ${n} painted pixels`);
      const text = await page.evaluate(() => document.body.innerText);
      assertMatch(text, /Diff: before → after/);
      assertMatch(text, /x\.py/); // the negative plugin's table
      assertMatch(text, /CVMFS's own latency/);
      await page.screenshot({ path: `${OUT}/two-runs.png`, fullPage: true });
    } finally {
      await browser.close();
    }
    const nojs = await open(file, false);
    try {
      const rows = await nojs.page.evaluate(() => document.querySelectorAll("td").length);
      assert(rows > 50, `${rows} table cells without JavaScript`);
      assertEquals(nojs.requests, []);
    } finally {
      await nojs.browser.close();
    }
    console.log(`screenshot: ${OUT}/two-runs.png`);
  },
});

const caps = Deno.uid() === 0 ? detectCapabilities() : undefined;

Deno.test({
  name:
    "HTML of the demo's two runs: the LOOKUP shift at a glance (yellow diff row, p50 marks apart)",
  ignore: !available || !caps || !!unavailable("request", caps),
  async fn() {
    const dir = Deno.makeTempDirSync();
    const demo = await runCli(["demo", "--csv", `${dir}/d`]);
    assertEquals(demo.code, 0, demo.stderr);
    const file = `${OUT}/demo.html`;
    const r = await runCli(["report", `${dir}/d_1.csv`, `${dir}/d_2.csv`, "--html", file]);
    assertEquals(r.code, 0, r.stderr);
    const { browser, page, errors, requests } = await open(file);
    try {
      assertEquals(errors, []);
      assertEquals(requests, []);
      const p = await painted(page);
      assertEquals(p.charts, p.canvases);
      for (const n of p.painted) assert(n > 1000);
      // As JSON text: what the page holds, whatever puppeteer makes of its objects.
      const lookup = JSON.parse(
        await page.evaluate(() => {
          // deno-lint-ignore no-explicit-any
          const row = [...document.querySelectorAll("tr")].find((tr: any) =>
            /LOOKUP$/.test(tr.querySelector("td")?.textContent ?? "")
          );
          const charts = (globalThis as unknown as {
            fusetraceCharts: {
              options: {
                plugins: {
                  title: { text: string };
                  marks: { marks: { label: string; pos: number }[] };
                };
              };
            }[];
          }).fusetraceCharts;
          const c = charts.find((x) => x.options.plugins.title.text.startsWith("LOOKUP"))!;
          return JSON.stringify({
            cls: row?.className,
            text: row?.textContent,
            marks: c.options.plugins.marks.marks,
          });
        }),
      ) as { cls: string; text: string; marks: { label: string; pos: number }[] };
      assertEquals(lookup.cls, "yellow", lookup.text);
      const at = (l: string) => {
        const m = lookup.marks.find((x) => x.label?.startsWith(l));
        assert(m, `no ${l} mark: ${JSON.stringify(lookup)}`);
        return m.pos;
      };
      // 200 µs → 600 µs injected, plus this VM's round trip (tens of µs, more on a slow day):
      // the marks as far apart as the p50s are (4 bins per power of two), and clearly apart.
      const p50 = (f: string) => summarize(findRow(loadRun(f), { operation: "LOOKUP" })!).p50;
      const bins = 4 * Math.log2(p50(`${dir}/d_2.csv`) / p50(`${dir}/d_1.csv`));
      assert(bins >= 2, `p50s ${bins} bins apart`);
      assert(Math.abs(at("p50 B") - at("p50 A") - bins) < 1, JSON.stringify(lookup.marks));
      await page.screenshot({ path: `${OUT}/demo.png`, fullPage: true });
    } finally {
      await browser.close();
    }
    // What the page was made from: the demo's runs.
    assertEquals(loadRun(`${dir}/d_1.csv`).rows.length > 0, true);
    Deno.removeSync(dir, { recursive: true });
    console.log(`screenshot: ${OUT}/demo.png`);
  },
});
