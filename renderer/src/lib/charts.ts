// Shapes shared by the chart component and the screens that feed it.
import type { Series } from '../../../preload/contract';

/** One line of a chart: its legend label, its points, its colour, dashed for validation. */
export type Line = { label: string; series: Series | undefined; colour: string; dash?: boolean };

/** Distinct colours for overlaid runs. */
export const RUN_COLOURS = ['#5b9dff', '#ff9f43', '#4cc38a', '#e056fd', '#ff6b6b', '#feca57', '#48dbfb', '#c8d6e5'];
