/** Which children of an open JSON object or array the tree draws: the first ones, more at each "show more". */

/** Children drawn when a level opens; each "show more" doubles what is drawn. */
export const FIRST_CHILDREN = 100;

export interface ShownChildren {
  /** The children drawn, as [key or index, value], in order. */
  readonly entries: readonly (readonly [string, unknown])[];
  readonly total: number;
  /** How many to draw after a "show more"; undefined when every child is drawn. */
  readonly next: number | undefined;
}

/** The first `limit` (default FIRST_CHILDREN) children of `value`; only those are read into entries. */
export function shownChildren(value: object, limit: number = FIRST_CHILDREN): ShownChildren {
  const entries: [string, unknown][] = [];
  let total: number;
  if (Array.isArray(value)) {
    total = value.length;
    for (let index = 0; index < Math.min(limit, total); index++) entries.push([String(index), value[index] as unknown]);
  } else {
    const keys = Object.keys(value);
    total = keys.length;
    for (const key of keys.slice(0, limit)) entries.push([key, (value as Record<string, unknown>)[key]]);
  }
  return { entries, total, next: entries.length < total ? Math.min(total, 2 * Math.max(limit, FIRST_CHILDREN)) : undefined };
}
