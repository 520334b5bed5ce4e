/**
 * Flight plots: a top view and a side view of the trajectory with the gates, lap times, and any
 * extra series (the learning curve). SVG is written by hand (it is just text); PNG goes through
 * resvg, a kept renderer, loaded lazily so the SVG path never needs it.
 */
import type { FlightRecord, RecordedGate } from './record.js';

const LAP_COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b'];

interface Box {
  x0: number;
  y0: number;
  w: number;
  h: number;
}

interface Range {
  min: number;
  max: number;
}

const esc = (s: string): string => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
const f1 = (x: number): string => (Math.round(x * 10) / 10).toString();

function rangeOf(values: number[], pad: number): Range {
  let min = Infinity, max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!Number.isFinite(min)) return { min: -1, max: 1 };
  if (max - min < 1e-6) {
    min -= 1;
    max += 1;
  }
  return { min: min - pad, max: max + pad };
}

/** Map data ranges into a box with equal scale on both axes (metric views must not distort). */
function equalScaler(box: Box, xr: Range, yr: Range): (x: number, y: number) => [number, number] {
  const s = Math.min(box.w / (xr.max - xr.min), box.h / (yr.max - yr.min));
  const ox = box.x0 + (box.w - s * (xr.max - xr.min)) / 2;
  const oy = box.y0 + (box.h - s * (yr.max - yr.min)) / 2;
  return (x, y) => [ox + (x - xr.min) * s, oy + (yr.max - y) * s];
}

function gateTopSegment(g: RecordedGate): [number, number, number, number] {
  // a gate seen from above is a line across its pass direction, outer width long
  const h = g.outerM / 2;
  const lx = -Math.sin(g.yawRad) * h, ly = Math.cos(g.yawRad) * h;
  return [g.centerEnuM[0] - lx, g.centerEnuM[1] - ly, g.centerEnuM[0] + lx, g.centerEnuM[1] + ly];
}

function lapIndexAt(rec: FlightRecord): (tS: number) => number {
  const lapEnds = rec.events.filter((e) => e.kind === 'lap').map((e) => e.tS);
  return (t) => {
    let i = 0;
    while (i < lapEnds.length && t > lapEnds[i]!) i++;
    return i;
  };
}

function polylinesByLap(rec: FlightRecord, map: (x: number, y: number) => [number, number], pick: (s: FlightRecord['samples'][number]) => [number, number]): string {
  const lapOf = lapIndexAt(rec);
  const parts: string[] = [];
  let cur: string[] = [];
  let curLap = -1;
  for (const s of rec.samples) {
    const lap = lapOf(s.tS);
    const [px, py] = map(...pick(s));
    const pt = `${f1(px)},${f1(py)}`;
    if (lap !== curLap) {
      if (cur.length > 1) parts.push(`<polyline fill="none" stroke="${LAP_COLOURS[curLap % LAP_COLOURS.length]}" stroke-width="1.6" points="${cur.join(' ')}"/>`);
      const lastPt = cur[cur.length - 1];
      cur = lastPt ? [lastPt] : [];
      curLap = lap;
    }
    cur.push(pt);
  }
  if (cur.length > 1) parts.push(`<polyline fill="none" stroke="${LAP_COLOURS[Math.max(0, curLap) % LAP_COLOURS.length]}" stroke-width="1.6" points="${cur.join(' ')}"/>`);
  return parts.join('\n');
}

function panelFrame(box: Box, title: string): string {
  return `<rect x="${box.x0}" y="${box.y0}" width="${box.w}" height="${box.h}" fill="#fafafa" stroke="#999"/>\n<text x="${box.x0 + 6}" y="${box.y0 + 16}" font-size="13" font-family="sans-serif" fill="#333">${esc(title)}</text>`;
}

function markers(rec: FlightRecord, map: (x: number, y: number) => [number, number], pick: (p: [number, number, number]) => [number, number]): string {
  const out: string[] = [];
  for (const e of rec.events) {
    if (e.kind !== 'crash') continue;
    const s = nearestSample(rec, e.tS);
    if (!s) continue;
    const [x, y] = map(...pick(s.posEnuM));
    out.push(`<g stroke="#000" stroke-width="2"><line x1="${f1(x - 5)}" y1="${f1(y - 5)}" x2="${f1(x + 5)}" y2="${f1(y + 5)}"/><line x1="${f1(x - 5)}" y1="${f1(y + 5)}" x2="${f1(x + 5)}" y2="${f1(y - 5)}"/></g>`);
  }
  return out.join('\n');
}

