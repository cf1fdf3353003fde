/**
 * How a nested checkpoint maps onto safetensors' flat tensor names, and back.
 *
 * Tensors are stored under their path joined by "." ("encoder.layers.0.weight"; a second path that joins to a
 * taken name gets "~2", "~3" …). The exact nesting, key order and the scalar leaves are kept as JSON in the
 * header's `__metadata__["opencrate.layout"]`:
 *   node = ["tensor", flatName] | ["value", scalarOrArrayOfScalars] | ["tree", [[key, node], …]]
 * so keys that contain "." come back as they were. A file without it loads as a flat { name: tensor }.
 */
import type { CheckpointScalar, CheckpointTree, CheckpointValue, Tensor } from "../data-types.ts";
import { shortLocation } from "../failures.ts";
import { METADATA_KEY } from "./safetensors.ts";

export const LAYOUT_KEY = "opencrate.layout";
/**
 * The deepest nesting of objects a checkpoint may have (the top level is 1): save refuses more. Save walks the
 * value recursively, and this keeps well inside the call stack; loads walk stored layouts with explicit stacks.
 */
export const MAX_CHECKPOINT_DEPTH = 1000;
/** The deepest stored layout a load takes: more than a save allows, since earlier releases saved up to about 1,460. */
const MAX_STORED_CHECKPOINT_DEPTH = 1500;

export type LayoutNode =
  | readonly ["tensor", string]
  | readonly ["value", CheckpointScalar | readonly CheckpointScalar[]]
  | readonly ["tree", readonly (readonly [string, LayoutNode])[]];

export interface FlattenedTensor {
  readonly name: string;
  /** Where it sits in the tree, for messages. */
  readonly path: readonly string[];
  readonly tensor: Tensor;
}

/** A problem with the value given to save, with its location ("model.weight"). */
export class LayoutInputProblem extends Error {}
/** A stored layout that does not parse or does not match the tensors; the handler reports corrupt data. */
export class LayoutStoredProblem extends Error {}

