/** Pictures: training curves of a History as SVG or PNG. */
export { type HistoryLike, type PlotHistoryArgs, historyPng, historySvg, plotHistory } from './plot_history.js';
