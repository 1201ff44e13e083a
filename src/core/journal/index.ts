export { Journal, type JournalOptions } from './journal.js';
export { JournalReader, pathMatcher, type PathStats } from './reader.js';
export { timeline, timelineStats, callTimeNs, type TimelineEvent, type TimelineQuery, type TimelineStats } from './timeline.js';
export { JOURNAL_SCHEMA, JOURNAL_OPS, type JournalOp } from './schema.js';
export type { JournalEntry, JournalFilter } from './types.js';
export { exactNs } from './exact-ns.js';
export { JournalPages, type WindowQuery, type WindowPage, type PathFigures } from './pages.js';