export function isTensorShaped(value: unknown): value is Tensor {
  return typeof value === "object" && value !== null && "dtype" in value && "shape" in value && "data" in value;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** The layout of `tree` and its tensors in order, each with a unique flat name. */
export function flattenTree(tree: CheckpointTree): { layout: LayoutNode; tensors: FlattenedTensor[] } {
  const tensors: FlattenedTensor[] = [];
  // The metadata key is reserved in the header, so a tensor at that path is renamed like any collision.
  const taken = new Set<string>([METADATA_KEY]);
  const ancestors = new Set<object>();

  const visit = (value: unknown, path: readonly string[]): LayoutNode => {
    const where = path.length === 0 ? "the top level" : JSON.stringify(path.join("."));
    if (isTensorShaped(value)) {
      const joined = path.join(".");
      let name = joined;
      for (let suffix = 2; taken.has(name); suffix++) name = `${joined}~${suffix}`;
      taken.add(name);
      tensors.push({ name, path, tensor: value });
      return ["tensor", name];
    }
    if (isScalar(value)) return ["value", checkScalar(value, where)];
    if (Array.isArray(value)) {
      value.forEach((item, index) => {
        if (!isScalar(item)) throw new LayoutInputProblem(`${where}[${index}] must be a string, number, boolean or null; arrays may only hold scalars.`);
        checkScalar(item, `${where}[${index}]`);
      });
      return ["value", [...(value as CheckpointScalar[])]];
    }
    if (isPlainObject(value)) {
      if (ancestors.has(value)) throw new LayoutInputProblem(`${where} is a circular reference.`);
      if (path.length >= MAX_CHECKPOINT_DEPTH) {
        throw new LayoutInputProblem(
          `${shortLocation(where)} is nested more than ${MAX_CHECKPOINT_DEPTH} levels deep; checkpoints take at most ${MAX_CHECKPOINT_DEPTH} levels of nested objects.`,
        );
      }
      ancestors.add(value);
      const entries = Object.entries(value).map(([key, child]) => [key, visit(child, [...path, key])] as const);
      ancestors.delete(value);
      return ["tree", entries];
    }
    throw new LayoutInputProblem(`${where} must be a tensor { dtype, shape, data }, a nested object, a JSON scalar or an array of scalars.`);
  };

  return { layout: visit(tree, []), tensors };
}

/** A location for a message, cut short when a deep path would make it long. */
function isScalar(value: unknown): value is CheckpointScalar {
  return value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}

function checkScalar(value: CheckpointScalar, where: string): CheckpointScalar {
  if (typeof value === "number" && !Number.isFinite(value)) throw new LayoutInputProblem(`${where} is ${value}, which JSON cannot hold.`);
  return value;
}

/** A flat layout for a file opencrate did not write: one entry per tensor, in header order. */
export function flatLayout(names: readonly string[]): LayoutNode {
  return ["tree", names.map((name) => [name, ["tensor", name]] as const)];
}

/**
 * Parses a stored layout and checks that it only names tensors the file has. The walk keeps its own stack rather
 * than recursing, so the deepest layout it takes loads however little call stack the caller has left; it checks
 * nodes in the order a recursive walk would (depth first, entries in order), so the first problem is the one named.
 */
export function parseLayout(json: string, tensorNames: ReadonlySet<string>): LayoutNode {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new LayoutStoredProblem(`${LAYOUT_KEY} is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  /** A tree node being checked: its entries so far, and the key of the entry whose subtree is checked meanwhile. */
  interface Open {
    readonly body: readonly unknown[];
    /** The objects this tree sits in (0 for the top level). */
    readonly depth: number;
    readonly entries: (readonly [string, LayoutNode])[];
    next: number;
    pendingKey: string;
  }
  /** A checked leaf, or a tree to walk. */
  const open = (node: unknown, depth: number): LayoutNode | Open => {
    if (!Array.isArray(node) || node.length !== 2) throw new LayoutStoredProblem(`${LAYOUT_KEY} has a malformed node.`);
    const [kind, body] = node as [unknown, unknown];
    if (kind === "tensor" && typeof body === "string") {
      if (!tensorNames.has(body)) throw new LayoutStoredProblem(`${LAYOUT_KEY} names the tensor ${JSON.stringify(body)}, which the header lacks.`);
      return ["tensor", body];
    }
    if (kind === "value") {
      const scalars = Array.isArray(body) ? body : [body];
      if (!scalars.every(isScalar)) throw new LayoutStoredProblem(`${LAYOUT_KEY} has a value that is not a scalar or an array of scalars.`);
      return ["value", body as CheckpointScalar | CheckpointScalar[]];
    }
    if (kind === "tree" && Array.isArray(body)) {
      if (depth >= MAX_STORED_CHECKPOINT_DEPTH) {
        throw new LayoutStoredProblem(`${LAYOUT_KEY} nests objects more than ${MAX_STORED_CHECKPOINT_DEPTH} levels deep, more than any checkpoint saved by opencrate.`);
      }
      return { body: body as unknown[], depth, entries: [], next: 0, pendingKey: "" };
    }
    throw new LayoutStoredProblem(`${LAYOUT_KEY} has a node of unknown kind ${JSON.stringify(kind)}.`);
  };
  const isOpen = (value: LayoutNode | Open): value is Open => !Array.isArray(value);

  const first = open(parsed, 0);
  let root: LayoutNode | undefined = isOpen(first) ? undefined : first;
  const stack: Open[] = isOpen(first) ? [first] : [];
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as Open;
    if (top.next === top.body.length) {
      stack.pop();
      const done: LayoutNode = ["tree", top.entries];
      const parent = stack[stack.length - 1];
      if (parent === undefined) root = done;
      else parent.entries.push([parent.pendingKey, done]);
      continue;
    }
    const entry: unknown = top.body[top.next++];
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== "string") {
      throw new LayoutStoredProblem(`${LAYOUT_KEY} has a malformed entry.`);
    }
    const key = entry[0];
    const child = open(entry[1], top.depth + 1);
    if (isOpen(child)) {
      top.pendingKey = key;
      stack.push(child);
    } else {
      top.entries.push([key, child]);
    }
  }
  if (root === undefined || root[0] !== "tree") throw new LayoutStoredProblem(`${LAYOUT_KEY} does not describe an object.`);
  return root;
}

/**
 * The part of the layout that `keys` select (everything when `keys` is undefined). A key selects a node when it
 * equals the node's "."-joined path or a tensor's flat name, or is a "."-bounded prefix of either (so "encoder"
 * selects "encoder.w" in a flat foreign file too); everything below a selected node comes with it.
 * Returns the pruned layout and the keys that matched nothing.
 */
export function selectLayout(layout: LayoutNode, keys: readonly string[] | undefined): { layout: LayoutNode; unmatched: string[] } {
  if (keys === undefined) return { layout, unmatched: [] };
  const wanted = new Set(keys);
  const matched = new Set<string>();

  /** Marks and reports the wanted keys that are `text` or a "."-bounded prefix of it. */
  const matches = (text: string): boolean => {
    let found = false;
    for (let end = text.indexOf("."); ; end = text.indexOf(".", end + 1)) {
      const candidate = end === -1 ? text : text.slice(0, end);
      if (wanted.has(candidate)) {
        matched.add(candidate);
        found = true;
      }
      if (end === -1) return found;
    }
  };

  // Walked with an explicit stack, like parseLayout, in the same order a recursive walk takes. `path`: the node's
  // "."-joined path, undefined at the top level.
  interface Open {
    readonly children: readonly (readonly [string, LayoutNode])[];
    readonly path: string | undefined;
    readonly selected: boolean;
    readonly entries: (readonly [string, LayoutNode])[];
    next: number;
  }
  /** Whether the node is selected, and for a tree, the frame to walk its children in. */
  const open = (node: LayoutNode, path: string | undefined, inherited: boolean): { selected: boolean; frame?: Open } => {
    let selected = inherited;
    if (path !== undefined && matches(path)) selected = true;
    if (node[0] === "tensor" && matches(node[1])) selected = true;
    if (node[0] !== "tree") return { selected };
    return { selected, frame: { children: node[1], path, selected, entries: [], next: 0 } };
  };
  const close = (frame: Open): LayoutNode | undefined => (frame.selected || frame.entries.length > 0 ? ["tree", frame.entries] : undefined);

  let pruned: LayoutNode | undefined;
  const top = open(layout, undefined, false);
  if (top.frame === undefined) pruned = top.selected ? layout : undefined;
  const stack: Open[] = top.frame === undefined ? [] : [top.frame];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1] as Open;
    if (frame.next === frame.children.length) {
      stack.pop();
      const kept = close(frame);
      const parent = stack[stack.length - 1];
      if (parent === undefined) pruned = kept;
      else if (kept !== undefined) parent.entries.push([(parent.children[parent.next - 1] as readonly [string, LayoutNode])[0], kept]);
      continue;
    }
    const [key, child] = frame.children[frame.next++] as readonly [string, LayoutNode];
    const opened = open(child, frame.path === undefined ? key : `${frame.path}.${key}`, frame.selected);
    if (opened.frame !== undefined) stack.push(opened.frame);
    else if (opened.selected) frame.entries.push([key, child]);
  }

  pruned ??= ["tree", []];
  return { layout: pruned, unmatched: keys.filter((key) => !matched.has(key)) };
}

/** The tensor names a layout refers to, in layout order. */
export function tensorNamesOf(layout: LayoutNode): string[] {
  const names: string[] = [];
  // Children are pushed last-first, so they come off the stack in layout order.
  const stack: LayoutNode[] = [layout];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (node[0] === "tensor") names.push(node[1]);
    else if (node[0] === "tree") for (let index = node[1].length - 1; index >= 0; index--) stack.push((node[1][index] as readonly [string, LayoutNode])[1]);
  }
  return names;
}

/** Rebuilds the nested object from a layout and the loaded tensors (an explicit stack, as parseLayout walks). */
export function buildTree(layout: LayoutNode, tensors: ReadonlyMap<string, Tensor>): CheckpointValue {
  const leaf = (node: Exclude<LayoutNode, readonly ["tree", unknown]>): CheckpointValue => {
    if (node[0] === "tensor") return tensors.get(node[1]) as Tensor;
    const value = node[1];
    return Array.isArray(value) ? [...(value as CheckpointScalar[])] : (value as CheckpointScalar);
  };
  if (layout[0] !== "tree") return leaf(layout);
  const root: Record<string, CheckpointValue> = {};
  // Each object gets its entries in layout order; an object is placed in its parent before it is filled.
  const stack: (readonly [Record<string, CheckpointValue>, LayoutNode])[] = [[root, layout]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [tree, node] = item;
    if (node[0] !== "tree") continue;
    for (const [key, child] of node[1]) {
      let value: CheckpointValue;
      if (child[0] === "tree") {
        const inner: Record<string, CheckpointValue> = {};
        stack.push([inner, child]);
        value = inner;
      } else {
        value = leaf(child);
      }
      // defineProperty: a key such as "__proto__" must become an own entry, not the prototype.
      Object.defineProperty(tree, key, { value, enumerable: true, writable: true, configurable: true });
    }
  }
  return root;
}