function nearestSample(rec: FlightRecord, tS: number): FlightRecord['samples'][number] | undefined {
  let best: FlightRecord['samples'][number] | undefined;
  let bd = Infinity;
  for (const s of rec.samples) {
    const d = Math.abs(s.tS - tS);
    if (d < bd) {
      bd = d;
      best = s;
    }
  }
  return best;
}

function seriesPanel(box: Box, name: string, s: NonNullable<FlightRecord['series']>[string]): string {
  const out = [panelFrame(box, name)];
  if (s.x.length === 0) return out.join('\n');
  const inner: Box = { x0: box.x0 + 45, y0: box.y0 + 26, w: box.w - 60, h: box.h - 52 };
  const xr = rangeOf(s.x, 0), yr = rangeOf(s.y, 0);
  const yPad = (yr.max - yr.min) * 0.1;
  yr.min -= yPad;
  yr.max += yPad;
  const mx = (x: number) => inner.x0 + ((x - xr.min) / (xr.max - xr.min)) * inner.w;
  const my = (y: number) => inner.y0 + inner.h - ((y - yr.min) / (yr.max - yr.min)) * inner.h;
  out.push(`<line x1="${inner.x0}" y1="${inner.y0 + inner.h}" x2="${inner.x0 + inner.w}" y2="${inner.y0 + inner.h}" stroke="#666"/>`);
  out.push(`<line x1="${inner.x0}" y1="${inner.y0}" x2="${inner.x0}" y2="${inner.y0 + inner.h}" stroke="#666"/>`);
  const pts = s.x.map((x, i) => `${f1(mx(x))},${f1(my(s.y[i]!))}`).join(' ');
  out.push(`<polyline fill="none" stroke="#d62728" stroke-width="1.8" points="${pts}"/>`);
  for (let i = 0; i < s.x.length; i++) out.push(`<circle cx="${f1(mx(s.x[i]!))}" cy="${f1(my(s.y[i]!))}" r="2.5" fill="#d62728"/>`);
  out.push(`<text x="${inner.x0 + inner.w / 2}" y="${box.y0 + box.h - 6}" font-size="11" font-family="sans-serif" text-anchor="middle">${esc(s.xLabel)}</text>`);
  out.push(`<text x="${box.x0 + box.w - 8}" y="${box.y0 + 16}" font-size="11" font-family="sans-serif" text-anchor="end">${esc(s.yLabel)}: ${f1(yr.min + yPad)} … ${f1(yr.max - yPad)}</text>`);
  return out.join('\n');
}

