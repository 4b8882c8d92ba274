'use client';

import { useEffect, useRef } from 'react';
import type uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  /** One value per time; null where there was no measurement. */
  values: (number | null)[];
  color: string;
}

/**
 * A live time-series chart (uPlot): redrawn in place when new samples arrive. uPlot touches
 * the DOM when loaded, so it is imported in the browser only.
 */
export function TimeChart({
  title,
  times,
  series,
  format,
  height = 160,
}: {
  title: string;
  /** Seconds since the epoch, one per sample. */
  times: number[];
  series: ChartSeries[];
  format: (value: number) => string;
  height?: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const current = useRef({ times, series, format });
  current.current = { times, series, format };
  const shape = series.map((s) => `${s.label}:${s.color}`).join('|');

  useEffect(() => {
    let cancelled = false;
    let observer: ResizeObserver | undefined;
    void import('uplot').then(({ default: UPlot }) => {
      const element = box.current;
      if (cancelled || element === null) return;
      const { series: now, format: fmt } = current.current;
      // The canvas cannot read CSS variables: take the theme's colour as it is now.
      const muted =
        getComputedStyle(document.documentElement).getPropertyValue('--muted').trim() || '#888';
      const axis = {
        stroke: muted,
        grid: { stroke: 'rgba(128,128,128,0.15)' },
        ticks: { stroke: 'rgba(128,128,128,0.25)' },
      };
      plot.current = new UPlot(
        {
          width: element.clientWidth,
          height,
          legend: { show: true, live: false },
          cursor: { drag: { x: false, y: false } },
          scales: {
            x: { time: true },
            y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] },
          },
          axes: [
            axis,
            { ...axis, size: 70, values: (_u, ticks) => ticks.map((tick) => fmt(tick)) },
          ],
          series: [
            {},
            ...now.map((s) => ({
              label: s.label,
              stroke: s.color,
              width: 1.5,
              points: { show: false },
              value: (_u: uPlot, v: number | null) => (v === null ? '–' : fmt(v)),
            })),
          ],
        },
        [current.current.times, ...now.map((s) => s.values)],
        element,
      );
      observer = new ResizeObserver(() => {
        plot.current?.setSize({ width: element.clientWidth, height });
      });
      observer.observe(element);
    });
    return () => {
      cancelled = true;
      observer?.disconnect();
      plot.current?.destroy();
      plot.current = undefined;
    };
  }, [shape, height]);

  useEffect(() => {
    plot.current?.setData([times, ...series.map((s) => s.values)]);
  }, [times, series]);

  const latest = series.map((s) => ({ label: s.label, value: s.values.at(-1) ?? null }));
  return (
    <figure className="min-w-0" data-chart={title} data-samples={times.length}>
      <figcaption className="mb-1 flex flex-wrap items-baseline justify-between gap-x-3 text-sm">
        <span className="font-medium">{title}</span>
        <span className="text-xs text-muted tabular-nums" data-testid="chart-latest">
          {latest
            .filter((l) => l.value !== null)
            .map((l) => `${l.label} ${format(l.value ?? 0)}`)
            .join(' · ')}
        </span>
      </figcaption>
      <div ref={box} role="img" aria-label={`${title} over time`} className="w-full" />
      {times.length === 0 ? <p className="text-xs text-muted">No samples yet.</p> : null}
    </figure>
  );
}
