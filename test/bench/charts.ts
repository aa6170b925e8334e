// The benchmark's charts: vega-lite specs compiled to vega and rendered to
// SVG headless (no canvas: vega's SVG renderer estimates text widths).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

type Point = Record<string, number | null>;

/** One line per series (every key of the points but `x`), a point per row. */
async function lineChart(file: string, points: Point[], x: string, xTitle: string, yTitle: string, title: string, note: string, xScale: "linear" | "log" = "linear"): Promise<void> {
  const values = points.flatMap((p) =>
    Object.entries(p)
      .filter(([k, v]) => k !== x && v !== null)
      .map(([series, v]) => ({ x: p[x], y: v, series })),
  );
  const spec: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: title, subtitle: note },
    width: 520,
    height: 300,
    background: "white",
    data: { values },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "x", type: "quantitative", title: xTitle, scale: { type: xScale } },
      y: { field: "y", type: "quantitative", title: yTitle },
      color: { field: "series", type: "nominal", title: "" },
    },
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  writeFileSync(file, await view.toSVG());
}

export async function renderCharts(o: {
  layerSeries: { layers: number; fhs: number | null; newRoot: number | null; floor: number | null; viewFloor: number | null; bwrap: number | null }[];
  depthSeries: { depth: number; fhs: number | null; newRoot: number | null; floor: number | null }[];
  dir: string;
  note: string;
}): Promise<void> {
  const rename = (p: Record<string, number | null>) => ({ ...p, "fhs wrapper (the policy's choice)": p.fhs ?? null, "fhs wrapper, new root": p.newRoot ?? null, "kernel floor (in place)": p.floor ?? null, ...("viewFloor" in p ? { "view floor (the in-place view's mounts alone)": p.viewFloor ?? null } : {}), ...("bwrap" in p ? { "bubblewrap 0.12": p.bwrap ?? null } : {}), fhs: undefined, newRoot: undefined, floor: undefined, viewFloor: undefined, bwrap: undefined });
  const clean = (p: Record<string, unknown>) => Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as Point;
  await lineChart(join(o.dir, "layers.svg"), o.layerSeries.map((p) => clean(rename(p))), "layers", "layers in the view", "overhead over a direct exec (ms, median)", "Launch overhead against layer count", o.note, "log");
  await lineChart(join(o.dir, "depth.svg"), o.depthSeries.map((p) => clean(rename(p))), "depth", "nesting depth (launches, each in the previous view)", "overhead over a direct exec (ms, median)", "Launch overhead against nesting depth", o.note);
}