/** Render a flight record as an SVG document. */
export function plotSvg(rec: FlightRecord): string {
  const W = 1000;
  const series = Object.entries(rec.series ?? {});
  const H = 620 + (series.length > 0 ? 220 : 0);
  const top: Box = { x0: 10, y0: 40, w: 560, h: 560 };
  const side: Box = { x0: 580, y0: 40, w: 410, h: 300 };
  const info: Box = { x0: 580, y0: 350, w: 410, h: 250 };
  const xs = [...rec.samples.map((s) => s.posEnuM[0]), ...rec.gates.map((g) => g.centerEnuM[0])];
  const ys = [...rec.samples.map((s) => s.posEnuM[1]), ...rec.gates.map((g) => g.centerEnuM[1])];
  const zs = [...rec.samples.map((s) => s.posEnuM[2]), ...rec.gates.map((g) => g.centerEnuM[2] + g.outerM / 2), 0];
  const xr = rangeOf(xs, 2), yr = rangeOf(ys, 2), zr = rangeOf(zs, 0.5);
  const mapTop = equalScaler({ x0: top.x0 + 10, y0: top.y0 + 24, w: top.w - 20, h: top.h - 34 }, xr, yr);
  const mapSide = equalScaler({ x0: side.x0 + 10, y0: side.y0 + 24, w: side.w - 20, h: side.h - 34 }, xr, zr);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="10" y="26" font-size="18" font-family="sans-serif" fill="#111">brainpilot — ${esc(rec.track)} — ${esc(rec.controller)} — seed ${rec.seed}</text>`);
  out.push(panelFrame(top, 'top view (x east, y north, m)'));
  for (const g of rec.mapGates) {
    const [ax, ay, bx, by] = gateTopSegment(g);
    const [x1, y1] = mapTop(ax, ay), [x2, y2] = mapTop(bx, by);
    out.push(`<line x1="${f1(x1)}" y1="${f1(y1)}" x2="${f1(x2)}" y2="${f1(y2)}" stroke="#bbb" stroke-width="4" stroke-dasharray="4 3"/>`);
  }
  for (const g of rec.gates) {
    const [ax, ay, bx, by] = gateTopSegment(g);
    const [x1, y1] = mapTop(ax, ay), [x2, y2] = mapTop(bx, by);
    const [cx, cy] = mapTop(g.centerEnuM[0], g.centerEnuM[1]);
    const [fx, fy] = mapTop(g.centerEnuM[0] + Math.cos(g.yawRad) * 1.2, g.centerEnuM[1] + Math.sin(g.yawRad) * 1.2);
    out.push(`<line x1="${f1(x1)}" y1="${f1(y1)}" x2="${f1(x2)}" y2="${f1(y2)}" stroke="#f07000" stroke-width="5"/>`);
    out.push(`<line x1="${f1(cx)}" y1="${f1(cy)}" x2="${f1(fx)}" y2="${f1(fy)}" stroke="#f07000" stroke-width="1.5"/>`);
    out.push(`<text x="${f1(cx + 6)}" y="${f1(cy - 6)}" font-size="12" font-family="sans-serif" fill="#a04000">${g.index + 1}</text>`);
  }
  out.push(polylinesByLap(rec, mapTop, (s) => [s.posEnuM[0], s.posEnuM[1]]));
  out.push(markers(rec, mapTop, (p) => [p[0], p[1]]));
  out.push(panelFrame(side, 'side view (x east vs z up, m)'));
  const [gx0, gy0] = mapSide(xr.min, 0), [gx1] = mapSide(xr.max, 0);
  out.push(`<line x1="${f1(gx0)}" y1="${f1(gy0)}" x2="${f1(gx1)}" y2="${f1(gy0)}" stroke="#6a4" stroke-width="2"/>`);
  for (const g of rec.gates) {
    const hx = Math.abs(Math.sin(g.yawRad)) * g.outerM / 2 + 0.13;
    const [x1, y1] = mapSide(g.centerEnuM[0] - hx, g.centerEnuM[2] + g.outerM / 2);
    const [x2, y2] = mapSide(g.centerEnuM[0] + hx, g.centerEnuM[2] - g.outerM / 2);
    const ix = Math.abs(Math.sin(g.yawRad)) * g.innerM / 2;
    const [i1, j1] = mapSide(g.centerEnuM[0] - ix, g.centerEnuM[2] + g.innerM / 2);
    const [i2, j2] = mapSide(g.centerEnuM[0] + ix, g.centerEnuM[2] - g.innerM / 2);
    out.push(`<rect x="${f1(x1)}" y="${f1(y1)}" width="${f1(Math.max(1, x2 - x1))}" height="${f1(y2 - y1)}" fill="#f07000" fill-opacity="0.35" stroke="#f07000"/>`);
    out.push(`<rect x="${f1(i1)}" y="${f1(j1)}" width="${f1(Math.max(0.5, i2 - i1))}" height="${f1(j2 - j1)}" fill="#fafafa" stroke="none"/>`);
  }
  out.push(polylinesByLap(rec, mapSide, (s) => [s.posEnuM[0], s.posEnuM[2]]));
  out.push(markers(rec, mapSide, (p) => [p[0], p[2]]));
  out.push(panelFrame(info, 'laps'));
  let y = info.y0 + 40;
  rec.lapTimesS.forEach((t, i) => {
    out.push(`<rect x="${info.x0 + 10}" y="${y - 10}" width="14" height="4" fill="${LAP_COLOURS[i % LAP_COLOURS.length]}"/>`);
    out.push(`<text x="${info.x0 + 30}" y="${y}" font-size="13" font-family="sans-serif">lap ${i + 1}: ${t.toFixed(2)} s</text>`);
    y += 20;
  });
  const crashes = rec.events.filter((e) => e.kind === 'crash');
  if (crashes.length > 0) out.push(`<text x="${info.x0 + 10}" y="${y}" font-size="13" font-family="sans-serif" fill="#b00">crash: ${esc(String(crashes[0]!['cause']))} at t = ${crashes[0]!.tS.toFixed(2)} s</text>`);
  y += 24;
  out.push(`<text x="${info.x0 + 10}" y="${y}" font-size="11" font-family="sans-serif" fill="#666">orange: gates as they stand; dashed grey: the prior map</text>`);
  series.forEach(([name, s], i) => {
    const w = (W - 20) / series.length;
    out.push(seriesPanel({ x0: 10 + i * w, y0: 615, w: w - 10, h: 210 }, name, s));
  });
  out.push('</svg>');
  return out.join('\n');
}

/** Rasterise an SVG to PNG bytes (resvg). */
export async function svgToPng(svg: string, widthPx = 1000): Promise<Buffer> {
  const { Resvg } = await import('@resvg/resvg-js');
  const r = new Resvg(svg, { fitTo: { mode: 'width', value: widthPx }, background: '#ffffff' });
  return Buffer.from(r.render().asPng());
}
